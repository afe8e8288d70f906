"""Locations checked before they are opened (``pythagoras/storage/location.py``; issue 21).

A location that looks like a URL of a wrong form is refused with the right form, at every way
in (``open_store``, the executor, ``Memory``, the command line), and nothing is created for it:
before, ``s3:/team-bucket/swarm`` became a folder ``s3:`` in the working directory, served for
ever. The embedded default folder is created readable and writable by this user only.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import child_processes
import pytest

from pythagoras import Memory, PythagorasExecutor
from pythagoras.errors import StoreError
from pythagoras.storage.location import check_location, default_location, embedded_default
from pythagoras.storage.plugins import open_store

WRONG = {  # location: the right form its error names
    "s3:/team-bucket/swarm": "s3://team-bucket/swarm",
    "s3:team-bucket/swarm": "s3://team-bucket/swarm",
    "gcs:/bucket": "gcs://bucket",
    "S3://team-bucket/swarm": "s3://team-bucket/swarm",
    "s3//team-bucket/swarm": "s3://team-bucket/swarm",
    "file:/srv/swarm": "file:///srv/swarm",
    "memory:/x": "memory://x",
}
RIGHT = ["swarm", "./runs:1", "/srv/runs:1", "C:\\swarm", "C:/swarm", "c:swarm", "file:///srv/x",
         "s3://bucket/x", "runs//1", "~/swarm"]


@pytest.fixture
def elsewhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A working directory of its own, to see that nothing is created in it."""
    folder = tmp_path / "cwd"
    folder.mkdir()
    monkeypatch.chdir(folder)
    yield folder
    assert list(folder.iterdir()) == [], "a folder was created for a refused location"


@pytest.mark.parametrize("location", sorted(WRONG))
def test_a_url_of_a_wrong_form_is_refused_with_the_right_form(location: str,
                                                              elsewhere: Path) -> None:
    with pytest.raises(StoreError) as refused:
        open_store(location)
    assert WRONG[location] in str(refused.value)
    with pytest.raises(StoreError, match="looks like a URL|lower case"):
        PythagorasExecutor(location, max_workers=0)
    with pytest.raises(StoreError, match="looks like a URL|lower case"):
        Memory(location)


@pytest.mark.parametrize("location", RIGHT)
def test_folders_and_urls_pass(location: str) -> None:
    check_location(location)


def test_a_colon_in_a_folder_name_is_written_with_a_dot(elsewhere: Path) -> None:
    with pytest.raises(StoreError, match=r"or \./runs:1 for a local folder"):
        open_store("runs:1")
    store = open_store("./runs:1")
    assert Path(store.location) == elsewhere / "runs:1"
    os.rmdir(elsewhere / "runs:1")


def test_an_unknown_scheme_is_no_folder(elsewhere: Path) -> None:
    with pytest.raises(StoreError, match="no store plugin serves 'foo://x'"):
        open_store("foo://x")


@pytest.mark.parametrize("command", ["status", "clear", "worker"])
def test_the_command_line_refuses_it_in_one_line(command: str, elsewhere: Path) -> None:
    env = {k: v for k, v in child_processes.environment().items() if k != "PYTHAGORAS_LOCATION"}
    result = child_processes.run(["-m", "pythagoras", command, "s3:/team-bucket/swarm"],
                                 cwd=elsewhere, env=env, timeout=120)
    assert result.returncode == 2, result
    assert result.stderr.strip() == (
        f"pythagoras {command}: 's3:/team-bucket/swarm' looks like a URL without its '//': "
        "write s3://team-bucket/swarm, or ./s3:/team-bucket/swarm for a local folder whose "
        "name has a colon"), result.stderr


def test_the_default_folder_is_created_for_this_user_only(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("PYTHAGORAS_LOCATION", raising=False)
    assert default_location() == embedded_default()
    assert embedded_default().startswith(str(tmp_path / "cache"))
    umask = os.umask(0o002)  # a umask that would leave it group-writable
    try:
        executor = PythagorasExecutor(max_workers=0)
        executor.shutdown()
    finally:
        os.umask(umask)
    assert stat.S_IMODE(os.stat(embedded_default()).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(os.path.dirname(embedded_default())).st_mode) == 0o700


def test_a_default_folder_that_is_there_keeps_its_mode(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("PYTHAGORAS_LOCATION", raising=False)
    os.makedirs(embedded_default())
    os.chmod(embedded_default(), 0o750)  # the user's choice, for a group
    open_store(default_location())
    assert stat.S_IMODE(os.stat(embedded_default()).st_mode) == 0o750
