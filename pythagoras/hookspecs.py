"""The hooks pythagoras calls; plugins implement them with ``@pythagoras.hookimpl``.

Plugins are found through the entry-point group ``pythagoras``. The built-in local-folder
store is registered the same way, so a third-party store is a peer of the built-in one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from .storage.base import Store

__all__ = ["hookimpl", "hookspec"]

hookspec = pluggy.HookspecMarker("pythagoras")
hookimpl = pluggy.HookimplMarker("pythagoras")


@hookspec(firstresult=True)
def pythagoras_open_store(location: str, storage_options: dict[str, object]) -> Store | None:
    """Open the store at ``location``, or return None if this plugin does not serve it.

    The first plugin to return a store wins; plugins registered later are asked first.
    """
