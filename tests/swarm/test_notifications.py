"""A peer's file watch stays inside its location (``pythagoras/swarm/notifications.py``).

A writer of the location can replace ``results`` or ``requests`` by a link to a folder outside
(``~``, or ``/``). The watcher must not follow it: watchdog walks the target and puts a watch on
every folder below it (3,000 folders outside cost a peer 6,000 inotify watches, out of the
user's limit for every program; ``/`` would walk the whole disk). The linked part is left
unwatched; polling remains.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from pythagoras.swarm.notifications import watch_folder

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"),
                                reason="counts inotify watches in /proc")


def inotify_watches() -> int:
    """How many inotify watches this process holds."""
    count = 0
    for info in Path(f"/proc/{os.getpid()}/fdinfo").iterdir():
        try:
            count += sum(line.startswith("inotify") for line in info.read_text().splitlines())
        except OSError:  # closed meanwhile
            continue
    return count


def test_a_linked_part_is_not_watched_nor_walked(tmp_path: Path) -> None:
    outside = tmp_path / "home"
    for i in range(200):
        (outside / f"folder{i}").mkdir(parents=True)
    root = tmp_path / "swarm"
    root.mkdir()
    (root / "results").symlink_to(outside)
    before = inotify_watches()
    watch = watch_folder(str(root), lambda key: None, ["requests", "results"])
    if watch is None:
        pytest.skip("no file notifications here")
    try:
        assert inotify_watches() - before < 10  # requests/ alone, not 200 folders outside
        assert (root / "requests").is_dir() and (root / "results").is_symlink()
    finally:
        watch.close()
    assert sorted(os.listdir(outside)) == sorted(f"folder{i}" for i in range(200))
