"""File notifications for a local folder: a peer hears of new records at once, not at its next poll.

watchdog gives one interface over inotify (Linux), FSEvents (macOS) and ReadDirectoryChangesW
(Windows). Events only speed things up: they are missed for files written by other machines on
a network share, and for files landing in a directory before its watch exists, so the peer's
polling stays on as the fallback that guarantees progress.
"""

from __future__ import annotations

import logging
import os
import stat
import warnings
from collections.abc import Callable, Iterable
from typing import Any

from ..storage.base import is_debris

__all__ = ["FolderWatch", "watch_folder"]

log = logging.getLogger("pythagoras")


def _not_noise(record: logging.LogRecord) -> bool:
    """watchdog logs an error when an event arrives as its observer stops, and a warning when
    the kernel's event queue overflows under a burst of records; both are harmless here, since
    polling finds whatever a lost event would have announced. Dropped."""
    message = record.getMessage()
    return "called when the thread is inactive" not in message and "queue overflowed" not in message


for _name in ("watchdog.observers.inotify", "watchdog.observers.inotify_c"):
    logging.getLogger(_name).addFilter(_not_noise)


class FolderWatch:
    """Calls ``on_key(key)`` from a watcher thread for each record that appears under the
    ``parts`` of ``root`` (its subfolders ``requests``, ``results``, ...)."""

    def __init__(self, root: str, on_key: Callable[[str], None], parts: Iterable[str]) -> None:
        from watchdog.events import (
            DirCreatedEvent,
            FileCreatedEvent,
            FileSystemEvent,
            FileSystemEventHandler,
        )
        from watchdog.observers import Observer

        prefix = os.path.join(os.path.abspath(root), "")

        class Handler(FileSystemEventHandler):
            def on_any_event(self, event: FileSystemEvent) -> None:
                if event.is_directory or event.event_type not in ("created", "moved"):
                    return
                path = os.fsdecode(getattr(event, "dest_path", "") or event.src_path)
                if not path.startswith(prefix) or is_debris(os.path.basename(path)):
                    return
                on_key(path[len(prefix):].replace(os.sep, "/"))

        # watchdog's inotify backend warns when a new directory's watch races its own recursive
        # add; the watch is in place either way, so the warning is noise for a pythagoras user.
        warnings.filterwarnings("ignore", message="Callback with id", category=RuntimeWarning,
                                module=r"watchdog\.")
        self._observer: Any = Observer()
        self._observer.daemon = True
        # Only new names matter: without a filter the kernel reports every open, read and close,
        # about 60 events per call, each handled in Python. Records are created under their
        # names (temp file, then a hard link); renames are left out, since watchdog pairs each
        # rename's two halves by a linear search, which dominated a busy peer's time. Files
        # renamed into place by others (sync services) are found by polling.
        # Only the parts a peer waits on: claims, values and temp names elsewhere would each
        # cost the watcher's threads work, and the GIL, for nothing.
        self._handler = Handler()
        self._prefix = prefix
        self._filter = [FileCreatedEvent, DirCreatedEvent]
        self.parts: set[str] = set()
        self._observer.start()
        self.add(parts)

    def add(self, parts: Iterable[str]) -> None:
        """Watch these parts too (each watched part costs the watcher work per record). A part
        that is a link is not watched (polling finds its records, which the store reads as
        absent): the watcher would follow it, and walk and watch every folder below its
        target, outside the location (``results -> /`` would walk the whole disk)."""
        for part in sorted(set(parts) - self.parts):
            folder = os.path.join(self._prefix, part)
            try:
                os.mkdir(folder)
            except FileExistsError:
                pass
            if not stat.S_ISDIR(os.lstat(folder).st_mode):
                log.warning("pythagoras: %s is a link or a file, not a folder: not watched, "
                            "never followed; remove it", folder)
                self.parts.add(part)  # nothing there is read: as good as watched
                continue
            self._observer.schedule(self._handler, folder, recursive=True, event_filter=self._filter)
            self.parts.add(part)

    def close(self) -> None:
        self._observer.stop()


def watch_folder(root: str, on_key: Callable[[str], None],
                 parts: Iterable[str] = ("requests", "results", "failures")) -> FolderWatch | None:
    """A watch on ``parts`` of ``root``, or None where the OS or watchdog cannot give one
    (polling remains)."""
    try:
        return FolderWatch(root, on_key, parts)
    except Exception as e:  # no watchdog, inotify limits reached, an unsupported file system
        log.info("pythagoras: no file notifications for %s (%s); polling instead", root, e)
        return None
