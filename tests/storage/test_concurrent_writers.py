"""Eight real processes write, read and claim the same keys of one LocalFolderStore at once.

Modelled on filelock's ``tests/test_strict_soft_stress.py``: the peers are subprocesses in
their own sessions, released together by a start file, each checking invariants as it goes
(no torn read, read-your-writes on its own key) and reporting on stdout; the parent checks
the shared ones (one winner per claim, no temp file left). A hard deadline bounds it all and
every peer's process group is killed on the way out.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import child_processes
import pytest

import pythagoras
from pythagoras.records.frames import unframe
from pythagoras.storage.local import LocalFolderStore

PEERS = 8
ROUNDS = 100
SHARED_KEYS = [f"shared/k{i}" for i in range(3)]
DEADLINE = 60.0  # seconds for the whole test; only a hang reaches it
HELPER = Path(__file__).with_name("_peer_writer.py")
KIND = b"T"


def _peer_env() -> dict[str, str]:
    """The environment for a peer: it must import the same pythagoras as this process."""
    env = dict(os.environ)
    source_root = str(Path(pythagoras.__file__).resolve().parents[1])
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [source_root, env.get("PYTHONPATH")]))
    return env


def _wait_for_ready(procs: list[subprocess.Popen[str]], barrier_dir: Path, deadline: float) -> None:
    """Poll until every peer has announced itself; fail early if one died first."""
    while True:
        ready = {p.name for p in barrier_dir.glob("ready-*")}
        if len(ready) == len(procs):
            return
        for peer, proc in enumerate(procs):
            if f"ready-{peer}" not in ready and proc.poll() is not None:
                out, err = proc.communicate()
                pytest.fail(f"peer {peer} exited {proc.returncode} before it was ready:\n{out}{err}")
        if time.monotonic() > deadline:
            pytest.fail(f"only {len(ready)} of {len(procs)} peers were ready in time")
        time.sleep(0.005)


@pytest.mark.skipif(not hasattr(os, "killpg"), reason="process groups are POSIX")
@pytest.mark.timeout(DEADLINE + 30)
def test_eight_peers_write_read_and_claim_the_same_keys(tmp_path: Path) -> None:
    deadline = time.monotonic() + DEADLINE
    root, barrier_dir, start_file = tmp_path / "store", tmp_path / "barrier", tmp_path / "start"
    barrier_dir.mkdir()
    procs: list[subprocess.Popen[str]] = []
    try:
        for peer in range(PEERS):
            config = {
                "peer": peer,
                "root": str(root),
                "barrier_dir": str(barrier_dir),
                "start_file": str(start_file),
                "rounds": ROUNDS,
                "shared_keys": SHARED_KEYS,
                "deadline": DEADLINE,
            }
            procs.append(child_processes.spawn([sys.executable, str(HELPER), json.dumps(config)],
                                               env=_peer_env()))
        _wait_for_ready(procs, barrier_dir, deadline)
        start_file.touch()

        reports, failures = [], []
        for peer, proc in enumerate(procs):
            try:
                out, err = proc.communicate(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pytest.fail(f"peer {peer} did not finish within {DEADLINE} s")
            if proc.returncode != 0:
                failures.append(f"peer {peer} exited {proc.returncode}: {out.strip()} {err.strip()}")
                continue
            reports.append(json.loads(out))
    finally:
        for proc in procs:
            child_processes.kill_group(proc)

    assert not failures, "\n".join(failures)
    assert all(r["reads"] == ROUNDS * (len(SHARED_KEYS) + 1) for r in reports)

    # Every claim has exactly one winner, and the record under it is the winner's.
    store = LocalFolderStore(root)
    for r in range(ROUNDS):
        winners = [report["peer"] for report in reports if r in report["won"]]
        assert len(winners) == 1, f"claims/r{r} was won by {winners}"
        assert bytes(unframe(store.read(f"claims/r{r}") or b"", KIND)) == str(winners[0]).encode()

    # What is left is whole: each shared key holds some peer's record, each own key its last.
    for key in SHARED_KEYS:
        writer, round_ = bytes(unframe(store.read(key) or b"", KIND)).split(b":", 2)[:2]
        assert 0 <= int(writer) < PEERS and 0 <= int(round_) < ROUNDS
    for report in reports:
        data = store.read(f"own/p{report['peer']}/record") or b""
        assert bytes(unframe(data, KIND)).startswith(report["last_own"].encode())

    # No temp file or other stray name is left behind, and list shows exactly the keys.
    expected = (
        {f"claims/r{r}" for r in range(ROUNDS)}
        | set(SHARED_KEYS)
        | {f"own/p{peer}/record" for peer in range(PEERS)}
    )
    on_disk = {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}
    assert on_disk == expected
    assert set(store.list("")) == expected
