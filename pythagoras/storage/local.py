"""The local-folder store: a directory on a local disk, an NFS or SMB mount, or a synced folder.

Writes go to a temp name in the root's ``.tmp`` folder and are then renamed over the target
with ``os.replace``, which is atomic on POSIX file systems and on NTFS, so a reader sees a
whole record or none. Temp names carry host, pid and a random part so that peers on several
machines never collide, and they contain ``.tmp-`` so that every reader skips them.
Exclusive creates write a temp file and hard-link it to the key (``link`` fails if the key
exists, atomically, on local disks and NFS), falling back to ``O_CREAT | O_EXCL`` where hard
links are not supported (some SMB shares).

No name leads out of the folder: every key is reached from a descriptor of the root, part by
part, and no link is followed, neither at a folder of its path nor at its name
(:mod:`pythagoras.storage.confined`). A link found inside is debris: reads and listings pass
it over, deletes and renames remove or move the link itself, never what it points to, and a
write through a linked folder fails with a :class:`~pythagoras.errors.StoreError` naming it.
"""

from __future__ import annotations

import errno
import itertools
import os
import socket
import stat
import time
import weakref
from collections.abc import Iterable, Iterator
from urllib.parse import unquote, urlparse

from ..errors import StoreError
from .base import Store, StoredKey, check_key, check_prefix
from .buffers import read_buffer
from .confined import (
    Handle,
    at,
    close,
    is_record,
    open_folder,
    open_root,
    remove_empty_folders,
    replace,
    unlink_quietly,
    walk,
    write_new,
)
from .hookspecs import hookimpl
from .unique import unique_hex

__all__ = ["LocalFolderStore", "pythagoras_open_store"]

