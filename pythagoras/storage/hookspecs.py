"""The hooks pythagoras calls; plugins implement them with ``@pythagoras.hookimpl``.

Plugins are found through the entry-point group ``pythagoras``. The built-in stores (the local
folder and fsspec URLs) are registered the same way, so a third-party store is a peer of the
built-in ones. See ``docs/plugins.md``.

Besides opening stores, plugins may subscribe to the events of calls (progress bars, logs,
metrics): each event hook receives a :class:`pythagoras.swarm.events.CallEvent`. An event hook must
return quickly; it runs in a thread of the swarm (see each hook for which one), and what it
raises is logged and ignored, so a broken plugin never breaks a call.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from ..swarm.events import CallEvent
    from .base import Store

__all__ = ["hookimpl", "hookspec"]

hookspec = pluggy.HookspecMarker("pythagoras")
hookimpl = pluggy.HookimplMarker("pythagoras")


@hookspec(firstresult=True)
def pythagoras_open_store(location: str, storage_options: dict[str, object]) -> Store | None:
    """Open the store at ``location``, or return None if this plugin does not serve it.

    The first plugin to return a store wins; plugins registered later are asked first.
    """


# -- the events of calls ---------------------------------------------------------------------
# Each event is seen from one side. ``side="submitter"``: the process whose executor submitted
# the call (the decorator's ``async_parallel``/``sync_parallel`` and the joblib backend submit
# through one); a progress bar counts these. ``side="runner"``: the peer that claimed the call
# and ran it on its worker pool; a metrics plugin counts these. A process that runs its own
# calls sees both. Calls a process computes in-line (a pure function called directly,
# ``Memory``) fire no event.


@hookspec
def pythagoras_call_submitted(event: CallEvent) -> None:
    """A call was submitted: in the submitting process, once per future that
    ``PythagorasExecutor.submit`` returns and once per call of ``map`` (equal calls once each),
    in the submitting thread, before the future is handed out. ``side="submitter"``;
    ``cached=True`` for a call whose result (or failure) is stored already: its ``finished``
    (or ``failed``) follows at once, and nothing runs.
    """


@hookspec
def pythagoras_call_started(event: CallEvent) -> None:
    """A call started: in the peer process that claimed it, when that peer hands it to its pool
    of worker processes, in the thread that claimed it. ``side="runner"``. For a batch request
    (``map(chunksize=...)``, a joblib batch) one event per member actually run; a call run
    again after its worker died fires it again.
    """


@hookspec
def pythagoras_call_finished(event: CallEvent) -> None:
    """A call returned a value. Fired on both sides:

    - ``side="runner"``: in the peer that ran it, in the pool's callback thread, once its result
      is published to the store, with ``seconds`` (from handing the call to the pool to its
      completion; for a member of a batch, the whole batch's);
    - ``side="submitter"``: in the submitting process, once per future, in the thread that
      settles the future, just before it settles: by the time ``result()`` returns the value
      the event has been delivered. ``cached=True`` for a stored result (fired by ``submit`` or
      ``map`` itself, right after ``submitted``).

    The two sides are independent: the submitter's event may come first. A future cancelled
    before it settles fires neither ``finished`` nor ``failed``.
    """


@hookspec
def pythagoras_call_failed(event: CallEvent) -> None:
    """A call raised (or the worker processes running it kept dying): as
    ``pythagoras_call_finished``, on both sides, with ``error`` set to
    ``"ExceptionType: message"``; ``cached=True`` for a stored failure raised again without
    running.
    """
