"""The waiters: futures in this process that await the outcomes of calls, and their resolving.

A future awaits a call's result or failure in the store, whoever runs it. The peer's loop polls
the awaited calls in slices (:meth:`Waiters.next_slice`, :meth:`Waiters.poll`), or only those a
notification says are finished (:meth:`Waiters.hear`); the runner resolves the ones it ran
itself. A *direct* wait (a pure function called directly, whose claim another peer holds) also
ends, with MISSING, once nobody holds the call's claim any more.

One lock, ``_lock``, over the maps; never held while the store is called or a future is
settled (settling runs the future's callbacks, which may come back here).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Future, InvalidStateError
from typing import Any

from ..errors import UnloadableResult
from ..identity.address import CallAddress
from ..records.frames import MISSING
from .swarm_store import SwarmStore

__all__ = ["Waiters"]

log = logging.getLogger("pythagoras")


class Waiters:
    """The futures awaiting calls' outcomes, by call address, and the requests they came by."""

    def __init__(self, swarm: SwarmStore, lease_timeout: float,
                 busy: Callable[[CallAddress], bool] = lambda address: False) -> None:
        self.swarm = swarm
        self.lease_timeout = lease_timeout
        self._busy = busy  # the calls running here: resolved by their run, not polled for
        self._lock = threading.Lock()
        self._waiting: dict[CallAddress, list[Future[Any]]] = {}
        # The futures of direct waits (a pure function called directly), which end when the
        # call's claim goes with no record: their callers then compute the call themselves.
        self._direct: dict[CallAddress, list[Future[Any]]] = {}
        self._heard: set[CallAddress] = set()  # awaited calls a notification says are finished
        self._requests: dict[str, set[Future[Any]]] = {}  # own request key -> futures awaiting it
        self._rotation = 0  # where the next slice of awaited calls begins (the loop's only)
        self._awaited_since: dict[str, float] = {}  # function id -> since when calls of it wait
        self._stalled: set[str] = set()  # function ids whose stalled calls were reported

    # -- awaiting ----------------------------------------------------------------------------

    def add(self, address: CallAddress, future: Future[Any], *, direct: bool = False) -> None:
        with self._lock:
            self._waiting.setdefault(address, []).append(future)
            if direct:
                self._direct.setdefault(address, []).append(future)

    def forget(self, pairs: Iterable[tuple[CallAddress, Future[Any]]]) -> None:
        """Stop awaiting these futures (awaited again by another way); others awaiting the
        same calls wait on."""
        with self._lock:
            for address, future in pairs:
                self._drop(address, future)

    def _drop(self, address: CallAddress, future: Future[Any]) -> None:
        """Remove one future from the maps (the caller holds the lock)."""
        for table in (self._waiting, self._direct):
            futures = table.get(address)
            if futures is not None:
                if future in futures:
                    futures.remove(future)
                if not futures:
                    del table[address]

    def awaited(self, address: CallAddress) -> bool:
        """True while a future here waits for the call's outcome."""
        with self._lock:
            return address in self._waiting

    def any(self) -> bool:
        with self._lock:
            return bool(self._waiting)

    def track(self, request_key: str, futures: Iterable[Future[Any]]) -> None:
        """The futures await calls of an own request, withdrawn once all of them are cancelled."""
        with self._lock:
            self._requests.setdefault(request_key, set()).update(futures)

    def settled(self, address: CallAddress, request_key: str, future: Future[Any]) -> bool:
        """A future of an own request is done; a cancelled one stops being waited on. True if
        it was the last of the request's futures, and cancelled: the request may be withdrawn."""
        with self._lock:
            if future.cancelled():
                if future in self._waiting.get(address, []):
                    try:  # wait() and as_completed() count a cancelled future once it is notified
                        future.set_running_or_notify_cancel()
                    except RuntimeError:  # notified already
                        pass
                self._drop(address, future)
            awaited = self._requests.get(request_key)
            if awaited is None:
                return False
            awaited.discard(future)
            if awaited:
                return False
            del self._requests[request_key]
            return future.cancelled()

    def mark_running(self, addresses: Iterable[CallAddress]) -> None:
        """The calls started here: their futures can no longer be cancelled."""
        with self._lock:
            futures = [f for address in addresses for f in self._waiting.get(address, [])]
        for waiting in futures:
            if not (waiting.running() or waiting.done()):
                try:
                    waiting.set_running_or_notify_cancel()
                except RuntimeError:  # cancelled and notified meanwhile
                    pass

    # -- hearing and polling -------------------------------------------------------------------

    def hear(self, address: CallAddress) -> bool:
        """A notification says the call is finished; True if it is awaited (poll it soon)."""
        with self._lock:
            if address not in self._waiting:
                return False
            self._heard.add(address)
            return True

    def take_heard(self) -> set[CallAddress]:
        with self._lock:
            heard, self._heard = self._heard, set()
            return heard

    def has_heard(self) -> bool:
        with self._lock:
            return bool(self._heard)

    def next_slice(self, size: int = 256) -> list[CallAddress]:
        """The next few awaited calls, in rotation, so that one poll costs at most ``size`` reads."""
        with self._lock:
            awaited = list(self._waiting)
        waiting = [a for a in awaited if not self._busy(a)]
        if len(waiting) <= size:
            return waiting
        start = self._rotation % len(waiting)
        self._rotation = start + size
        return (waiting[start:] + waiting[:start])[:size]

    def poll(self, addresses: Iterable[CallAddress]) -> bool:
        """Resolve the futures of the calls whose result or failure is stored; True if any was."""
        resolved = False
        for address in addresses:
            with self._lock:
                awaited, direct = address in self._waiting, bool(self._direct.get(address))
            if not awaited or self._busy(address):
                continue
            try:
                resolved |= self._poll_one(address, direct)
            except UnloadableResult as unloadable:  # stored, but it cannot be loaded here: say why
                self.resolve(address, error=unloadable)
                resolved = True
        return resolved

    def _poll_one(self, address: CallAddress, direct: bool) -> bool:
        """Resolve the call's futures if its result or failure is stored (or, for a direct
        wait, if nobody holds its claim any more); True if they were."""
        value = self.swarm.lookup(address)
        if value is MISSING:
            failure = self.swarm.failure(address)
            if failure is not None:
                self.resolve(address, error=failure.to_exception())
                return True
            if direct and not self.swarm.claimed(address):
                # The claim is gone: published and released since our read, or lapsed.
                value = self.swarm.lookup(address)
                if value is MISSING:  # the direct callers compute it; the others wait on
                    self._resolve_direct(address)
                else:
                    self.resolve(address, value=value)
                return True
            return False
        self.resolve(address, value=value)
        return True

    def _resolve_direct(self, address: CallAddress) -> None:
        """Settle the direct waits of a call nobody holds and nobody stored: MISSING."""
        with self._lock:
            futures = list(self._direct.get(address, []))
            for future in futures:
                self._drop(address, future)
        for future in futures:
            try:
                future.set_result(MISSING)
            except InvalidStateError:  # cancelled meanwhile
                pass

    def resolve(self, address: CallAddress, *, value: Any = None,
                error: BaseException | None = None) -> None:
        with self._lock:
            futures = self._waiting.pop(address, [])
            self._direct.pop(address, None)
        for future in futures:
            try:
                if error is not None:
                    future.set_exception(error)
                else:
                    future.set_result(value)
            except InvalidStateError:  # cancelled meanwhile
                pass

    # -- stalls --------------------------------------------------------------------------------

    def report_stalls(self, stalled: Callable[[str], str | None]) -> None:
        """Warn once per function when calls awaited here for a lease period can be run by no
        live peer (``stalled`` says why: none serves the swarm, or none of the Python whose
        bytecode they are). Called by the peer's loop thread only."""
        now = time.monotonic()
        with self._lock:
            functions = {address.function for address in self._waiting}
        for function in set(self._awaited_since) - functions:
            del self._awaited_since[function]
            self._stalled.discard(function)
        for function in functions - self._stalled:
            if now - self._awaited_since.setdefault(function, now) < self.lease_timeout:
                continue
            reason = stalled(function)
            if reason is not None:
                self._stalled.add(function)
                log.warning("pythagoras: calls awaited here cannot run now: %s; they run once a "
                            "peer that can is up (pythagoras worker %s)", reason,
                            self.swarm.store.location)