_O_BINARY = getattr(os, "O_BINARY", 0)
_O_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
# A record is a regular file of the folder: never followed out of it through a link at its
# name, and never waited on (a named pipe planted there would block the open for ever).
_O_READ = os.O_RDONLY | _O_BINARY | _O_NOFOLLOW | getattr(os, "O_NONBLOCK", 0)
# link() names a temp file another writer of the folder could have swapped for a link: link
# the link itself, never what it points to.
_LINK_OPTIONS = {"follow_symlinks": False} if os.link in os.supports_follow_symlinks else {}
_PAGE = 4096  # bytes written in one piece by create_small
_HOST = "".join(c if c.isalnum() else "_" for c in socket.gethostname())[:40] or "host"
_TEMP = ".tmp"


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
            self._folder = _Root(root)
        except NotADirectoryError:
            raise StoreError(f"{root!r} exists and is not a folder; give pythagoras a folder") \
                from None
        except OSError as e:
            raise StoreError(f"cannot open the folder {root!r} as a pythagoras store: {e}") from e
        if not os.path.isdir(root):
            raise StoreError(f"{root!r} exists and is not a folder; give pythagoras a folder")

    # -- where a key is -------------------------------------------------------------------

    def _locate(self, key: str, *, make: bool = False) -> tuple[Handle, str]:
        """The handle of ``key``'s folder (the caller closes it) and its last part. Raises
        ``FileNotFoundError`` or ``NotADirectoryError`` where the folder is not there (or a
        part is a link or a file); with ``make``, makes it, or names the link that is in the way."""
        head, _, name = check_key(key).rpartition("/")
        parts = head.split("/") if head else []
        if not make:
            return open_folder(self._folder.handle, parts), name
        return self._made_folder(parts, key), name

    def _made_folder(self, parts: list[str], key: str) -> Handle:
        """A handle of the folder ``parts`` names, made if it is missing, for writing ``key``."""
        try:
            return open_folder(self._folder.handle, parts, make=True)
        except NotADirectoryError as e:
            raise StoreError(
                f"cannot write {key!r} at {self.location}: a part of its path ({e.filename}) "
                "is a link or a file, not a folder; pythagoras follows no link out of its "
                "location: remove it, or open another folder") from e

    def _close(self, handle: Handle) -> None:
        close(handle, self._folder.handle)

    # -- bytes ----------------------------------------------------------------------------

    def read(self, key: str) -> bytearray | memoryview | None:
        fd = self._open_record(key)
        if fd is None:
            return None
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode):  # a directory (the key is only a prefix of
                return None  # others), or a pipe or a device planted there: not a record
            if st.st_size > self.limit_of(key):
                self.refuse_oversized(key, st.st_size)
                return None
            data = read_buffer(st.st_size)
            done = _readinto(fd, data) if data else 0
            while done < len(data):  # a short read, as network file systems may give
                got = _readinto(fd, memoryview(data)[done:])
                if not got:  # the file shrank: hand back what is there; the frame says it is torn
                    return data[:done]
                done += got
            return data
        finally:
            os.close(fd)

    def _open_record(self, key: str, flags: int = _O_READ) -> int | None:
        """A descriptor of the file at ``key``; None where there is none (or a link)."""
        try:
            folder, name = self._locate(key)
        except (FileNotFoundError, NotADirectoryError):
            return None
        path, dir_fd = at(folder, name)
        try:
            return os.open(path, flags, dir_fd=dir_fd)
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            return None
        except OSError as e:
            if e.errno == errno.ELOOP:  # a symbolic link at the key: not a record of the folder
                return None
            if isinstance(e, PermissionError) and self._is_folder(folder, name):
                return None  # Windows opening a directory
            raise
        finally:
            self._close(folder)

    def _write_temp(self, name: str, data: bytes) -> tuple[Handle, str]:
        """Write ``data`` to a new temp file for ``name``: the handle of its folder (the caller
        closes it) and its name. Temp files live in the root's ``.tmp`` folder, on the same
        file system as every key (a link or a rename moves them into place), and outside the
        folders peers watch: a watcher would handle each temp name as well as each record."""
        temp = self._made_folder([_TEMP], name)
        tmp = name + _temp_suffix()
        try:
            write_new(temp, tmp, data)
        except BaseException:
            self._close(temp)
            raise
        return temp, tmp

    def write(self, key: str, data: bytes) -> None:
        folder, name = self._locate(key, make=True)
        try:
            temp, tmp = self._write_temp(name, data)
            try:
                replace(temp, tmp, folder, name)
            except BaseException:
                unlink_quietly(temp, tmp)
                raise
            finally:
                self._close(temp)
        finally:
            self._close(folder)

    def create(self, key: str, data: bytes) -> bool:
        # Write the whole content under a temp name, then hard-link it to the key: link() fails
        # with EEXIST if the key exists, atomically, and a reader never sees a partial claim.
        # Where hard links are not supported, fall back to O_CREAT|O_EXCL and write in place.
        folder, name = self._locate(key, make=True)
        try:
            temp, tmp = self._write_temp(name, data)
            try:
                src, src_fd = at(temp, tmp)
                dst, dst_fd = at(folder, name)
                os.link(src, dst, src_dir_fd=src_fd, dst_dir_fd=dst_fd, **_LINK_OPTIONS)
                return True
            except FileExistsError:
                return False
            except OSError:
                return write_new(folder, name, data)
            finally:
                unlink_quietly(temp, tmp)
                self._close(temp)
        finally:
            self._close(folder)

    def create_small(self, key: str, data: bytes) -> bool:
        # One write() of a page at most, at offset 0 of a new file: a reader on this machine
        # sees the file empty or whole (the size is set once the page holds the bytes), and
        # one on a network share after the close, which sends them in one request.
        if len(data) > _PAGE:
            return self.create(key, data)
        folder, name = self._locate(key, make=True)
        try:
            return write_new(folder, name, data)
        finally:
            self._close(folder)

    def delete(self, key: str) -> bool:
        try:
            folder, name = self._locate(key)
        except (FileNotFoundError, NotADirectoryError):
            return False
        try:
            return self._unlink(folder, name)
        finally:
            self._close(folder)

    def _unlink(self, folder: Handle, name: str) -> bool:
        path, dir_fd = at(folder, name)
        try:
            os.unlink(path, dir_fd=dir_fd)  # a link at the name goes, not what it points to
            return True
        except (FileNotFoundError, NotADirectoryError):
            return False
        except OSError:  # EISDIR on Linux, EPERM on macOS: the key is only a directory
            if self._is_folder(folder, name):
                return False
            raise

    def delete_many(self, keys: Iterable[str]) -> None:
        """Delete the keys, then the folders that are left empty under their top folders and
        the temp folder (writers make them again). A key under a linked folder is passed
        over: nothing is deleted through a link, out of the folder."""
        tops = set()
        for head, group in itertools.groupby(sorted(check_key(k) for k in keys), key=_head):
            try:
                folder = open_folder(self._folder.handle, head.split("/") if head else [])
            except (FileNotFoundError, NotADirectoryError):
                continue  # gone, or a link: nothing is deleted through it
            try:
                for key in group:
                    self._unlink(folder, key.rpartition("/")[2])
            finally:
                self._close(folder)
            if head:
                tops.add(head.partition("/")[0])
        for top in sorted(tops) + [_TEMP]:
            remove_empty_folders(self._folder.handle, top, self._folder.handle)

    def move(self, key: str, new_key: str, *, private: bool = False) -> bool:
        """One ``rename`` inside the folder; the link itself where ``key`` is a link."""
        check_key(new_key)
        try:
            folder, name = self._locate(key)
        except (FileNotFoundError, NotADirectoryError):
            return False
        try:
            if not is_record(folder, name, private):
                return False
            target, new_name = self._locate(new_key, make=True)
            try:
                replace(folder, name, target, new_name)
            except FileNotFoundError:
                return False  # deleted meanwhile
            finally:
                self._close(target)
            return True
        finally:
            self._close(folder)

    # -- listing --------------------------------------------------------------------------

    def list(self, prefix: str = "") -> Iterator[str]:
        check_prefix(prefix)  # here, not in the generator, so that a bad prefix fails at the call
        return (found.key for found in self._walk_prefix(prefix, weigh=False))

    def scan(self, prefix: str = "") -> Iterator[StoredKey]:
        """The keys under ``prefix`` with their sizes and ages, one ``scandir`` a folder."""
        check_prefix(prefix)
        return self._walk_prefix(prefix, weigh=True)

    def _walk_prefix(self, prefix: str, weigh: bool) -> Iterator[StoredKey]:
        # Descend only into the folder the prefix names, then filter by its last part.
        head, _, tail = prefix.rpartition("/")
        try:
            start = open_folder(self._folder.handle, head.split("/") if head else [], listing=True)
        except (FileNotFoundError, NotADirectoryError):
            return
        try:
            yield from walk(start, head + "/" if head else "", tail, weigh)
        finally:
            self._close(start)

    # -- metadata -------------------------------------------------------------------------

    def _stat(self, key: str) -> os.stat_result | None:
        """The stat of the regular file at ``key``, the link itself never followed; or None."""
        try:
            folder, name = self._locate(key)
        except (FileNotFoundError, NotADirectoryError):
            return None
        path, dir_fd = at(folder, name)
        try:
            st = os.stat(path, dir_fd=dir_fd, follow_symlinks=False)
        except (FileNotFoundError, NotADirectoryError):
            return None
        finally:
            self._close(folder)
        return st if stat.S_ISREG(st.st_mode) else None

    def _is_folder(self, folder: Handle, name: str) -> bool:
        path, dir_fd = at(folder, name)
        try:
            return stat.S_ISDIR(os.stat(path, dir_fd=dir_fd, follow_symlinks=False).st_mode)
        except OSError:
            return False

    def age(self, key: str) -> float | None:
        st = self._stat(key)
        return None if st is None else max(0.0, time.time() - st.st_mtime)

    def exists(self, key: str) -> bool:
        return self._stat(key) is not None

    def size(self, key: str) -> int | None:
        st = self._stat(key)
        return None if st is None else st.st_size


class _Root:
    """The descriptor of a store's folder, closed when no store holds it; equal for two
    stores of one folder (a store's fields compare equal after it is pickled and opened
    again). Pickled by its path, and opened anew where it is loaded: a descriptor's number
    means nothing in another process (or names another folder there, where every key would
    then be read and written), nor here once the store that opened it is gone."""

    __slots__ = ("__weakref__", "handle", "path")

    def __init__(self, path: str) -> None:
        self.handle = open_root(path)
        self.path = path
        if isinstance(self.handle, int):
            weakref.finalize(self, os.close, self.handle)

    def __reduce__(self) -> tuple[type[_Root], tuple[str]]:
        return _Root, (self.path,)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Root) and other.path == self.path

    def __hash__(self) -> int:
        return hash(self.path)


def _head(key: str) -> str:
    return key.rpartition("/")[0]


if hasattr(os, "readv"):

    def _readinto(fd: int, buffer: bytearray | memoryview) -> int:
        return os.readv(fd, [buffer])

else:  # Windows

    def _readinto(fd: int, buffer: bytearray | memoryview) -> int:
        chunk = os.read(fd, len(buffer))
        buffer[: len(chunk)] = chunk
        return len(chunk)


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
