"""``pythagoras clear`` (every mode) deletes only names pythagoras writes, inside the location
(issue 21): not through a linked folder, not a user's file beside the records.

Real processes (``python -m pythagoras clear ... --yes``), links planted in a real folder,
the files outside checked intact (bytes, date, mode, nothing added or removed) afterwards.
"""

from __future__ import annotations

import os
from pathlib import Path

import child_processes
import pytest
from outside_files import ARGUMENTS, FUNCTION, Outside, copied_in, link, outside_folder

from pythagoras.cli.clear import written_by_pythagoras
from pythagoras.records.frames import frame
from pythagoras.storage.local import LocalFolderStore

pytestmark = pytest.mark.skipif(os.name != "posix", reason="symbolic links are POSIX here")

DEADLINE = 120.0  # seconds for one run: only a hung one reaches it
OTHER = "c" * 32  # a function whose records are real, in real folders
USERS = ["results/notes.txt", "failures/notes.txt", "peers/notes.txt", "values/notes.txt",
         "functions/notes.txt", "claims/notes.txt", "quarantine/notes.txt",
         f"results/{OTHER}/{ARGUMENTS[:2]}/mine.txt", "mydata/file.csv", "notes.txt"]
RECORDS = [f"results/{OTHER}/{ARGUMENTS[:2]}/{ARGUMENTS}",
           f"failures/{OTHER}/{ARGUMENTS[:2]}/{ARGUMENTS}",
           f"functions/{OTHER}", f"values/{ARGUMENTS[:2]}/{ARGUMENTS}",
           f"quarantine/results/{OTHER}/{ARGUMENTS[:2]}/{ARGUMENTS}.{'e' * 17}"]


def planted(location: Path, outside: Outside) -> None:
    """Records of pythagoras, a user's files beside them, and links out of the location."""
    store = LocalFolderStore(location)
    for key in RECORDS:
        store.write(key, frame(b"R", b"a record"))
    for name in USERS:
        path = location / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("the user's own")
    link(location, f"results/{FUNCTION}", outside.folder / FUNCTION)
    link(location, "metadata", outside.folder)
    link(location, f"failures/{FUNCTION}", outside.folder / FUNCTION)


@pytest.mark.parametrize("mode", [["--all"], ["--failures"], []])
def test_clear_deletes_only_pythagoras_records_inside_the_location(
        tmp_path: Path, mode: list[str]) -> None:
    location = tmp_path / "swarm"
    outside = outside_folder(tmp_path)
    planted(location, outside)
    done = child_processes.run(["-m", "pythagoras", "clear", str(location), *mode, "--yes"],
                               timeout=DEADLINE)
    assert done.returncode == 0, done.stderr
    outside.check_intact()
    assert copied_in(location) == []
    for name in USERS:
        assert (location / name).read_text() == "the user's own", name
    left = set(LocalFolderStore(location).list(""))
    if mode == ["--all"]:
        assert not left & set(RECORDS), "clear --all left records of pythagoras"
    elif mode == ["--failures"]:
        assert RECORDS[1] not in left and set(RECORDS) - {RECORDS[1]} <= left


@pytest.mark.parametrize("key", RECORDS + ["breaks/" + FUNCTION + "." + ARGUMENTS + ".n0nce",
                                          "peers/host_1-123-abc123", "claims/" + OTHER + "." + ARGUMENTS])
def test_the_names_pythagoras_writes(key: str) -> None:
    assert written_by_pythagoras(key)


@pytest.mark.parametrize("key", USERS + ["values/ab/notes", "functions/" + "g" * 32,
                                         "quarantine/results/notes.txt.abc", "peers/a b"])
def test_names_pythagoras_does_not_write(key: str) -> None:
    assert not written_by_pythagoras(key)
