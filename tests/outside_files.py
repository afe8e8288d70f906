"""Files outside a swarm's location that an attacker links to from inside it, and the checks
that nothing reached them: each keeps its bytes, date and mode, no file appears beside them,
and none of their bytes (a marker) was copied into the location.

The attacker of ``docs/trust.md`` can write the location but not read the victim's home:
these files stand for ``~/.ssh``, a key file, a user's documents.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

#: In every outside file: found in the location, it was copied in.
MARKER = b"OUTSIDE-MARKER-5d1e0c"
FUNCTION = "f" * 32  # names under the outside folder that look like records
ARGUMENTS = "ab" * 16

Snapshot = dict[str, tuple[bytes, int, int]]  # relative path -> (bytes, mtime_ns, mode)


@dataclass
class Outside:
    """A folder outside the location, filled with files, and what it held when filled."""

    folder: Path
    before: Snapshot = field(default_factory=dict)

    def check_intact(self) -> None:
        """Every file as it was (bytes, date, mode), none added, none removed, the folders
        themselves not written to (their dates unchanged)."""
        now = _snapshot(self.folder)
        changed = sorted(k for k in now.keys() | self.before.keys() if now.get(k) != self.before.get(k))
        assert not changed, f"changed outside the location, in {self.folder}: {changed}"

    def file(self, name: str) -> Path:
        return self.folder / name


def outside_folder(parent: Path, name: str = "outside") -> Outside:
    """A folder of files that look like a home's and like records (so that a deleter that
    went through a link would find keys there): a key file, notes, a results-like tree."""
    folder = parent / name
    (folder / FUNCTION / ARGUMENTS[:2]).mkdir(parents=True)
    (folder / "id_rsa").write_bytes(MARKER + b" -----BEGIN PRIVATE KEY-----")
    (folder / "notes.txt").write_bytes(MARKER + b" my notes")
    (folder / FUNCTION / ARGUMENTS[:2] / ARGUMENTS).write_bytes(MARKER + b" like a result")
    (folder / ("a" * 32)).write_bytes(MARKER + b" like a function or a peer")
    outside = Outside(folder)
    outside.before = _snapshot(folder)
    return outside


def _snapshot(folder: Path) -> Snapshot:
    found: Snapshot = {}
    for directory, _names, files in os.walk(folder):
        st = os.stat(directory)
        found[os.path.relpath(directory, folder) + "/"] = (b"", st.st_mtime_ns, st.st_mode)
        for name in files:
            path = os.path.join(directory, name)
            st = os.lstat(path)
            with open(path, "rb") as f:
                found[os.path.relpath(path, folder)] = (f.read(), st.st_mtime_ns, st.st_mode)
    return found


def copied_in(location: Path) -> list[str]:
    """The files of ``location`` (links not followed) that hold the marker."""
    found = []
    for directory, _, files in os.walk(location):  # followlinks=False: links are not walked
        for name in files:
            path = os.path.join(directory, name)
            if os.path.islink(path) or not os.path.isfile(path):
                continue
            with open(path, "rb") as f:
                if MARKER in f.read():
                    found.append(os.path.relpath(path, location))
    return found


def link(location: Path, inside: str, target: Path) -> None:
    """Plant a link at ``inside`` (a '/'-separated path in the location) to ``target``."""
    path = location.joinpath(*inside.split("/"))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.symlink_to(target, target_is_directory=target.is_dir())
