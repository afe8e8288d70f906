"""Names inside one folder, reached without ever leaving it: no link is followed, at any part.

A location is written by others (``docs/trust.md``): anyone who can write it can replace a
folder of it (``results``, ``peers``, ``.tmp``) or a record by a link to a folder or a file
outside, say ``~/.ssh``. A path such as ``<root>/peers/x`` handed to the kernel would follow
that link, and a peer would read, write, move or delete outside its location. So every name
here is reached from a descriptor of the root, one part at a time: each folder is opened with
``O_DIRECTORY | O_NOFOLLOW`` from the descriptor of the folder above it (a link or a file in
its place is refused by the kernel, atomically, with no window between a check and a use),
and the final name is then opened, stat'ed, renamed, linked or unlinked relative to its
folder's descriptor (``openat``, ``fstatat(AT_SYMLINK_NOFOLLOW)``, ``renameat``, ``linkat``,
``unlinkat``), none of which follows a link at the name either.

A *handle* of a folder is that descriptor (``int``). Where the platform has no ``dir_fd``
calls (Windows) it is the folder's path with a separator at its end, and each part is checked
with ``lstat`` before use: a link put there between the check and the use is followed (there
the protection is best effort). :func:`at` turns a handle and a name into the arguments every
``os`` call takes either way.

Folders are opened with ``O_PATH`` where Linux has it: such a descriptor needs no permission on
the folder itself and costs less to open. Resolving a key of four parts costs three ``openat``
and three ``close`` more than handing its path to the kernel: about 2 µs on Linux.
"""

from __future__ import annotations

import errno
import os
import stat
import time
from collections.abc import Iterator

from .base import StoredKey, is_debris

__all__ = ["DIR_FD", "Handle", "NotAFolder", "at", "close", "entries", "open_folder",
           "open_root", "planted", "remove_empty_folders", "replace", "is_record", "unlink_quietly",
           "walk", "write_new"]

#: True where names can be opened relative to a folder's descriptor (POSIX).
DIR_FD = (os.open in os.supports_dir_fd and os.stat in os.supports_dir_fd
          and os.scandir in os.supports_fd)
_O_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_O_DIRECTORY = getattr(os, "O_DIRECTORY", 0)
#: A folder to reach names through; no permission on it is needed where O_PATH exists.
_O_FOLDER = os.O_RDONLY | _O_DIRECTORY | _O_NOFOLLOW | getattr(os, "O_PATH", 0)
#: A folder to list: it must be readable.
_O_LISTING = os.O_RDONLY | _O_DIRECTORY | _O_NOFOLLOW
_O_BINARY = getattr(os, "O_BINARY", 0)
#: An existing record, to check or to chmod: never a link, never a pipe waited on.
_O_READ = os.O_RDONLY | _O_BINARY | _O_NOFOLLOW | getattr(os, "O_NONBLOCK", 0)
#: A new record: never through a link at its name (O_EXCL refuses one, O_NOFOLLOW says so).
_O_NEW = os.O_WRONLY | os.O_CREAT | os.O_EXCL | _O_BINARY | _O_NOFOLLOW
_NOT_A_FOLDER = (errno.ENOTDIR, errno.ELOOP)  # a file, or a link, where a folder was expected
_REPARSE_POINT = getattr(stat, "FILE_ATTRIBUTE_REPARSE_POINT", 0x400)  # a Windows link

Handle = int | str


class NotAFolder(NotADirectoryError):
    """A part of a key's path is a link or a file where a folder should be: never followed."""


def open_root(path: str) -> Handle:
    """A handle of the folder at ``path`` (the location itself: links in its own path are the
    user's choice, and followed)."""
    if not DIR_FD:
        return os.path.join(path, "")
    return os.open(path, _O_FOLDER)


def close(handle: Handle, root: Handle) -> None:
    """Close ``handle`` unless it is ``root``, which lives as long as its store."""
    if isinstance(handle, int) and handle != root:
        os.close(handle)


