"""``Memory.clear()``, a function's ``clear()`` and ``reduce_size`` delete only Memory's records,
inside the location (issue 21): a linked ``results/`` or ``metadata/`` folder is not gone
through, and a user's file beside the records stays."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from outside_files import FUNCTION, copied_in, link, outside_folder

from pythagoras.memory import Memory

pytestmark = pytest.mark.skipif(os.name != "posix", reason="symbolic links are POSIX here")


def twice(x: int) -> int:
    return 2 * x


@pytest.mark.parametrize("linked", ["results", "metadata", f"results/{FUNCTION}"])
def test_clear_and_reduce_size_stay_inside_and_leave_other_files(tmp_path: Path, linked: str) -> None:
    location = tmp_path / "cache"
    outside = outside_folder(tmp_path)
    memory = Memory(location, verbose=0)
    cached = memory.cache(twice)
    assert cached(x=1) == 2
    if linked == "results":  # the real one (with the record just stored) set aside
        os.rename(location / "results", location / "real-results")
    link(location, linked, outside.folder / FUNCTION if "/" in linked else outside.folder)
    (location / "metadata").mkdir(exist_ok=True)
    notes = location / "metadata" / "notes.txt" if linked != "metadata" else location / "notes.txt"
    notes.write_text("the user's own")
    memory.reduce_size(items_limit=0)
    cached.clear(warn=False)
    memory.clear(warn=False)
    outside.check_intact()
    assert copied_in(location) == []
    assert notes.read_text() == "the user's own"
