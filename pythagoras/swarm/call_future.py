"""The futures of the calls a client sends to the swarm: they fire the submitter's events as
they settle, lend a waiting worker's slot, and end a wait that times out in CallTimeout."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FuturesTimeout
from typing import Any

from ..errors import CallTimeout
from . import events
from .peer import Peer

__all__ = ["CallFuture", "fire_outcome", "read_from_store", "stall_note", "why_stalled"]


class CallFuture(Future[Any]):
    """The future of a call sent to the swarm: it fires the submitter's ``finished`` or
    ``failed`` as it settles, in the settling thread but before any thread waiting on it wakes,
    so that a progress bar has counted a call by the time ``result()`` returns it. A future
    cancelled before it settles fires neither."""

    def __init__(self, lender: Peer | None = None, function: str = "a function",
                 function_id: str | None = None) -> None:
        super().__init__()
        self._event: events.CallEvent | None = None  # its submitted event, once sent
        self._lender = lender  # the peer a thread waiting on it lends its slot to
        self._function = function  # the name of the function called
        self._function_id = function_id  # and its identity

    def sent_as(self, event: events.CallEvent) -> None:
        """Note the call's ``submitted`` event: its ``finished`` or ``failed`` is fired from it."""
        self._event = event

    def why_stalled(self) -> str:
        """``stall_note`` of this call: why no live peer can run it now, if none can."""
        return stall_note(self._lender, self._function_id)

    def result(self, timeout: float | None = None) -> Any:
        return self._waited(super().result, timeout)

    def exception(self, timeout: float | None = None) -> BaseException | None:
        error: BaseException | None = self._waited(super().exception, timeout)
        return error

    def _waited(self, wait: Callable[[float | None], Any], timeout: float | None) -> Any:
        """``wait(timeout)``, lending the peer's slot while it blocks; CallTimeout (the builtin
        TimeoutError on every Python) if the call has not finished in time."""
        try:
            if self._lender is None or not self._lender.lends or self.done():
                return wait(timeout)
            with self._lender.lending():
                return wait(timeout)
        except FuturesTimeout as error:
            if self.done() and not self.cancelled() and Future.exception(self, 0) is error:
                raise  # the call's own TimeoutError, raised by the function
            where = "LOCATION" if self._lender is None else self._lender.swarm.store.location
            raise CallTimeout(
                f"the call of {self._function} did not finish within {max(0.0, timeout or 0.0):g} "
                f"s{stall_note(self._lender, self._function_id)}; it stays pending in the swarm "
                f"at {where}: ask for its result again (with a longer timeout, or none), or add "
                f"peers (pythagoras worker {where})") from None

    def set_result(self, result: Any) -> None:
        event = self._take_event()
        if event is not None:
            fire_outcome(event, None)
        super().set_result(result)

    def set_exception(self, exception: BaseException | None) -> None:
        event = self._take_event()
        if event is not None:
            fire_outcome(event, exception)
        super().set_exception(exception)

    def _take_event(self) -> events.CallEvent | None:
        """The event to fire as this future settles, once; None if it is cancelled or settled
        already. A pending future is marked running first: once its event has fired, it can no
        longer be cancelled."""
        event, self._event = self._event, None
        if event is None or self.done():
            return None
        if not self.running():
            try:
                if not self.set_running_or_notify_cancel():
                    return None  # cancelled meanwhile
            except RuntimeError:  # settled meanwhile
                return None
        return event


def read_from_store(future: Future[Any]) -> bool:
    """True for a future that a client settled from the store (a hit, or a stored failure
    raised again): every other is a :class:`CallFuture` that went to the swarm."""
    return not isinstance(future, CallFuture)


def why_stalled(future: Future[Any]) -> str:
    """For a timeout's message about ``future``: :meth:`CallFuture.why_stalled`, or nothing for
    a future settled from the store."""
    return future.why_stalled() if isinstance(future, CallFuture) else ""


def fire_outcome(submitted: events.CallEvent, error: BaseException | None) -> None:
    """The submitter's ``finished`` of a call (its ``submitted`` event says the same), or its
    ``failed`` with ``error``."""
    if error is None:
        events.fire(events.FINISHED, submitted)
    elif events.listened(events.FAILED):
        events.fire(events.FAILED, dataclasses.replace(submitted, error=events.describe(error)))


def stall_note(peer: Peer | None, function_id: str | None) -> str:
    """For a timeout's message: ", and cannot run now: <why>" when no live peer can run calls
    of the function, else nothing."""
    reason = None if peer is None or function_id is None else peer.stalled(function_id)
    return "" if reason is None else f", and cannot run now: {reason}"