def at(handle: Handle, name: str) -> tuple[str, int | None]:
    """``(path, dir_fd)`` for an ``os`` call on ``name`` in the folder of ``handle``:
    ``path, dir_fd = at(handle, name); os.stat(path, dir_fd=dir_fd, follow_symlinks=False)``."""
    if isinstance(handle, int):
        return name, handle
    return handle + name, None


def open_folder(root: Handle, parts: list[str], *, make: bool = False,
                listing: bool = False) -> Handle:
    """A handle of the folder ``parts`` names below ``root`` (``[]``: the root), each part opened
    from the one above it and none followed if it is a link.

    Raises ``FileNotFoundError`` for a missing part (unless ``make``: then it is made),
    :class:`NotAFolder` for a part that is a link or a file. ``listing``: a handle that
    :func:`entries` can read (the root itself is then opened anew).
    """
    if isinstance(root, int) and not (make or listing):
        return _open_path(root, parts)  # a record's folder: the fast path of every read
    handle = root
    last = len(parts) - 1
    try:
        for i, part in enumerate(parts):
            below = _open_part(handle, part, make, listing and i == last)
            close(handle, root)
            handle = below
        if listing and not parts and isinstance(root, int):
            handle = os.open(".", _O_LISTING, dir_fd=root)
    except BaseException:
        close(handle, root)
        raise
    return handle


def _open_path(root: int, parts: list[str]) -> int:
    """:func:`open_folder` of an existing folder by descriptors, in one loop."""
    fd = root
    try:
        for part in parts:
            below = os.open(part, _O_FOLDER, dir_fd=fd)
            if fd != root:
                os.close(fd)
            fd = below
    except OSError as e:
        if fd != root:
            os.close(fd)
        if e.errno in _NOT_A_FOLDER:
            raise NotAFolder(errno.ENOTDIR, "a link or a file, not a folder", e.filename) from None
        raise
    return fd


def _open_part(handle: Handle, part: str, make: bool, listing: bool) -> Handle:
    try:
        return _open_existing(handle, part, listing)
    except FileNotFoundError:
        if not make:
            raise
    path, dir_fd = at(handle, part)
    try:
        os.mkdir(path, dir_fd=dir_fd)
    except FileExistsError:
        pass  # made meanwhile by another peer (or a link put there: refused below)
    return _open_existing(handle, part, listing)


def _open_existing(handle: Handle, part: str, listing: bool) -> Handle:
    if not isinstance(handle, int):
        path = handle + part
        st = os.lstat(path)
        if not stat.S_ISDIR(st.st_mode) or getattr(st, "st_file_attributes", 0) & _REPARSE_POINT:
            raise NotAFolder(errno.ENOTDIR, "a link or a file, not a folder", path)
        return os.path.join(path, "")
    try:
        return os.open(part, _O_LISTING if listing else _O_FOLDER, dir_fd=handle)
    except OSError as e:
        if e.errno in _NOT_A_FOLDER:
            raise NotAFolder(errno.ENOTDIR, "a link or a file, not a folder", part) from None
        raise


def entries(handle: Handle) -> list[os.DirEntry[str]]:
    """The entries of a folder opened for ``listing``; their ``stat(follow_symlinks=False)``
    works while ``handle`` is open."""
    with os.scandir(handle) as found:
        return list(found)


def remove_empty_folders(parent: Handle, name: str, root: Handle) -> None:
    """Remove the folder ``name`` of ``parent`` and every folder below it that is left empty,
    bottom up; a link is never descended, nor removed through (``rmdir`` refuses it)."""
    try:
        handle = _open_existing(parent, name, listing=True)
    except OSError:  # gone, a link, or a file: nothing of ours to remove
        return
    try:
        for entry in entries(handle):
            if entry.is_dir(follow_symlinks=False):
                remove_empty_folders(handle, entry.name, root)
    except OSError:
        pass
    finally:
        close(handle, root)
    path, dir_fd = at(parent, name)
    try:
        os.rmdir(path, dir_fd=dir_fd)
    except OSError:
        pass  # not empty: a record, or one a peer just wrote


