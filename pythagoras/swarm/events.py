"""The events of calls, and firing them to the plugins that subscribe to them.

The hooks are specified in :mod:`pythagoras.storage.hookspecs` (``pythagoras_call_submitted``,
``..._started``, ``..._finished``, ``..._failed``); each receives one :class:`CallEvent`. The
executor fires the submitter's events and the peer the runner's, through :func:`fire`. Building
an event costs about a microsecond, so callers first ask :func:`listened`, a few tenths of a
microsecond when no plugin implements the hooks (a hit costs about 30). Each plugin's
implementation is called on its own: one that raises is logged and the others still receive the
event (unless a plugin wraps the hook, as a pluggy hook wrapper: then the hook is called as a
whole, and one that raises ends that event's delivery; it is still logged and ignored).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

import pluggy

from ..storage.plugins import plugin_manager

if TYPE_CHECKING:
    from .protocol import Call

__all__ = ["FAILED", "FINISHED", "STARTED", "SUBMITTED", "CallEvent", "describe", "fire",
           "listened"]

log = logging.getLogger("pythagoras")

SUBMITTED: Final = "pythagoras_call_submitted"
STARTED: Final = "pythagoras_call_started"
FINISHED: Final = "pythagoras_call_finished"
FAILED: Final = "pythagoras_call_failed"


@dataclass(frozen=True, slots=True)
class CallEvent:
    """One event of one call, as one process saw it."""

    address: str  # the call's address, "<function id>/<arguments hash>" (32 hex digits each)
    function: str  # the function's qualified name, as the call's request records it
    location: str  # the store's location
    peer: str  # the id of this process's peer
    side: str  # "submitter" or "runner"
    cached: bool = False  # submitter: the outcome was stored already when the call was submitted
    seconds: float | None = None  # runner: from handing the call to the pool to its completion
    error: str | None = None  # failed: "ExceptionType: message"

    @classmethod
    def of(cls, call: Call, location: str, peer: str, side: str, *, cached: bool = False,
           seconds: float | None = None, error: str | None = None) -> CallEvent:
        return cls(str(call.address), call.name, location, peer, side, cached, seconds, error)


_callers: tuple[pluggy.PluginManager, dict[str, pluggy.HookCaller]] | None = None


def _hooks() -> dict[str, pluggy.HookCaller]:
    """The event hooks of the process's plugin manager, by name (looked up once per manager)."""
    global _callers
    manager = plugin_manager()
    callers = _callers
    if callers is None or callers[0] is not manager:
        callers = _callers = (manager, {name: getattr(manager.hook, name)
                                        for name in (SUBMITTED, STARTED, FINISHED, FAILED)})
    return callers[1]


def listened(*names: str) -> bool:
    """True if a plugin implements any of the hooks ``names``: only then is an event worth
    building."""
    hooks = _hooks()
    for name in names:  # a loop, not any(): this runs once per call submitted
        if hooks[name].get_hookimpls():
            return True
    return False


def fire(name: str, event: CallEvent) -> None:
    """Call every implementation of the hook ``name`` with ``event``; what one raises is logged."""
    hook = _hooks()[name]
    impls = hook.get_hookimpls()
    if not impls:
        return
    for impl in impls:
        if impl.wrapper or impl.hookwrapper:  # pluggy's own call then, all or none
            try:
                hook(event=event)
            except Exception:
                log.exception("pythagoras: a plugin's %s failed; ignored", name)
            return
    for impl in reversed(impls):  # pluggy's order: the last registered first
        try:
            # pluggy passes an implementation the arguments it names, which the spec has
            impl.function(event) if impl.argnames else impl.function()
        except Exception:
            log.exception("pythagoras: the plugin %s failed in %s; ignored", impl.plugin_name, name)


def describe(error: BaseException) -> str:
    """``"ExceptionType: message"``, or the type alone for an exception without a message."""
    text = str(error)
    kind = type(error).__qualname__
    return f"{kind}: {text}" if text else kind
