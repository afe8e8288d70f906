"""The public client of a swarm: what every front-end stands on, as ``ThreadPoolExecutor``
stands on ``concurrent.futures._base``.

A :class:`SwarmClient` is one process's way into one swarm, through its :class:`Peer`. It
makes calls (their addresses computed), submits them (stored values and failures answered from
the store, the rest prepared, published as one request and awaited), looks results up, and
fires the submitter's events (``submitted``, then ``finished`` or ``failed``) that progress
bars and plugins listen to. The executor, the joblib backend and the tutorial's pure functions
are thin adapters over it.
"""

from __future__ import annotations

import inspect
import logging
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import BrokenExecutor, Future
from contextlib import contextmanager
from typing import Any

from ..errors import PurityError, ReadOnlyLocation, StoreError, UnloadableResult
from ..identity.address import CallAddress
from ..identity.calls import arguments_hash
from ..identity.functions import function_identity
from ..records.frames import MISSING
from ..records.keys import result_key
from ..storage.location import check_location
from ..storage.plugins import open_store
from ..storage.unique import unique_hex
from . import events
from .call_future import CallFuture, fire_outcome, stall_note
from .lending import LendingPeer
from .options import SwarmOptions
from .peer import Peer
from .protocol import Call
from .worker import worker_store

__all__ = ["SwarmClient", "function_name", "make_call"]

log = logging.getLogger("pythagoras")