def write_new(folder: Handle, name: str, data: bytes) -> bool:
    """Create ``name`` in ``folder`` holding ``data``; False if it exists (a link included)."""
    path, dir_fd = at(folder, name)
    try:
        fd = os.open(path, _O_NEW, 0o666, dir_fd=dir_fd)
    except FileExistsError:
        return False
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
    except BaseException:
        os.close(fd)
        unlink_quietly(folder, name)
        raise
    os.close(fd)
    return True


def replace(folder: Handle, name: str, target: Handle, new_name: str) -> None:
    """Rename ``name`` of ``folder`` to ``new_name`` of ``target``, over what is there (a link
    there is replaced, not followed; a link at ``name`` is moved itself)."""
    src, src_fd = at(folder, name)
    dst, dst_fd = at(target, new_name)
    os.replace(src, dst, src_dir_fd=src_fd, dst_dir_fd=dst_fd)


def unlink_quietly(folder: Handle, name: str) -> None:
    """Remove ``name`` of ``folder`` if it can be (a temp file of this process)."""
    path, dir_fd = at(folder, name)
    try:
        os.unlink(path, dir_fd=dir_fd)
    except OSError:
        pass


def is_record(folder: Handle, name: str, private: bool) -> bool:
    """True if ``name`` is a regular file; made readable by its owner only if ``private``
    and it is this user's, and linked nowhere else (a hard link planted in the folder
    shares its mode with a file outside)."""
    path, dir_fd = at(folder, name)
    try:
        fd = os.open(path, _O_READ, dir_fd=dir_fd)
    except OSError:
        return False
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            return False
        if private and st.st_nlink == 1 and hasattr(os, "fchmod"):
            try:
                os.fchmod(fd, 0o600)
            except OSError:
                pass  # another user's: moved as it is
        return True
    finally:
        os.close(fd)


def walk(folder: Handle, base: str, tail: str, weigh: bool) -> Iterator[StoredKey]:
    """Every regular file below ``folder`` whose name starts with ``tail``, as a key (with
    its size and age if ``weigh``): links, debris and other files are passed over."""
    try:
        found = entries(folder)
    except (FileNotFoundError, NotADirectoryError):
        return
    for entry in found:
        name = entry.name
        if not name.startswith(tail) or is_debris(name):
            continue
        try:
            if entry.is_dir(follow_symlinks=False):
                below = open_folder(folder, [name], listing=True)
                try:
                    yield from walk(below, base + name + "/", "", weigh)
                finally:
                    close(below, folder)
            elif entry.is_file(follow_symlinks=False):
                st = entry.stat(follow_symlinks=False) if weigh else None
                yield StoredKey(base + name, st.st_size if st else 0,
                                max(0.0, time.time() - st.st_mtime) if st else 0.0)
        except (FileNotFoundError, NotADirectoryError):
            continue  # deleted, or replaced by a link, since the folder was read


def planted(folder: Handle, base: str, names: frozenset[str] | None = None) -> Iterator[str]:
    """The names below ``folder`` (of ``names`` only, at its own level, if given) that are
    neither folders nor regular files: links, pipes, devices, sockets, which only a writer of
    the location puts there. Listed, never followed."""
    try:
        found = entries(folder)
    except (FileNotFoundError, NotADirectoryError):
        return
    for entry in found:
        if names is not None and entry.name not in names:
            continue
        try:
            if entry.is_dir(follow_symlinks=False):
                below = open_folder(folder, [entry.name], listing=True)
                try:
                    yield from planted(below, base + entry.name + "/")
                finally:
                    close(below, folder)
            elif not entry.is_file(follow_symlinks=False):
                yield base + entry.name
        except (FileNotFoundError, NotADirectoryError):
            continue  # deleted, or replaced by a link, since the folder was read
