"""A tiny third-party store plugin, as ``docs/plugins.md`` shows how to write one.

It serves ``dict://NAME`` with one in-process :class:`~pythagoras.storage.memory.MemoryStore`
per name. A package makes pythagoras find it with an entry point in the group ``pythagoras``::

    [project.entry-points.pythagoras]
    dictstore = "pythagoras_dictstore"
"""

from __future__ import annotations

from pythagoras.storage.base import Store
from pythagoras.storage.hookspecs import hookimpl
from pythagoras.storage.memory import MemoryStore

_STORES: dict[str, MemoryStore] = {}


@hookimpl
def pythagoras_open_store(location: str, storage_options: dict[str, object]) -> Store | None:
    if not location.startswith("dict://"):
        return None  # not ours: the next plugin is asked
    return _STORES.setdefault(location, MemoryStore(location))
