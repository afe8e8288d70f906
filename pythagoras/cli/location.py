"""The location ``pythagoras status`` and ``pythagoras clear`` open, creating nothing.

A plain path or ``file://`` URL is checked before it is opened (opening a local folder creates
it, which a worker wants and these commands must not); see :mod:`pythagoras.cli.status`.
"""

from __future__ import annotations

import os
import stat
from urllib.parse import unquote, urlparse

from ..errors import StoreError
from ..storage.base import Store
from ..storage.location import check_location, resolve_location
from ..storage.plugins import open_store

__all__ = ["open_location"]


def open_location(location: str | None, storage_options: dict[str, object] | None = None,
                  secret: str | bytes | os.PathLike[str] | None = None) -> Store:
    """The store at ``location`` (None: the default location), creating nothing.

    Raises :class:`StoreError` with a one-line message for a local path that does not exist,
    is not a folder or cannot be read, and for any error opening another store.
    """
    where = resolve_location(location)
    check_location(where)  # before a URL of a wrong form is taken for a missing folder
    path = _local_path(where)
    if path is not None:
        _check_folder(path)
    try:
        return open_store(where, storage_options, secret=secret)
    except StoreError:
        raise
    except Exception as e:  # a backend's own error for bad options or credentials
        raise StoreError(f"cannot open {where!r}: {type(e).__name__}: {e}") from e


def _local_path(location: str) -> str | None:
    """The folder the local store would open for ``location``; None for another store's URL."""
    if "://" not in location:
        path = location
    else:
        parsed = urlparse(location)
        if parsed.scheme != "file" or parsed.netloc not in ("", "localhost"):
            return None  # another store's, or a file:// URL the store itself refuses
        path = unquote(parsed.path)
    return os.path.abspath(os.path.expanduser(path)) if path else None


def _check_folder(path: str) -> None:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise StoreError(f"no folder at {path}: nothing has used it as a swarm (status and clear "
                         "create nothing; a worker or an executor creates it)") from None
    except NotADirectoryError:
        raise StoreError(f"{path} is not a folder: part of its path is a file") from None
    except OSError as e:
        raise StoreError(f"cannot read {path}: {e.strerror or e}") from None
    if not stat.S_ISDIR(st.st_mode):
        raise StoreError(f"{path} is a file, not a folder; give the swarm's folder")
    try:
        with os.scandir(path):
            pass
    except OSError as e:
        raise StoreError(f"cannot read the folder {path}: {e.strerror or e}") from None
