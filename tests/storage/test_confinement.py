"""No link planted in a location leads a peer out of it (issue 21, invariant 8).

The attacker can write the location, not read the victim's home: it replaces a folder of the
location (``results``, ``peers``, ``.tmp``, ``quarantine/requests/<a>``) or a record's name by
a link to a folder or file outside. Every operation of the local store, a signed store's
quarantine, ``pythagoras status`` and a serving ``pythagoras worker`` (real processes) then
run, and the files outside must keep their bytes, dates and modes, nothing may appear beside
them, and none of their bytes may be copied into the location.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import time
import tracemalloc
from pathlib import Path

import child_processes
import pytest
from outside_files import ARGUMENTS, FUNCTION, MARKER, Outside, copied_in, link, outside_folder

from pythagoras.errors import StoreError
from pythagoras.records.frames import frame
from pythagoras.storage.local import LocalFolderStore
from pythagoras.storage.signed import SignedStore

pytestmark = pytest.mark.skipif(os.name != "posix", reason="links and dir_fd calls are POSIX")

DEADLINE = 60.0  # seconds for a process to do what the test waits for: only a hang reaches it
SECRET = "a swarm secret of more than sixteen bytes"
RESULT = f"results/{FUNCTION}/{ARGUMENTS[:2]}/{ARGUMENTS}"


@pytest.fixture
def location(tmp_path: Path) -> Path:
    folder = tmp_path / "swarm"
    folder.mkdir()
    return folder


@pytest.fixture
def outside(tmp_path: Path) -> Outside:
    return outside_folder(tmp_path)


def every_operation(store: LocalFolderStore, key: str) -> None:
    """Every operation of the store on ``key``, each allowed to refuse (a StoreError)."""
    assert store.read(key) is None
    assert store.age(key) is None and store.size(key) is None and not store.exists(key)
    assert store.move(key, "quarantine/moved.1") is False
    assert store.delete(key) is False
    store.delete_many([key])
    for write in (store.write, store.create, store.create_small):
        try:
            write(key, frame(b"R", b"attacker"))
        except StoreError as e:
            assert "is a link or a file, not a folder" in str(e)


@pytest.mark.parametrize("linked", ["results", f"results/{FUNCTION}", "peers", "quarantine"])
def test_no_operation_goes_through_a_linked_folder(
        location: Path, outside: Outside, linked: str) -> None:
    link(location, linked, outside.folder)
    store = LocalFolderStore(location)
    keys = {"results": RESULT, f"results/{FUNCTION}": RESULT,
            "peers": "peers/" + "a" * 32, "quarantine": f"quarantine/{FUNCTION}"}
    every_operation(store, keys[linked])
    assert list(store.list("")) == [] and list(store.scan("")) == []
    assert list(store.list(linked + "/")) == [] and list(store.scan(linked)) == []
    store.delete_many([f"{linked}/notes.txt", f"{linked}/id_rsa"])
    outside.check_intact()
    assert copied_in(location) == []
    assert (location.joinpath(*linked.split("/"))).is_symlink()  # debris, left for a human


def test_a_link_at_a_records_name_is_never_followed_only_removed_or_moved(
        location: Path, outside: Outside) -> None:
    store = LocalFolderStore(location)
    store.write("claims/real", b"c")
    link(location, "claims/linked", outside.file("id_rsa"))
    assert store.read("claims/linked") is None and store.size("claims/linked") is None
    assert sorted(store.list("claims/")) == ["claims/real"]
    assert [k for k, _, _ in store.scan("claims/")] == ["claims/real"]
    assert store.move("claims/linked", "quarantine/claims/linked.1") is False
    store.write("claims/linked", b"mine")  # a write replaces the link, not its target
    assert store.read("claims/linked") == b"mine"
    link(location, "claims/again", outside.file("notes.txt"))
    assert store.create("claims/again", b"x") is False  # the name is taken, by the link
    assert store.create_small("claims/again", b"x") is False
    assert store.delete("claims/again") is True  # the link went, not what it named
    outside.check_intact()
    assert copied_in(location) == []


def test_a_linked_temp_folder_makes_writes_fail_rather_than_go_outside(
        location: Path, outside: Outside) -> None:
    link(location, ".tmp", outside.folder)
    store = LocalFolderStore(location)
    for write in (store.write, store.create):
        with pytest.raises(StoreError, match=r"\.tmp.* is a link or a file, not a folder"):
            write(RESULT, b"value")
    outside.check_intact()


def test_quarantine_renames_inside_the_location_at_mode_600(
        location: Path, caplog: pytest.LogCaptureFixture) -> None:
    folder = LocalFolderStore(location)
    signed = SignedStore(folder, SECRET.encode())  # the team's swarm, signed from its start
    forged = frame(b"R", b"forged " + MARKER)
    folder.write(RESULT, forged)
    inode = os.stat(location / RESULT).st_ino
    with caplog.at_level(logging.WARNING, logger="pythagoras"):
        assert signed.read(RESULT) is None
    [aside] = folder.list("quarantine/")
    assert os.stat(location / aside).st_ino == inode  # the same file, renamed: not a copy
    assert os.stat(location / aside).st_mode & 0o777 == 0o600
    assert folder.read(aside) == forged and not folder.exists(RESULT)
    assert f"moved to {aside}" in caplog.text


def test_a_linked_quarantine_folder_keeps_the_refused_record_where_it_is(
        location: Path, outside: Outside, caplog: pytest.LogCaptureFixture) -> None:
    folder = LocalFolderStore(location)
    signed = SignedStore(folder, SECRET.encode())  # the team's swarm, signed from its start
    folder.write(RESULT, frame(b"R", b"forged"))
    link(location, "quarantine/results", outside.folder)
    with caplog.at_level(logging.WARNING, logger="pythagoras"):
        assert signed.read(RESULT) is None
    assert "left where it is" in caplog.text
    assert folder.exists(RESULT)
    outside.check_intact()


@pytest.mark.parametrize("key", ["claims/" + FUNCTION + "." + ARGUMENTS, RESULT])
def test_a_huge_sparse_record_costs_no_memory_and_is_not_quarantined(
        location: Path, key: str, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setenv("PYTHAGORAS_MAX_RECORD_BYTES", str(1 << 29))  # results: 512 MiB here
    folder = LocalFolderStore(location)
    path = location / key
    path.parent.mkdir(parents=True)
    with open(path, "wb") as f:
        f.truncate(1 << 30)  # 1 GiB that takes no disk
    signed = SignedStore(folder, SECRET.encode())
    tracemalloc.start()
    try:
        with caplog.at_level(logging.WARNING, logger="pythagoras"):
            assert signed.read(key) is None
            assert folder.read(key) is None
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 1 << 20, f"reading a refused record allocated {peak} bytes"
    assert f"refused the record {key}" in caplog.text and "1073741824 bytes" in caplog.text
    assert path.stat().st_size == 1 << 30 and list(folder.list("quarantine/")) == []
    assert signed.refused == 0


# -- real processes ------------------------------------------------------------------------------


def python_m_pythagoras(*args: str, env: dict[str, str]) -> child_processes.subprocess.Popen[str]:
    return child_processes.spawn([child_processes.sys.executable, "-m", "pythagoras", *args],
                                 env=child_processes.environment(**env))


def test_status_with_a_secret_touches_nothing_outside(
        location: Path, outside: Outside, tmp_path: Path) -> None:
    # A forged claim, to be refused; its quarantine folder, the peers and the functions link out.
    SignedStore(LocalFolderStore(location), SECRET.encode())  # the team's swarm, signed
    forged = LocalFolderStore(location)
    forged.write(f"claims/{FUNCTION}.{ARGUMENTS}", frame(b"C", b"forged claim"))
    forged.write(f"failures/{'a' * 32}/{ARGUMENTS[:2]}/{ARGUMENTS}", frame(b"E", b"forged"))
    elsewhere = outside_folder(tmp_path, "outside-quarantine")
    for inside, target in [("peers", outside.folder), ("functions", outside.folder),
                           ("quarantine/claims", elsewhere.folder)]:
        link(location, inside, target)
    done = child_processes.finish(python_m_pythagoras("status", str(location), "--json",
                                                      env={"PYTHAGORAS_SECRET": SECRET}),
                                  timeout=DEADLINE)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["links"] == ["functions", "peers", "quarantine/claims"]
    outside.check_intact()
    elsewhere.check_intact()
    assert copied_in(location) == []


def test_a_serving_worker_with_a_secret_touches_nothing_outside(
        location: Path, outside: Outside, tmp_path: Path) -> None:
    # A link at a request's name to a key file; a forged request whose quarantine bucket links
    # to a folder outside (a worker that copied refused records would write there).
    store = LocalFolderStore(location)
    SignedStore(store, SECRET.encode())  # the team's swarm, signed from its start
    forged = f"requests/5/{FUNCTION}.5{ARGUMENTS[1:]}"
    store.write(forged, frame(b"Q", b"attacker bytes"))
    link(location, f"requests/3/{FUNCTION}.3{ARGUMENTS[1:]}", outside.file("id_rsa"))
    elsewhere = outside_folder(tmp_path, "outside-quarantine")
    link(location, "quarantine/requests/5", elsewhere.folder)
    log = tmp_path / "worker.log"
    env = child_processes.environment(PYTHAGORAS_SECRET=SECRET)
    with open(log, "w") as sink:
        worker = child_processes.spawn(
            [child_processes.sys.executable, "-m", "pythagoras", "worker", str(location),
             "--max-workers", "1"], env=env, stdout=sink, stderr=sink)
        try:
            deadline = time.monotonic() + DEADLINE
            while f"refused the record {forged}" not in log.read_text():  # it has looked
                assert worker.poll() is None, log.read_text()
                assert time.monotonic() < deadline, f"the worker never read {forged}"
                time.sleep(0.05)
            worker.send_signal(signal.SIGTERM)
            worker.wait(DEADLINE)
        finally:
            child_processes.kill_group(worker)
    outside.check_intact()
    elsewhere.check_intact()
    assert copied_in(location) == []
    assert store.exists(forged), "a refused record is left in place when it cannot be moved"
