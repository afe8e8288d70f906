"""The plugin manager, and opening a store by location through it."""

from __future__ import annotations

import functools
import os
import stat
import warnings
from collections.abc import Mapping
from typing import Final

import pluggy

from ..errors import StoreError
from . import hookspecs
from .base import Store
from .credentials import remember_options
from .local import LocalFolderStore
from .location import check_location, create_default
from .signed import Secret, SignedStore, resolve_secret
from .swarm_id import refuse_if_signed
from .tier import read_through

__all__ = ["open_store", "others_may_write", "plugin_manager"]


@functools.cache
def plugin_manager() -> pluggy.PluginManager:
    """The process's plugin manager: hook specs, the built-in plugins, then entry points."""
    from . import fsspec_store, local

    pm = pluggy.PluginManager("pythagoras")
    pm.add_hookspecs(hookspecs)
    pm.register(local, name="local_folder")
    pm.register(fsspec_store, name="fsspec")
    pm.load_setuptools_entrypoints("pythagoras")
    return pm


def open_store(
    location: str | os.PathLike[str], storage_options: Mapping[str, object] | None = None,
    *, secret: Secret | None = None, cache_dir: str | os.PathLike[str] | bool | None = None,
) -> Store:
    """The store that serves ``location`` (a folder path or a URL such as ``s3://bucket/x``).

    A location that looks like a URL of a wrong form (``s3:/x``) is a :class:`StoreError` that
    names the right one; the embedded default folder is created 0700
    (:mod:`pythagoras.storage.location`).

    With a swarm secret (``secret``, else ``$PYTHAGORAS_SECRET`` or ``$PYTHAGORAS_SECRET_FILE``)
    every record is signed and checked (:class:`~pythagoras.storage.signed.SignedStore`).
    Without one, a folder that other users may write to draws a warning, once. Either way,
    :class:`~pythagoras.storage.swarm_id.SecretMismatch` if the location is a swarm signed
    with another secret, or a signed one and this process has none.

    A remote store keeps the write-once records it reads or writes in a local folder, below
    the signing (:mod:`pythagoras.storage.tier`): ``cache_dir``, else
    ``$PYTHAGORAS_CACHE_DIR``, else the user's cache directory; ``cache_dir=False`` (or
    ``PYTHAGORAS_CACHE_DIR=""``) keeps none.
    """
    if isinstance(location, Store):
        return location
    text = os.fspath(location)
    if not text:
        raise StoreError("an empty location names no store; give a folder path or a URL")
    check_location(text)
    create_default(text)
    store: Store | None = plugin_manager().hook.pythagoras_open_store(
        location=text, storage_options=dict(storage_options or {})
    )
    if store is None:
        scheme = text.split("://", 1)[0]
        raise StoreError(
            f"no store plugin serves {text!r}: for {scheme}:// install the package that "
            f"provides it (for s3://, pip install 'pythagoras-swarm[s3]'), or give a folder path"
        )
    key = resolve_secret(secret)
    store = read_through(store, storage_options, cache_dir)
    if key is not None:
        store = SignedStore(store, key)
    else:
        refuse_if_signed(store)
        _warn_if_others_may_write(store)
    remember_options(store.location, storage_options)
    return store


_warned: set[str] = set()


def _warn_if_others_may_write(store: Store) -> None:
    if not isinstance(store, LocalFolderStore) or store.location in _warned:
        return
    try:
        mode = os.stat(store.location).st_mode
    except OSError:
        return
    if mode & (stat.S_IWGRP | stat.S_IWOTH):
        _warned.add(store.location)
        warnings.warn(
            f"pythagoras: other users may write to {store.location!r}, and whoever writes there "
            "can make this process run code. Give the swarm a secret (secret=, "
            "$PYTHAGORAS_SECRET) so that only its members' records are loaded, or make the "
            "folder yours alone (docs/trust.md).", RuntimeWarning, stacklevel=3)


#: Folders that sync services keep in step with every account they are shared with (compared
#: in lower case; "Dropbox (Team)", "OneDrive - Company" by their first word).
_SYNC_FOLDERS: Final = frozenset({
    "dropbox", "google drive", "googledrive", "my drive", "onedrive", "icloud drive",
    "mobile documents", "cloudstorage", "box", "box sync", "pcloud drive", "nextcloud",
    "owncloud", "seafile", "resilio sync", "sync"})


def others_may_write(store: Store) -> str | None:
    """Why others than this user may write the unsigned ``store``'s location (a remote store;
    a sync folder; a folder writable by its group or everyone, or one whose parent others may
    write without the sticky bit, so that they may put another folder in its place); None
    for a signed store, and for a folder of this user's alone."""
    if isinstance(store, SignedStore):
        return None
    if store.remote:
        return f"it is a remote store ({store.location}): whoever has write access to it"
    if not isinstance(store, LocalFolderStore):
        return None
    path = os.path.abspath(store.location)
    for part in path.split(os.sep):
        name = part.lower()
        if name in _SYNC_FOLDERS or name.split(" ")[0] in ("dropbox", "onedrive"):
            return f"it is in a sync folder ({part}): everyone it is shared with"
    return _writable_by_others(path)


def _writable_by_others(path: str) -> str | None:
    """Whose write the folder or one of its parents lets in, or None."""
    folder = path
    while True:
        try:
            mode = os.stat(folder).st_mode
        except OSError:
            return None
        others = mode & (stat.S_IWGRP | stat.S_IWOTH)
        if folder == path and others:
            return f"other users of this machine may write to it (mode {stat.S_IMODE(mode):o})"
        if folder != path and others and not mode & stat.S_ISVTX:
            return (f"other users of this machine may write to its parent {folder} (mode "
                    f"{stat.S_IMODE(mode):o}), and put another folder in its place")
        parent = os.path.dirname(folder)
        if parent == folder:
            return None
        folder = parent
