"""Disks that fill up, turn read-only or refuse this user: real ones where this machine allows.

A :class:`Disk` is a swarm folder and the faults that can befall it:

- ``real``: a 2 MiB tmpfs mounted for the test (needs root, or CAP_SYS_ADMIN). ``fill`` writes a
  file beside the swarm until the kernel answers ENOSPC, ``read_only`` remounts it read-only
  (EROFS); a result over 2 MiB cannot be stored. Where mounting is not permitted the ``real``
  disk is skipped.
- ``simulated``: a plain folder opened as ``faulty://<path>``, a :class:`FaultyStore` (a local
  folder store registered as a plugin for the test) whose writing primitives raise the
  ``OSError`` the fault would: ENOSPC for every write while full, or for a record larger than
  ``limit``; EROFS or EACCES for every write, create and delete while read-only or refused.
  The error is raised before anything is written, where a real disk may fail half way through
  a file, which is why the real disk is tried first.

A folder that this user may not write is made real by another route (``permission_runner``):
the folder is made read-only by its mode (``chmod``) and the test runs its probe in a process
that the mode binds: this user if it is not root, else root without CAP_DAC_OVERRIDE (and its
siblings), through ``setpriv``.
"""

from __future__ import annotations

import errno
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from pythagoras.storage.base import Store
from pythagoras.storage.hookspecs import hookimpl
from pythagoras.storage.local import LocalFolderStore
from pythagoras.storage.plugins import plugin_manager

SIZE = 2 * 1024 * 1024  # bytes on a real disk; the simulated one refuses records over this


class FaultyStore(LocalFolderStore):
    """A local folder whose writes fail as its :class:`Disk` says, before writing anything."""

    def __init__(self, root: str, disk: Disk) -> None:
        super().__init__(root)
        self.disk = disk

    def _check(self, data: bytes | None = None) -> None:
        code = self.disk.refusing
        if code is None and self.disk.full:
            code = errno.ENOSPC
        if code is None and data is not None and len(data) > SIZE:
            code = errno.ENOSPC
        if code is not None:
            raise OSError(code, os.strerror(code))

    def write(self, key: str, data: bytes) -> None:
        self._check(data)
        super().write(key, data)

    def create(self, key: str, data: bytes) -> bool:
        self._check(data)
        return super().create(key, data)

    def create_small(self, key: str, data: bytes) -> bool:
        self._check(data)
        return super().create_small(key, data)

    def delete(self, key: str) -> bool:
        if self.disk.refusing is not None:
            self._check()
        return super().delete(key)


class _FaultyPlugin:
    """Opens ``faulty://<path>`` as a FaultyStore of the disk registered for that path."""

    def __init__(self) -> None:
        self.disks: dict[str, Disk] = {}

    @hookimpl
    def pythagoras_open_store(self, location: str, storage_options: dict[str, object]) -> Store | None:
        if not location.startswith("faulty://"):
            return None
        root = location[len("faulty://"):]
        return FaultyStore(root, self.disks[root])


_PLUGIN = _FaultyPlugin()


class Disk:
    """A swarm folder on a disk that the test can fill, free, turn read-only and back."""

    def __init__(self, kind: str, tmp_path: Path) -> None:
        self.kind = kind
        self.mount = tmp_path / "disk"
        self.mount.mkdir()
        self.root = self.mount / "swarm"
        self.filler = self.mount / "filler"
        self.full = False
        self.refusing: int | None = None  # the errno every write, create and delete raises
        self.mounted = False
        if kind == "real":
            if os.name != "posix" or shutil.which("mount") is None:
                pytest.skip("no mount command here; the simulated disk runs instead")
            run = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={SIZE}", "tmpfs", str(self.mount)],
                                 capture_output=True, text=True)
            if run.returncode != 0:
                pytest.skip(f"cannot mount a tmpfs here ({run.stderr.strip()}); the simulated "
                            "disk runs instead")
            self.mounted = True
            self.location = str(self.root)
        else:
            _PLUGIN.disks[str(self.root)] = self
            self.location = f"faulty://{self.root}"

    def fill(self) -> None:
        """Leave no byte free on the disk."""
        self.full = True
        if self.kind == "real":
            fd = os.open(self.filler, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
            try:
                size = 65536
                while size:  # halve the chunk at each ENOSPC, down to the last free byte
                    try:
                        os.write(fd, b"\0" * size)
                    except OSError as e:
                        assert e.errno == errno.ENOSPC, e
                        size //= 2
            finally:
                os.close(fd)

    def free(self) -> None:
        self.full = False
        if self.kind == "real":
            self.filler.unlink(missing_ok=True)

    def read_only(self) -> None:
        if self.kind == "real":
            _remount(self.mount, "ro")
        else:
            self.refusing = errno.EROFS

    def writable(self) -> None:
        if self.kind == "real":
            _remount(self.mount, "rw")
        else:
            self.refusing = None

    def refuse(self, code: int) -> None:
        """Simulated disks only: every write, create and delete raises ``OSError(code)``."""
        assert self.kind == "simulated"
        self.refusing = code

    def close(self) -> None:
        _PLUGIN.disks.pop(str(self.root), None)
        if self.mounted:
            subprocess.run(["umount", "-l", str(self.mount)], capture_output=True)


def _remount(mount: Path, mode: str) -> None:
    # A remount read-only is refused (EBUSY) while a file is open for writing on it: a peer
    # may be writing a record at that moment. It is tried again until the write is over.
    for _ in range(200):
        run = subprocess.run(["mount", "-o", f"remount,{mode}", str(mount)], capture_output=True,
                             text=True)
        if run.returncode == 0:
            return
    raise AssertionError(f"cannot remount {mount} {mode}: {run.stderr}")


@contextmanager
def open_disk(kind: str, tmp_path: Path) -> Iterator[Disk]:
    """A disk for the test: the plugin registered while simulated disks live, every mount
    undone whatever the test did."""
    if kind == "simulated" and not plugin_manager().is_registered(_PLUGIN):
        plugin_manager().register(_PLUGIN, name="faulty-test-disks")
    disk = Disk(kind, tmp_path)
    try:
        yield disk
    finally:
        disk.close()
        if not _PLUGIN.disks and plugin_manager().is_registered(_PLUGIN):
            plugin_manager().unregister(_PLUGIN)


def errnos(error: BaseException | None) -> list[int]:
    """The errnos of the OSErrors in an exception's chain (its causes and contexts)."""
    found, seen = [], set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        if isinstance(error, OSError) and error.errno is not None:
            found.append(error.errno)
        error = error.__cause__ or error.__context__
    return found


def permission_runner() -> list[str] | None:
    """The command prefix that runs a process bound by file modes; None where there is none."""
    if os.name != "posix":
        return None
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        return None
    caps = "-dac_override,-dac_read_search,-fowner"
    prefix = [setpriv, f"--inh-caps={caps}", f"--bounding-set={caps}"]
    probe = subprocess.run([*prefix, sys.executable, "-c", "pass"], capture_output=True)
    return prefix if probe.returncode == 0 else None


def make_read_only_by_mode(root: Path) -> None:
    """Remove every write permission under ``root`` (its files, folders and itself)."""
    for directory, _names, files in os.walk(root):
        for name in files:
            os.chmod(os.path.join(directory, name), 0o444)
        os.chmod(directory, 0o555)


def make_writable_by_mode(root: Path) -> None:
    for directory, _names, files in os.walk(root):
        os.chmod(directory, 0o755)
        for name in files:
            os.chmod(os.path.join(directory, name), 0o644)
