"""PythagorasExecutor: a concurrent.futures.Executor whose calls run, and are memoized, in a swarm."""

from __future__ import annotations

import inspect
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import BrokenExecutor, Executor, Future
from concurrent.futures import TimeoutError as FuturesTimeout
from typing import Any

from ..errors import CallTimeout, PurityError, StoreError, UnloadableResult
from ..identity.address import CallAddress
from ..identity.calls import arguments_hash
from ..identity.functions import function_identity
from ..records.frames import MISSING
from ..records.keys import result_key
from ..storage.location import resolve_location
from ..storage.plugins import open_store, plugin_manager
from ..storage.signed import resolve_secret
from ..storage.unique import unique_hex
from ..swarm import events
from ..swarm.lending import LendingPeer
from ..swarm.peer import Peer
from ..swarm.progress import ExecutorProgress, wanted
from ..swarm.protocol import Call
from ..swarm.worker import worker_store
from .chunks import ChunkSizes, chunks_of, take
from .futures import CallFuture, fire_outcome, read_from_store, stall_note

__all__ = ["PythagorasExecutor"]


class PythagorasExecutor(Executor):
    """Runs calls in the swarm on a folder or bucket, and memoizes them there.

    Every process that opens the same location is a peer: this executor's own pool of
    ``max_workers`` processes (default: the CPU count; 0: a client that runs nothing) serves
    the location's pending calls, its own and anyone else's, while the executor lives. With
    ``cache=True`` a call whose result is stored anywhere in the swarm (by an executor, the
    tutorial's decorator or a peer on another machine) returns it at once; with ``cache=False``
    every submit runs once, as a call of its own. ``progress=True`` draws a tqdm bar of every
    call submitted, until shutdown (None: where someone watches, a terminal or a notebook).

    ``executor`` is an engine to run this process's share of the calls on instead of the loky
    pool: any ``concurrent.futures.Executor``, such as ``distributed.Client(...).get_executor()``
    or a ``ThreadPoolExecutor``. The peer claims as many calls at once as the engine has
    workers (capped by ``max_workers``), keeps their leases alive while they run, and never
    shuts the engine down (``docs/engines.md``).
    """

    def __init__(
        self,
        location: str | os.PathLike[str] | None = None,
        *,
        max_workers: int | None = None,
        cache: bool = True,
        lease_timeout: float = 30.0,
        storage_options: Mapping[str, object] | None = None,
        secret: str | bytes | os.PathLike[str] | None = None,
        progress: bool | None = False,
        executor: Executor | None = None,
    ) -> None:
        if max_workers is not None and max_workers < 0:
            raise ValueError(f"max_workers must be None or >= 0, not {max_workers}")
        if not lease_timeout > 0:
            raise ValueError(f"lease_timeout must be a positive number of seconds, not {lease_timeout}")
        key = resolve_secret(secret)  # a bad secret raises here, before anything is written
        where = resolve_location(location)
        nested = worker_store(where) if max_workers is None and executor is None else None
        if nested is not None and (key is None or _signs_with(nested, key)):
            # Inside a call that a peer of this swarm runs: the calls it submits are served by
            # the worker's lending peer (its own slot, while it waits), not a pool of its own.
            self._start(LendingPeer.of(nested), cache, serve=False)
            self._owns_peer = False
            return
        try:
            store = open_store(where, storage_options, secret=key)
            self._start(Peer(store, max_workers=max_workers, lease_timeout=lease_timeout,
                             executor=executor), cache, serve=True)
        except (StoreError, OSError) as e:
            raise BrokenExecutor(f"the swarm at {where!r} cannot be reached: {e}") from e
        if wanted(progress):
            self._progress = ExecutorProgress(self._peer.id, "pythagoras")
            plugin_manager().register(self._progress, name=f"progress-{self._peer.id}")

    @classmethod
    def _on_peer(cls, peer: Peer, *, cache: bool = True) -> PythagorasExecutor:
        """An executor over an existing peer that serves only while it waits (the decorator's)."""
        executor = cls.__new__(cls)
        executor._start(peer, cache, serve=False)
        return executor

    _progress: ExecutorProgress | None = None
    #: A swarm, not an engine: :class:`~pythagoras.swarm.engines.Engine` refuses it by this
    #: mark (the swarm layer below cannot import this class).
    __pythagoras_swarm__ = True
    _owns_peer = True  # False for a worker's lending peer, which outlives the executor

    def _start(self, peer: Peer, cache: bool, *, serve: bool) -> None:
        self._peer = peer
        self._cache = cache
        self._lock = threading.Lock()
        self._shutdown = False
        self._outstanding: set[Future[Any]] = set()
        if serve and peer.max_workers > 0:
            peer.serve()

    @property
    def location(self) -> str:
        return self._peer.swarm.store.location

    # -- submitting ------------------------------------------------------------------------

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        """Schedule ``fn(*args, **kwargs)`` in the swarm; a Future of its value.

        A callable or an argument that cannot be identified or pickled raises ``TypeError`` here,
        and nothing is written.
        """
        self._check_open()
        return self._submit_calls([self._call(fn, args, kwargs)])[0]

    def _call(self, fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Call:
        """The call with its address; TypeError for a call that cannot be identified."""
        if inspect.isgeneratorfunction(fn) or inspect.iscoroutinefunction(fn) or \
                inspect.isasyncgenfunction(fn):
            raise PurityError(
                f"{_name(fn)} is a generator or coroutine function: its call returns a generator "
                "or a coroutine, which cannot be sent back from a worker nor memoized. Submit a "
                "function that returns the values (a list), or that runs the coroutine "
                "(asyncio.run) and returns its result")
        function_id = function_identity(fn, strict=False).hex()
        if self._cache:
            arguments = arguments_hash(fn, args, kwargs).hex()
        else:
            arguments_hash(fn, args, kwargs)  # the same checks, though the address is unique
            arguments = unique_hex()
        return Call(CallAddress(function_id, arguments), fn, _name(fn), args, kwargs,
                    unique=not self._cache)

    def _check_open(self) -> None:
        with self._lock:
            if self._shutdown:
                raise RuntimeError("cannot schedule new futures after shutdown")

    def _submit(self, address: CallAddress, fn: Callable[..., Any], args: tuple[Any, ...],
                kwargs: dict[str, Any], name: str, *, retry: bool = False) -> Future[Any]:
        return self._submit_calls([Call(address, fn, name, args, kwargs)], retry=retry)[0]

    def _submit_calls(self, calls: list[Call], *, retry: bool = False) -> list[Future[Any]]:
        """Futures of the calls: those stored resolve at once, the rest go to the swarm as one
        request (a batch request if there are several; equal calls are sent once). A stored
        failure is raised again unless ``retry`` (or it is transient: an outcome the store
        refused, which is run again).

        The submitter's events fire once the calls are checked (``prepare`` raises TypeError for
        one that cannot be sent) and before any can settle: ``submitted`` for each, and at once
        ``finished`` or ``failed`` for those stored; the others fire theirs as they settle (see
        ``CallFuture``), or never if the store cannot be reached to send them (BrokenExecutor)."""
        swarm = self._peer.swarm
        futures: list[Future[Any]] = []
        pending: dict[CallAddress, Call] = {}
        waiting: list[tuple[CallAddress, Future[Any]]] = []
        sent: list[tuple[Call, CallFuture]] = []
        announce = events.listened(events.SUBMITTED, events.FINISHED, events.FAILED)
        stored: list[tuple[Call, BaseException | None]] = []  # only when announced
        try:
            for call in calls:
                if call.address not in pending and self._cache and not call.unique:
                    try:
                        value, unloadable = swarm.lookup(call.address), None
                    except UnloadableResult as refused:  # stored, but not loadable here: say why
                        value, unloadable = None, refused
                    if value is not MISSING:
                        future: Future[Any] = Future()
                        futures.append(future)
                        if unloadable is None:
                            future.set_result(value)
                        else:
                            future.set_exception(unloadable)
                        if announce:
                            stored.append((call, unloadable))
                        continue
                    failure = swarm.failure(call.address)
                    if failure is not None and not (retry or failure.transient):
                        error = failure.to_exception()
                        future = Future()
                        futures.append(future)
                        future.set_exception(error)
                        if announce:
                            stored.append((call, error))
                        continue
                    if failure is not None:
                        swarm.clear_failure(call.address)
                futures.append(awaited := CallFuture())
                awaited._lender, awaited._function = self._peer, call.name
                awaited._function_id = call.address.function
                pending.setdefault(call.address, call)
                waiting.append((call.address, awaited))
                sent.append((call, awaited))
            if not pending:
                if stored:
                    self._announce(stored, ())
                return futures
            prepared = swarm.prepare(list(pending.values()), self._peer.id)
            self._announce(stored, sent)
            with self._lock:
                self._outstanding.update(future for _, future in waiting)
            for call, awaited in sent:
                awaited.add_done_callback(self._settled(pending[call.address]))
            self._peer.submit(prepared, waiting)
        except Exception as e:
            for future in futures:
                future.cancel()  # never to be settled: let shutdown() not wait for it
            if isinstance(e, OSError):
                raise BrokenExecutor(f"the swarm at {self.location!r} cannot be reached: {e}") from e
            raise
        return futures

    def _announce(self, stored: list[tuple[Call, BaseException | None]],
                  sent: Iterable[tuple[Call, CallFuture]]) -> None:
        """The submitter's events: ``submitted`` for the calls ``stored`` (settled already, each
        with its error if it failed) and those ``sent`` to the swarm, then ``finished`` or
        ``failed`` for those stored. The futures sent fire theirs as they settle."""
        location, peer = self.location, self._peer.id
        hits = [(events.CallEvent.of(call, location, peer, "submitter", cached=True), error)
                for call, error in stored]
        submitted = [event for event, _ in hits]
        for call, future in sent:
            future._event = events.CallEvent.of(call, location, peer, "submitter")
            submitted.append(future._event)
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
                self._peer.swarm.store.delete(result_key(call.address))
                self._peer.swarm.clear_failure(call.address)

        return settled

    def map(self, fn: Callable[..., Any], *iterables: Iterable[Any], timeout: float | None = None,
            chunksize: int | None = None, buffersize: int | None = None) -> Iterator[Any]:
        """Like ``concurrent.futures.Executor.map``: values in input order, ``timeout`` over the
        whole iteration, work not yet started cancelled when the iterator is dropped, at most
        ``buffersize`` chunks submitted ahead of the one being waited for.

        Each chunk of calls is one request, claimed and run as a unit, and every call in it is
        still memoized under its own address. ``chunksize=None`` (the default) sizes the chunks
        as joblib's ``batch_size="auto"`` does: the first calls go one a request, the rest in
        chunks of about 0.1 s by their round trip, so trivial calls are batched and calls of
        25 ms or more go one a request (``chunks.py``). ``chunksize=1`` sends every
        call as a request of its own, as ``concurrent.futures`` does.
        """
        if chunksize is not None and chunksize < 1:
            raise ValueError("chunksize must be None or >= 1")
        if buffersize is not None and buffersize < 1:
            raise ValueError("buffersize must be None or >= 1")
        deadline = None if timeout is None else time.monotonic() + timeout
        sizes = ChunkSizes(chunksize, probes=max(2, 2 * self._peer.max_workers))
        chunks = chunks_of(zip(*iterables), sizes)
        futures: deque[Future[Any]] = deque()

        def submit_chunks(count: int | None) -> None:
            for chunk in chunks if count is None else take(chunks, count):
                self._check_open()
                calls = [self._call(fn, args, {}) for args in chunk]
                started = time.monotonic()
                submitted = self._submit_calls(calls)
                sizes.sent([future for future in submitted if not read_from_store(future)], started)
                futures.extend(submitted)

        submit_chunks(buffersize)

        def results() -> Iterator[Any]:
            while futures:
                future = futures.popleft()
                if buffersize is not None and len(futures) < buffersize * sizes.next():
                    submit_chunks(1)
                try:
                    value = _value_by(future, deadline, fn, timeout)
                except BaseException:
                    future.cancel()  # as concurrent.futures does: the awaited call too
                    raise
                yield value

        return _MapResults(results(), futures)

    # -- shutting down ---------------------------------------------------------------------

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Stop taking calls; cancel those not started (``cancel_futures``); wait for the rest
        (``wait``); then leave the swarm. Safe to call more than once."""
        with self._lock:
            self._shutdown = True
            outstanding = list(self._outstanding)
        if cancel_futures:
            for future in outstanding:
                future.cancel()
        if wait:
            self._close_when_settled(outstanding)
        else:  # the calls submitted still finish, as concurrent.futures promises
            threading.Thread(target=self._close_when_settled, args=(outstanding,),
                             name="pythagoras-executor-shutdown", daemon=True).start()

    def _close_when_settled(self, futures: list[Future[Any]]) -> None:
        for future in futures:
            try:
                future.exception()
            except BaseException:  # noqa: BLE001 -- cancelled: nothing to wait for
                pass
        if self._owns_peer:
            self._peer.close(wait=True)
        if self._progress is not None:
            plugin_manager().unregister(self._progress)
            self._progress.close()


def _value_by(future: Future[Any], deadline: float | None, fn: Callable[..., Any],
              timeout: float | None) -> Any:
    """The value of a call of ``map``; CallTimeout if it has not finished by ``deadline``."""
    if deadline is not None:
        try:
            future.exception(deadline - time.monotonic())  # raises no exception of the call's
        except FuturesTimeout:
            note = stall_note(getattr(future, "_lender", None), getattr(future, "_function_id", None))
            raise CallTimeout(
                f"map({_name(fn)}, ...): a value was not ready within the timeout of {timeout:g} s"
                f"{note}, so the calls not yet started are cancelled: call map() again with a "
                "longer timeout, or none") from None
    return future.result()


class _MapResults(Iterator[Any]):
    """The iterator ``map`` returns: when it is closed, dropped, or ends in an error, the calls
    not yet started are cancelled, even if it was never advanced (a generator's ``finally``
    would not run then)."""

    def __init__(self, results: Iterator[Any], futures: deque[Future[Any]]) -> None:
        self._results, self._futures = results, futures

    def __next__(self) -> Any:
        try:
            return next(self._results)
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        close = getattr(self._results, "close", None)
        if close is not None:
            close()
        while self._futures:
            self._futures.popleft().cancel()

    def __del__(self) -> None:
        self.close()


def _signs_with(store: Any, key: bytes) -> bool:
    signs_with = getattr(store, "signs_with", None)
    return signs_with is not None and bool(signs_with(key))


def _name(fn: Callable[..., Any]) -> str:
    return str(getattr(fn, "__qualname__", None) or getattr(fn, "__name__", None) or type(fn).__name__)
