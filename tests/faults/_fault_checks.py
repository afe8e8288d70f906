"""What a fault must leave behind: a folder whose every record is whole, or treated as absent.

``folder_state`` walks a swarm's folder as a file system (not through a store, which would hide
debris) and sorts every file: an intact record of its kind, a record that does not unframe, or
debris (a temp file, a sync service's copy). The tests then say what they allow.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from pythagoras.errors import CorruptRecord
from pythagoras.records.frames import unframe
from pythagoras.storage.base import is_debris

#: The frame kind of each top-level folder (``docs/protocol.md``, "Records").
KINDS = {"results": b"R", "requests": b"Q", "claims": b"C", "failures": b"E", "functions": b"F",
         "values": b"V", "peers": b"P", "metadata": b"M"}


@dataclass
class FolderState:
    intact: dict[str, list[str]] = field(default_factory=dict)  # top folder -> keys
    corrupt: list[str] = field(default_factory=list)  # keys of records that do not unframe
    debris: list[str] = field(default_factory=list)  # paths no reader ever takes for a record

    def keys(self, top: str) -> list[str]:
        return self.intact.get(top, [])

    def unfinished_claims(self) -> list[str]:
        """Claims of calls with neither a result nor a failure: calls someone still holds."""
        return self._unfinished("claims")

    def unfinished_requests(self) -> list[str]:
        """Requests of calls with neither a result nor a failure: calls still pending. (A
        finished call's request is retired by the next peer that picks it.)"""
        return self._unfinished("requests")

    def _unfinished(self, top: str) -> list[str]:
        finished = set(self.keys("results")) | set(self.keys("failures"))
        left = []
        for key in self.keys(top):
            function, _, arguments = key.rpartition("/")[2].partition(".")
            address = f"{function}/{arguments[:2]}/{arguments}"
            if f"results/{address}" not in finished and f"failures/{address}" not in finished:
                left.append(key)
        return left


def folder_state(root: Path) -> FolderState:
    state = FolderState()
    if not root.exists():
        return state
    for directory, _, names in os.walk(root):
        relative = Path(directory).relative_to(root).parts
        for name in names:
            parts = (*relative, name)
            key = "/".join(parts)
            if any(is_debris(part) for part in parts):
                state.debris.append(key)
                continue
            kind = KINDS.get(parts[0])
            if kind is not None:
                try:
                    unframe(bytearray(Path(directory, name).read_bytes()), kind)
                except CorruptRecord:
                    state.corrupt.append(key)
                    continue
            state.intact.setdefault(parts[0], []).append(key)
    return state
