"""The plugin manager, and opening a store by location through it."""

from __future__ import annotations

import functools
import os
import stat
import warnings
from collections.abc import Mapping

import pluggy

from ..errors import StoreError
from . import hookspecs
from .base import Store
from .credentials import remember_options
from .local import LocalFolderStore
from .signed import Secret, SignedStore, resolve_secret
from .swarm_id import refuse_if_signed

__all__ = ["open_store", "plugin_manager"]


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
    *, secret: Secret | None = None,
) -> Store:
    """The store that serves ``location`` (a folder path or a URL such as ``s3://bucket/x``).

    With a swarm secret (``secret``, else ``$PYTHAGORAS_SECRET`` or ``$PYTHAGORAS_SECRET_FILE``)
    every record is signed and checked (:class:`~pythagoras.storage.signed.SignedStore`).
    Without one, a folder that other users may write to draws a warning, once. Either way,
    :class:`~pythagoras.storage.swarm_id.SecretMismatch` if the location is a swarm signed
    with another secret, or a signed one and this process has none.
    """
    if isinstance(location, Store):
        return location
    text = os.fspath(location)
    if not text:
        raise StoreError("an empty location names no store; give a folder path or a URL")
    store: Store | None = plugin_manager().hook.pythagoras_open_store(
        location=text, storage_options=dict(storage_options or {})
    )
    if store is None:
        scheme = text.split("://", 1)[0]
        raise StoreError(
            f"no store plugin serves {text!r}: for {scheme}:// install the package that "
            f"provides it (for s3://, pip install 'pythagoras[s3]'), or give a folder path"
        )
    key = resolve_secret(secret)
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
