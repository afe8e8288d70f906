"""``pythagoras worker`` says, once at start-up, when anyone besides this user can make it run
code: an unsigned swarm on a location others may write (issue 21).

The worker is a real process on a real folder, stopped once it logs that it serves; the
reasons (a folder others may write, a parent they may write, a sync folder, a remote store)
are checked on ``others_may_write`` itself.
"""

from __future__ import annotations

import time
from pathlib import Path

import child_processes
import pytest

from pythagoras.storage.local import LocalFolderStore
from pythagoras.storage.memory import MemoryStore
from pythagoras.storage.plugins import open_store, others_may_write
from pythagoras.storage.signed import SignedStore

pytestmark = pytest.mark.timeout(120)

DEADLINE = 60.0
SECRET = "5f" * 32
WARNING = "is not signed, and"


def worker_log(folder: Path, tmp_path: Path, **env: str) -> str:
    """What ``pythagoras worker FOLDER`` logs until it serves; then it is stopped."""
    log = tmp_path / "worker.log"
    environment = {k: v for k, v in child_processes.environment(**env).items()
                   if k != "PYTHAGORAS_LOCATION" and (k != "PYTHAGORAS_SECRET" or k in env)}
    with child_processes.started(["-m", "pythagoras", "worker", str(folder), "--max-workers", "1"],
                                 env=environment, log=log, cwd=tmp_path) as proc:
        deadline = time.monotonic() + DEADLINE
        while " serving " not in log.read_text():
            assert proc.poll() is None, log.read_text()
            assert time.monotonic() < deadline, f"the worker never served:\n{log.read_text()}"
            time.sleep(0.01)
    return log.read_text()


def folder(tmp_path: Path, mode: int) -> Path:
    made = tmp_path / "swarm"
    made.mkdir()
    made.chmod(mode)
    return made


def test_an_unsigned_worker_on_a_folder_others_may_write_says_so_once(tmp_path: Path) -> None:
    text = worker_log(folder(tmp_path, 0o777), tmp_path)
    lines = [line for line in text.splitlines() if WARNING in line]
    assert len(lines) == 1, text
    assert "other users of this machine may write to it (mode 777)" in lines[0]
    assert "runs code as" in lines[0] and "PYTHAGORAS_SECRET" in lines[0]


def test_a_signed_worker_says_nothing(tmp_path: Path) -> None:
    text = worker_log(folder(tmp_path, 0o777), tmp_path, PYTHAGORAS_SECRET=SECRET)
    assert WARNING not in text, text


def test_a_worker_on_a_folder_of_its_own_says_nothing(tmp_path: Path) -> None:
    text = worker_log(folder(tmp_path, 0o700), tmp_path)
    assert WARNING not in text, text


def test_the_reasons(tmp_path: Path) -> None:
    own = folder(tmp_path, 0o700)
    assert others_may_write(LocalFolderStore(own)) is None
    (tmp_path / "Dropbox (Team)" / "runs").mkdir(parents=True, mode=0o700)
    assert "sync folder (Dropbox (Team))" in str(
        others_may_write(LocalFolderStore(tmp_path / "Dropbox (Team)" / "runs")))
    shared = tmp_path / "shared"
    shared.mkdir()
    (shared / "swarm").mkdir(mode=0o700)
    shared.chmod(0o777)  # no sticky bit: anyone may rename swarm away and put theirs there
    assert f"its parent {shared} (mode 777)" in str(
        others_may_write(LocalFolderStore(shared / "swarm")))
    shared.chmod(0o1777)  # as /tmp: only the owner may rename it
    assert others_may_write(LocalFolderStore(shared / "swarm")) is None
    remote = MemoryStore("s3://bucket/run")
    remote.remote = True
    assert "remote store" in str(others_may_write(remote))
    assert others_may_write(SignedStore(remote, SECRET.encode())) is None
    assert others_may_write(open_store("memory://in-this-process")) is None
