"""The local-folder store: a directory on a local disk, an NFS or SMB mount, or a synced folder.

Writes go to a temp name in the target's own directory and are then renamed over the target
with ``os.replace``, which is atomic on POSIX file systems and on NTFS, so a reader sees a
whole record or none. Temp names carry host, pid and a random part so that peers on several
machines never collide, and they start with ``.`` so that every reader skips them.
Exclusive creates write a temp file and hard-link it to the key (``link`` fails if the key
exists, atomically, on local disks and NFS), falling back to ``O_CREAT | O_EXCL`` where hard
links are not supported (some SMB shares).
"""

from __future__ import annotations

import errno
import os
import socket
import stat
import time
from collections.abc import Iterable, Iterator
from urllib.parse import unquote, urlparse

from ..errors import StoreError
from .base import Store, StoredKey, check_key, check_prefix, is_debris
from .hookspecs import hookimpl
from .unique import unique_hex

__all__ = ["LocalFolderStore", "pythagoras_open_store"]

_O_BINARY = getattr(os, "O_BINARY", 0)
# A record is a regular file of the folder: never followed out of it through a link at its
# name, and never waited on (a named pipe planted there would block the open for ever).
_O_READ = os.O_RDONLY | _O_BINARY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
_O_NEW = os.O_WRONLY | os.O_CREAT | os.O_EXCL | _O_BINARY
_PAGE = 4096  # bytes written in one piece by create_small
_HOST = "".join(c if c.isalnum() else "_" for c in socket.gethostname())[:40] or "host"


def _temp_suffix() -> str:
    return f".tmp-{_HOST}-{os.getpid()}-{unique_hex(24)}"


