"""Sync debris (conflicted copies, temp names, renamed copies) appearing while a swarm works.

A sync service (Dropbox, Syncthing, OneDrive, Google Drive) and crashed writers leave files
beside the records: ``name (conflicted copy …)``, ``name.sync-conflict-…``, ``name (1)``,
``.name.tmp-…``, ``name~``, OneDrive's ``name-HOST.ext``, and whole folders copied the same
way, holding whole, truncated or garbage copies of records. Here a thread leaves such debris
beside every file of a live swarm's folder, as fast as the swarm writes, while two serving
peers run a client's calls: every value must be right, each call must run once (no debris is
taken for a request, a claim or a result), no peer's loop may fail on it, and ``pythagoras
status`` must still read the folder.

Elsewhere: partial arrivals (a record delivered truncated, then whole) and conflict copies
between two replicas of a synced folder with peers on each are ``tests/syncfolder/``; debris
names hidden from listings are ``tests/storage/test_local_store.py::
test_debris_is_not_listed_and_does_not_break_reads``, ``tests/storage/_store_contract.py::
test_debris_named_keys_are_not_listed`` and ``tests/storage/test_fsspec_store.py::
test_sync_debris_beside_objects_is_not_listed``; renamed request keys are
``tests/swarm/test_protocol.py::test_names_pythagoras_did_not_write_are_no_requests``.
"""

from __future__ import annotations

import os
import random
import threading
from pathlib import Path

import _fault_functions as fx
import child_processes
import execution_log
import pytest
from _fault_checks import folder_state
from _fault_swarm import seed_from_environment

import pythagoras
from pythagoras import PythagorasExecutor
from pythagoras.storage.base import is_debris
from pythagoras.storage.plugins import open_store

pytestmark = pytest.mark.timeout(120)

TIMEOUT = 60.0
CALLS = 60


def debris_names(name: str, rng: random.Random) -> list[str]:
    stem, dot, ext = name.partition(".")
    return rng.sample([
        f"{name} (conflicted copy 2026-01-02)",  # Dropbox
        f"{stem}.sync-conflict-20260102-101010-ABCDEFG{dot}{ext}",  # Syncthing
        f"{name} (1)",  # Google Drive, OneDrive
        f".{name}.tmp-otherhost-4242-0123abcd",  # a pythagoras writer that crashed
        f"{name}~",  # an editor's backup
        f"{stem}-OTHERHOST{dot}{ext}",  # OneDrive keeps both copies, renaming one
    ], 2)


class DebrisMaker(threading.Thread):
    """Leaves debris beside every file and folder of the swarm's folder, until stopped."""

    def __init__(self, root: Path, rng: random.Random) -> None:
        super().__init__(name="debris", daemon=True)
        self.root, self.rng = root, rng
        self.stop = threading.Event()
        self.seen: set[Path] = set()
        self.made = 0
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            while not self.stop.wait(0.01):
                self.sweep()
        except BaseException as e:  # noqa: BLE001 -- reported by the test
            self.error = e

    def sweep(self) -> None:
        for directory, folders, names in os.walk(self.root):
            folders[:] = [f for f in folders if not is_debris(f) and "OTHERHOST" not in f]
            for name in names:
                path = Path(directory, name)
                if path in self.seen or is_debris(name) or "OTHERHOST" in name:
                    continue
                self.seen.add(path)
                try:
                    data = path.read_bytes()
                except OSError:  # retired meanwhile
                    continue
                for debris in debris_names(name, self.rng):
                    kind = self.rng.choice(["whole", "truncated", "garbage"])
                    content = {"whole": data, "truncated": data[: len(data) // 3],
                               "garbage": bytes(self.rng.randrange(256) for _ in range(64))}[kind]
                    try:
                        Path(directory, debris).write_bytes(content)
                        self.made += 1
                    except OSError:  # its folder was removed meanwhile
                        pass
            for folder in folders:  # a folder copied whole by a sync service, once
                path = Path(directory, folder)
                if path not in self.seen and self.rng.random() < 0.3:
                    self.seen.add(path)
                    copy = Path(directory, f"{folder} (conflicted copy 2026-01-02)")
                    copy.mkdir(exist_ok=True)
                    (copy / "0123456789abcdef0123456789abcdef").write_bytes(b"PYTG\x01R")
                    self.made += 1


def test_debris_appearing_while_peers_work_is_never_taken_for_a_record(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setenv(execution_log.VARIABLE, str(tmp_path / "executions.jsonl"))
    seed = seed_from_environment()
    folder = tmp_path / "swarm"
    maker = DebrisMaker(folder, random.Random(seed))
    servers = [PythagorasExecutor(folder, max_workers=1) for _ in range(2)]
    client = PythagorasExecutor(folder, max_workers=0)
    maker.start()
    try:
        futures = [client.submit(fx.nap, x, 0.02) for x in range(CALLS)]
        assert [f.result(timeout=TIMEOUT) for f in futures] == [fx.answer(x) for x in range(CALLS)]
        # And again, read back from the results among their copies.
        assert [client.submit(fx.nap, x, 0.02).result(timeout=TIMEOUT) for x in range(CALLS)] == [
            fx.answer(x) for x in range(CALLS)]
    finally:
        maker.stop.set()
        maker.join(10)
        for executor in (client, *servers):
            executor.shutdown(wait=True, cancel_futures=True)
    assert maker.error is None, maker.error
    assert maker.made > 100, f"only {maker.made} pieces of debris (seed {seed})"
    runs = sorted(e["x"] for e in execution_log.calls())
    assert runs == list(range(CALLS)), f"calls run other than once each (seed {seed}): {runs}"
    complaints = [r.getMessage() for r in caplog.records
                  if "error in its loop" in r.getMessage() or "exception calling callback" in r.getMessage()]
    assert not complaints, complaints

    keys = list(open_store(folder).list(""))
    assert not [k for k in keys if any(is_debris(part) for part in k.split("/"))]
    # Every record pythagoras wrote is whole (OneDrive's renamed copies have names a record
    # might have, but no reader looks them up: they are copies, whole or not).
    corrupt = [k for k in folder_state(folder).corrupt if "OTHERHOST" not in k]
    assert not corrupt, corrupt
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(Path(pythagoras.__file__).resolve().parents[1]),
                                                      env.get("PYTHONPATH")]))
    status = child_processes.run(["-m", "pythagoras", "status", "--json", str(folder)],
                                 timeout=60, env=env, cwd=tmp_path)
    assert status.returncode == 0, status.stderr