class SwarmClient:
    """Submits calls to a swarm through ``peer`` and looks up their results.

    With ``cache=True`` a call whose result (or failure) is stored anywhere in the swarm is
    answered from the store; with ``cache=False`` every call made by :meth:`call` runs once, at
    an address of its own. ``owns_peer``: :meth:`close` closes the peer too.
    """

    def __init__(self, peer: Peer, *, cache: bool = True, owns_peer: bool = True) -> None:
        self.peer = peer
        self.cache = cache
        self.owns_peer = owns_peer
        self._lock = threading.Lock()
        self._outstanding: set[Future[Any]] = set()

    @classmethod
    def open(cls, options: SwarmOptions, *, serve: bool = True) -> SwarmClient:
        """A client on the swarm the options name, with a peer of its own that serves the
        swarm's calls while it lives (``serve``, if it has workers). Inside a call that a peer
        of this swarm runs, with no ``max_workers`` nor engine asked for, the worker's lending
        peer instead: the calls submitted are served by the worker's own slot while it waits.
        BrokenExecutor if the store cannot be reached; StoreError for a location that looks
        like a URL of a wrong form (``s3:/x``), which names the right one."""
        where = options.where
        check_location(where)  # bad input, not an unreachable store
        nested = worker_store(where) if options.max_workers is None and options.engine is None \
            else None
        if nested is not None and (options.secret is None or _signs_with(nested, options.secret)):
            return cls(LendingPeer.of(nested), cache=options.cache, owns_peer=False)
        try:
            store = open_store(where, options.storage_options, secret=options.secret)
            peer = _serving_peer(Peer(store, max_workers=options.max_workers,
                                      lease_timeout=options.lease_timeout,
                                      executor=options.engine), serve)
        except (StoreError, OSError) as e:
            raise BrokenExecutor(f"the swarm at {where!r} cannot be reached: {e}") from e
        return cls(peer, cache=options.cache)

    @property
    def location(self) -> str:
        return self.peer.swarm.store.location

    # -- calls -----------------------------------------------------------------------------

    def call(self, fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Call:
        """The call with its address (:func:`make_call`, as this client caches)."""
        return make_call(fn, args, kwargs, cache=self.cache)

    def submit(self, calls: list[Call], *, retry: bool = False) -> list[Future[Any]]:
        """Futures of the calls: those stored resolve at once, the rest go to the swarm as one
        request (a batch request if there are several; equal calls are sent once). A stored
        failure is raised again unless ``retry`` (or it is transient: an outcome the store
        refused, which is run again).

        The submitter's events fire once the calls are checked (TypeError for one that cannot
        be sent) and before any can settle: ``submitted`` for each, and at once ``finished`` or
        ``failed`` for those stored; the others fire theirs as they settle (see
        :class:`CallFuture`), or never if the store cannot be reached to send them
        (BrokenExecutor), or cannot be written by this process (ReadOnlyLocation: the calls
        not stored cannot be sent)."""
        futures: list[Future[Any]] = []
        try:
            stored, sent = self._answer_or_send(calls, futures, retry)
            if sent:
                self._send(sent, stored)
            elif stored:
                self._announce(stored, ())
        except Exception as e:
            for future in futures:
                future.cancel()  # never to be settled: let close() not wait for it
            refused = ReadOnlyLocation.of(self.location, e)
            if refused is not None and refused is not e:
                raise refused from e
            if isinstance(e, OSError) and refused is None:
                raise BrokenExecutor(f"the swarm at {self.location!r} cannot be reached: {e}") from e
            raise
        return futures

    def _answer_or_send(self, calls: list[Call], futures: list[Future[Any]], retry: bool,
                        ) -> tuple[list[tuple[Call, BaseException | None]], list[tuple[Call, CallFuture]]]:
        """Append each call's future to ``futures``: settled from the store, or to be sent. The
        calls stored (with their errors; only when someone listens) and those to send."""
        announce = events.listened(events.SUBMITTED, events.FINISHED, events.FAILED)
        stored: list[tuple[Call, BaseException | None]] = []
        sent: list[tuple[Call, CallFuture]] = []
        sending: set[CallAddress] = set()
        for call in calls:
            if call.address not in sending and self.cache and not call.unique:
                found = self._stored(call.address, retry)
                if found is not None:
                    futures.append(found)
                    if announce:
                        stored.append((call, found.exception()))
                    continue
            futures.append(awaited := CallFuture(self.peer, call.name, call.address.function))
            sending.add(call.address)
            sent.append((call, awaited))
        return stored, sent

    def _stored(self, address: CallAddress, retry: bool) -> Future[Any] | None:
        """A settled future of the call's stored value, or of its stored failure (unless
        ``retry`` or it is transient: then the failure is cleared); None to send it."""
        future: Future[Any] = Future()
        try:
            value = self.peer.swarm.lookup(address)
        except UnloadableResult as unloadable:  # stored, but not loadable here: say why
            future.set_exception(unloadable)
            return future
        if value is not MISSING:
            future.set_result(value)
            return future
        failure = self.peer.swarm.failure(address)
        if failure is None:
            return None
        if retry or failure.transient:
            self.peer.swarm.clear_failure(address)
            return None
        future.set_exception(failure.to_exception())
        return future

    def _send(self, sent: list[tuple[Call, CallFuture]],
              stored: list[tuple[Call, BaseException | None]]) -> None:
        """Prepare the calls ``sent`` as one request (equal calls once), fire the events, and
        hand the request and its futures to the peer."""
        pending: dict[CallAddress, Call] = {}
        for call, _ in sent:
            pending.setdefault(call.address, call)
        prepared = self.peer.swarm.prepare(list(pending.values()), self.peer.id)
        self._announce(stored, sent)
        with self._lock:
            self._outstanding.update(future for _, future in sent)
        for call, awaited in sent:
            awaited.add_done_callback(self._settled(pending[call.address]))
        self.peer.submit(prepared, [(call.address, future) for call, future in sent])

    def _announce(self, stored: list[tuple[Call, BaseException | None]],
                  sent: Iterable[tuple[Call, CallFuture]]) -> None:
        """The submitter's events: ``submitted`` for the calls ``stored`` (settled already, each
        with its error if it failed) and those ``sent`` to the swarm, then ``finished`` or
        ``failed`` for those stored. The futures sent fire theirs as they settle."""
        location, peer = self.location, self.peer.id
        hits = [(events.CallEvent.of(call, location, peer, "submitter", cached=True), error)
                for call, error in stored]
        submitted = [event for event, _ in hits]
        for call, future in sent:
            event = events.CallEvent.of(call, location, peer, "submitter")
            future.sent_as(event)
            submitted.append(event)
        if events.listened(events.SUBMITTED):
            for event in submitted:
                events.fire(events.SUBMITTED, event)
        for event, error in hits:
            fire_outcome(event, error)

    def _settled(self, call: Call) -> Callable[[Future[Any]], None]:
        def settled(future: Future[Any]) -> None:
            with self._lock:
                self._outstanding.discard(future)
            if call.unique:  # a unique call's records are never read again
                self.peer.swarm.store.delete(result_key(call.address))
                self.peer.swarm.clear_failure(call.address)

        return settled

    # -- results ---------------------------------------------------------------------------

    def lookup(self, address: CallAddress) -> Any:
        """The value stored at ``address``, or ``MISSING``."""
        return self.peer.swarm.lookup(address)

    def clear_failure(self, address: CallAddress) -> bool:
        """Forget that the call raised, so that it runs again when next submitted; True if
        there was a failure to forget."""
        return bool(self.peer.swarm.clear_failure(address))

    def seconds_per_call(self, function: str) -> float | None:
        """Seconds a call of the function (by its identity) takes in a worker of this process's
        peer, as its runs report them; None until one has run here."""
        return self.peer.runner.times.per_call(function)

    @property
    def starting(self) -> Future[Any]:
        """Done once the peer's worker pool is up (at once if it has none starting)."""
        return self.peer.pool.ready

    def outstanding(self) -> list[Future[Any]]:
        """The futures of calls sent to the swarm and not settled yet."""
        with self._lock:
            return list(self._outstanding)

    def stall_note(self, function_id: str | None) -> str:
        """For a timeout's message: ", and cannot run now: <why>" when no live peer can run
        calls of the function, else nothing."""
        return stall_note(self.peer, function_id)

    # -- the swarm -------------------------------------------------------------------------

    def workers(self) -> int:
        """This process's workers plus those of every other live peer that serves."""
        own = self.peer
        return own.max_workers + sum(int(info.get("workers", 0)) for peer, info in
                                     own.swarm.live_peers().items()
                                     if peer != own.id and info.get("serving"))

    @contextmanager
    def lending(self) -> Iterator[None]:
        """While the caller waits: in a worker of a peer, its slot serves the swarm."""
        with self.peer.lending():
            yield

    def close(self, futures: Iterable[Future[Any]] = ()) -> None:
        """Wait until ``futures`` settle (or are cancelled), then leave the swarm if the peer is
        this client's own."""
        for future in futures:
            try:
                future.exception()
            except BaseException:  # noqa: BLE001 -- cancelled: nothing to wait for
                pass
        if self.owns_peer:
            self.peer.close(wait=True)


def _serving_peer(peer: Peer, serve: bool) -> Peer:
    """``peer``, serving if ``serve`` and it has workers; where this process may not write the
    location, a peer in its place that serves nothing: a reader-only member gets the calls
    stored there, and a ReadOnlyLocation for a call that is not."""
    if not serve or peer.max_workers == 0:
        return peer
    try:
        peer.serve()  # its first announcement writes
    except ReadOnlyLocation as refused:
        peer.close(wait=False)
        log.warning("pythagoras: %s; this process serves no calls there", refused)
        return Peer(peer.swarm.store, max_workers=0, lease_timeout=peer.lease_timeout)
    return peer


def make_call(fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any], *,
              cache: bool = True) -> Call:
    """The call with its address: the function's identity and its arguments' hash, or with
    ``cache=False`` a unique address, run once and never looked up. TypeError for a call that
    cannot be identified or pickled (nothing is written)."""
    if inspect.isgeneratorfunction(fn) or inspect.iscoroutinefunction(fn) or \
            inspect.isasyncgenfunction(fn):
        raise PurityError(
            f"{function_name(fn)} is a generator or coroutine function: its call returns a "
            "generator or a coroutine, which cannot be sent back from a worker nor memoized. "
            "Submit a function that returns the values (a list), or that runs the coroutine "
            "(asyncio.run) and returns its result")
    function_id = function_identity(fn, strict=False).hex()
    if cache:
        arguments = arguments_hash(fn, args, kwargs).hex()
    else:
        arguments_hash(fn, args, kwargs)  # the same checks, though the address is unique
        arguments = unique_hex()
    return Call(CallAddress(function_id, arguments), fn, function_name(fn), args, kwargs,
                unique=not cache)


def function_name(fn: Callable[..., Any]) -> str:
    """The name a call of ``fn`` is reported under."""
    return str(getattr(fn, "__qualname__", None) or getattr(fn, "__name__", None) or type(fn).__name__)


def _signs_with(store: Any, key: bytes) -> bool:
    signs_with = getattr(store, "signs_with", None)
    return signs_with is not None and bool(signs_with(key))