class LocalFolderStore(Store):
    """A store kept as files under one root directory; a key's ``/`` parts are subdirectories."""

    atomic_create = True

    def __init__(self, root: str | os.PathLike[str]) -> None:
        root = os.path.abspath(os.path.expanduser(os.fspath(root)))
        super().__init__(root)
        try:
            os.makedirs(root, exist_ok=True)
        except OSError as e:
            raise StoreError(f"cannot open the folder {root!r} as a pythagoras store: {e}") from e
        if not os.path.isdir(root):
            raise StoreError(f"{root!r} exists and is not a folder; give pythagoras a folder")
        self._root = root + os.sep
        self._temp_dir = os.path.join(root, ".tmp", "")

    def _path(self, key: str) -> str:
        check_key(key)
        return self._root + key if os.sep == "/" else self._root + key.replace("/", os.sep)

    def read(self, key: str) -> bytearray | None:
        try:
            fd = os.open(self._path(key), _O_READ)
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            return None
        except OSError as e:
            if e.errno == errno.ELOOP:  # a symbolic link at the key: not a record of the folder
                return None
            if not isinstance(e, PermissionError):
                raise
            if os.path.isdir(self._path(key)):  # Windows opening a directory
                return None
            raise
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode):  # a directory (the key is only a prefix of
                return None  # others), or a pipe or a device planted there: not a record
            data = bytearray(st.st_size)
            done = _readinto(fd, data) if data else 0
            while done < len(data):  # a short read, as network file systems may give
                got = _readinto(fd, memoryview(data)[done:])
                if not got:  # the file shrank: hand back what is there; the frame says it is torn
                    del data[done:]
                    break
                done += got
            return data
        finally:
            os.close(fd)

    def _write_temp(self, path: str, data: bytes) -> str:
        """Write ``data`` to a new temp file for ``path`` and return its name. Temp files live
        in the root's ``.tmp`` folder, on the same file system as every key (a link or a
        rename moves them into place), and outside the folders peers watch: a watcher would
        handle each temp name as well as each record, twice the work for nothing."""
        tmp = self._temp_dir + os.path.basename(path) + _temp_suffix()
        try:
            fd = os.open(tmp, _O_NEW, 0o666)
        except FileNotFoundError:
            os.makedirs(self._temp_dir, exist_ok=True)
            fd = os.open(tmp, _O_NEW, 0o666)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
        except BaseException:
            os.close(fd)
            _unlink_quietly(tmp)
            raise
        os.close(fd)
        return tmp

    def write(self, key: str, data: bytes) -> None:
        path = self._path(key)
        tmp = self._write_temp(path, data)
        try:
            try:
                os.replace(tmp, path)
            except FileNotFoundError:  # the key's folder is new
                os.makedirs(os.path.dirname(path), exist_ok=True)
                os.replace(tmp, path)
        except BaseException:
            _unlink_quietly(tmp)
            raise

    def create(self, key: str, data: bytes) -> bool:
        # Write the whole content under a temp name, then hard-link it to the key: link() fails
        # with EEXIST if the key exists, atomically, and a reader never sees a partial claim.
        # Where hard links are not supported, fall back to O_CREAT|O_EXCL and write in place.
        path = self._path(key)
        tmp = self._write_temp(path, data)
        try:
            try:
                os.link(tmp, path)
            except FileNotFoundError:  # the key's folder is new
                os.makedirs(os.path.dirname(path), exist_ok=True)
                os.link(tmp, path)
            return True
        except FileExistsError:
            return False
        except OSError:
            return self._create_in_place(path, data)
        finally:
            _unlink_quietly(tmp)

    def create_small(self, key: str, data: bytes) -> bool:
        # One write() of a page at most, at offset 0 of a new file: a reader on this machine
        # sees the file empty or whole (the size is set once the page holds the bytes), and
        # one on a network share after the close, which sends them in one request.
        if len(data) > _PAGE:
            return self.create(key, data)
        path = self._path(key)
        try:
            return self._create_in_place(path, data)
        except FileNotFoundError:  # the key's folder is new
            os.makedirs(os.path.dirname(path), exist_ok=True)
            return self._create_in_place(path, data)

    def _create_in_place(self, path: str, data: bytes) -> bool:
        try:
            fd = os.open(path, _O_NEW, 0o666)
        except FileExistsError:
            return False
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
        except BaseException:
            os.close(fd)
            _unlink_quietly(path)
            raise
        os.close(fd)
        return True

    def delete(self, key: str) -> bool:
        path = self._path(key)
        try:
            os.unlink(path)
            return True
        except (FileNotFoundError, NotADirectoryError):
            return False
        except OSError:  # EISDIR on Linux, EPERM on macOS: the key is only a directory
            if os.path.isdir(path):
                return False
            raise

    def delete_many(self, keys: Iterable[str]) -> None:
        """Delete the keys, then the folders that are left empty under their top folders and
        the temp folder (writers make them again). A key under a folder of the root that is a
        link is passed over: nothing is deleted through a link, out of the folder."""
        inside: dict[str, bool] = {}  # a key's folder -> every part of it is a real folder
        tops = set()
        for key in keys:
            head = check_key(key).rpartition("/")[0]
            if head not in inside:
                inside[head] = self._real_folder(head) is not None
            if inside[head]:
                self.delete(key)  # unlink: a link at the key is removed, its target is not
                tops.add(key.partition("/")[0])
        for top in sorted(tops) + [".tmp"]:
            if self._real_folder(top) is not None:
                _remove_empty_folders(self._root + top)

    def _real_folder(self, head: str) -> str | None:
        """The path of the folder ``head`` ('a/b') names if each of its parts is a folder of
        the root, not a link to one elsewhere; None otherwise (or if it does not exist)."""
        path = self._root.rstrip(os.sep)
        for part in head.split("/") if head else ():
            path = os.path.join(path, part)
            try:
                if not stat.S_ISDIR(os.lstat(path).st_mode):
                    return None
            except OSError:
                return None
        return path

    def scan(self, prefix: str = "") -> Iterator[StoredKey]:
        """The keys under ``prefix`` with their sizes and ages, one ``scandir`` a folder: only
        regular files, and only in real folders of the root (no link is followed out of it)."""
        check_prefix(prefix)
        head, _, tail = prefix.rpartition("/")
        start = self._real_folder(head)
        return iter(()) if start is None else self._scan(start, head + "/" if head else "", tail)

    def _scan(self, directory: str, base: str, tail: str) -> Iterator[StoredKey]:
        try:
            entries = list(os.scandir(directory))
        except (FileNotFoundError, NotADirectoryError):
            return
        for entry in entries:
            name = entry.name
            if not name.startswith(tail) or is_debris(name):
                continue
            try:
                st = entry.stat(follow_symlinks=False)
            except FileNotFoundError:
                continue  # deleted since the folder was read
            if stat.S_ISDIR(st.st_mode):
                yield from self._scan(entry.path, base + name + "/", "")
            elif stat.S_ISREG(st.st_mode):
                yield StoredKey(base + name, st.st_size, max(0.0, time.time() - st.st_mtime))

    def list(self, prefix: str = "") -> Iterator[str]:
        check_prefix(prefix)  # here, not in the generator, so that a bad prefix fails at the call
        return self._list(prefix)

    def _list(self, prefix: str) -> Iterator[str]:
        # Descend only into the directory the prefix names, then filter by its last part.
        head, _, tail = prefix.rpartition("/")
        start = self._root + head.replace("/", os.sep) if head else self._root.rstrip(os.sep)
        base = head + "/" if head else ""
        yield from self._walk(start, base, tail)

    def _walk(self, directory: str, base: str, tail: str) -> Iterator[str]:
        try:
            entries = list(os.scandir(directory))
        except (FileNotFoundError, NotADirectoryError):
            return
        for entry in entries:
            name = entry.name
            if not name.startswith(tail) or is_debris(name):
                continue
            if entry.is_dir(follow_symlinks=False):
                yield from self._walk(entry.path, base + name + "/", "")
            else:
                yield base + name

    def age(self, key: str) -> float | None:
        try:
            st = os.stat(self._path(key))
        except (FileNotFoundError, NotADirectoryError):
            return None
        if not stat.S_ISREG(st.st_mode):
            return None
        return max(0.0, time.time() - st.st_mtime)

    def exists(self, key: str) -> bool:
        return os.path.isfile(self._path(key))

    def size(self, key: str) -> int | None:
        try:
            st = os.stat(self._path(key))
        except (FileNotFoundError, NotADirectoryError):
            return None
        return st.st_size if stat.S_ISREG(st.st_mode) else None


