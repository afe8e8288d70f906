"""The plugin manager, and opening a store by location through it."""

from __future__ import annotations

import functools
import os
from collections.abc import Mapping

import pluggy

from . import hookspecs
from .errors import StoreError
from .storage.base import Store

__all__ = ["open_store", "plugin_manager"]


@functools.cache
def plugin_manager() -> pluggy.PluginManager:
    """The process's plugin manager: hook specs, the built-in plugins, then entry points."""
    from .storage import fsspec_store, local

    pm = pluggy.PluginManager("pythagoras")
    pm.add_hookspecs(hookspecs)
    pm.register(local, name="local_folder")
    pm.register(fsspec_store, name="fsspec")
    pm.load_setuptools_entrypoints("pythagoras")
    return pm


def open_store(
    location: str | os.PathLike[str], storage_options: Mapping[str, object] | None = None
) -> Store:
    """The store that serves ``location`` (a folder path or a URL such as ``s3://bucket/x``)."""
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
    return store