if hasattr(os, "readv"):

    def _readinto(fd: int, buffer: bytearray | memoryview) -> int:
        return os.readv(fd, [buffer])

else:  # Windows

    def _readinto(fd: int, buffer: bytearray | memoryview) -> int:
        chunk = os.read(fd, len(buffer))
        buffer[: len(chunk)] = chunk
        return len(chunk)


def _remove_empty_folders(top: str) -> None:
    for directory, _, _ in os.walk(top, topdown=False):  # links to folders are not walked
        try:
            os.rmdir(directory)
        except OSError:
            pass  # not empty: a record, or one a peer just wrote


def _unlink_quietly(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


@hookimpl
def pythagoras_open_store(location: str, storage_options: dict[str, object]) -> Store | None:
    """Open plain paths and ``file://`` URLs; leave every other scheme to other plugins."""
    if "://" in location:
        parsed = urlparse(location)
        if parsed.scheme != "file":
            return None
        if parsed.netloc not in ("", "localhost"):
            raise StoreError(
                f"{location!r} names the host {parsed.netloc!r}; a file:// URL must name a folder "
                "on this machine (file:///path/to/folder); mount a remote share and give its path"
            )
        location = unquote(parsed.path)
    if storage_options:
        raise StoreError(
            f"a local folder takes no storage_options (got {sorted(storage_options)}); "
            "drop them, or give a URL such as s3://bucket/prefix"
        )
    return LocalFolderStore(location)
