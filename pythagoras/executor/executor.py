"""PythagorasExecutor: a concurrent.futures.Executor whose calls run, and are memoized, in a swarm."""

from __future__ import annotations

import os
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import Executor, Future
from concurrent.futures import TimeoutError as FuturesTimeout
from typing import Any

from ..errors import CallTimeout
from ..storage.plugins import plugin_manager
from ..storage.signed import Secret
from ..swarm.call_future import read_from_store, why_stalled
from ..swarm.client import SwarmClient, function_name
from ..swarm.options import SwarmOptions, engine_argument
from ..swarm.peer import Peer
from ..swarm.progress import ExecutorProgress, wanted
from .chunks import ChunkSizes, calls_in, chunks_of, take

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

    ``engine`` runs this process's share of the calls instead of the loky pool: any
    ``concurrent.futures.Executor``, such as ``distributed.Client(...).get_executor()`` or a
    ``ThreadPoolExecutor``. The peer claims as many calls at once as the engine has workers
    (capped by ``max_workers``), keeps their leases alive while they run, and never shuts the
    engine down (``docs/engines.md``). ``executor`` is its old name, deprecated.

    The executor is a thin ``concurrent.futures`` adapter over a
    :class:`~pythagoras.swarm.client.SwarmClient` (:attr:`client`).
    """

    def __init__(
        self,
        location: str | os.PathLike[str] | None = None,
        *,
        max_workers: int | None = None,
        cache: bool = True,
        lease_timeout: float = 30.0,
        storage_options: Mapping[str, object] | None = None,
        secret: Secret | None = None,
        progress: bool | None = False,
        engine: Executor | None = None,
        executor: Executor | None = None,
    ) -> None:
        options = SwarmOptions.of(location, storage_options=storage_options, secret=secret,
                                  max_workers=max_workers, lease_timeout=lease_timeout,
                                  engine=engine_argument(engine, executor), cache=cache)
        self._start(SwarmClient.open(options))
        if wanted(progress) and self.client.owns_peer:
            self._progress = ExecutorProgress(self.client.peer.id, "pythagoras")
            plugin_manager().register(self._progress, name=f"progress-{self.client.peer.id}")

    @classmethod
    def of(cls, client: SwarmClient) -> PythagorasExecutor:
        """An executor over an existing client (it closes the client at shutdown only if the
        client owns its peer)."""
        executor = cls.__new__(cls)
        executor._start(client)
        return executor

    _progress: ExecutorProgress | None = None
    #: A swarm, not an engine: :class:`~pythagoras.swarm.engines.Engine` refuses it by this
    #: mark (the swarm layer below cannot import this class).
    __pythagoras_swarm__ = True

    def _start(self, client: SwarmClient) -> None:
        self.client = client
        self._lock = threading.Lock()
        self._shutdown = False

    @property
    def _peer(self) -> Peer:  # the name tests and benchmarks reach the peer by
        return self.client.peer

    @property
    def location(self) -> str:
        return self.client.location

    @property
    def closed(self) -> bool:
        """True once :meth:`shutdown` was called."""
        return self._shutdown

    # -- submitting ------------------------------------------------------------------------

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        """Schedule ``fn(*args, **kwargs)`` in the swarm; a Future of its value.

        A callable or an argument that cannot be identified or pickled raises ``TypeError`` here,
        and nothing is written.
        """
        self._check_open()
        return self.client.submit([self.client.call(fn, args, kwargs)])[0]

    def _check_open(self) -> None:
        with self._lock:
            if self._shutdown:
                raise RuntimeError("cannot schedule new futures after shutdown")

    def map(self, fn: Callable[..., Any], *iterables: Iterable[Any], timeout: float | None = None,
            chunksize: int | None = None, buffersize: int | None = None) -> Iterator[Any]:
        """Like ``concurrent.futures.Executor.map``: values in input order, ``timeout`` over the
        whole iteration, work not yet started cancelled when the iterator is dropped, at most
        ``buffersize`` chunks submitted ahead of the one being waited for.

        Each chunk of calls is one request, claimed and run as a unit, and every call in it is
        still memoized under its own address. ``chunksize=None`` (the default) sizes the chunks
        as joblib's ``batch_size="auto"`` does, by the time the calls take in a worker: about
        0.1 s of calls a chunk (the first calls of a function new here go one a request until
        they are back), so calls of 0.1 s or more go alone (``chunks.py``). ``chunksize=1``
        sends every call as a request of its own, as ``concurrent.futures`` does.
        """
        if chunksize is not None and chunksize < 1:
            raise ValueError("chunksize must be None or >= 1")
        if buffersize is not None and buffersize < 1:
            raise ValueError("buffersize must be None or >= 1")
        deadline = None if timeout is None else time.monotonic() + timeout
        sizes = self._chunk_sizes(chunksize, calls_in(iterables), deadline)
        # As Executor.map does, stop at the end of the shortest iterable.
        chunks = chunks_of(zip(*iterables, strict=False), sizes)
        futures: deque[Future[Any]] = deque()

        def submit_chunks(count: int | None) -> None:
            for chunk in chunks if count is None else take(chunks, count):
                self._check_open()
                calls = [self.client.call(fn, args, {}) for args in chunk]
                started = time.monotonic()
                submitted = self.client.submit(calls)
                sizes.sent([future for future in submitted if not read_from_store(future)], started,
                           calls[0].address.function)
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

    def _chunk_sizes(self, chunksize: int | None, calls: int | None,
                     deadline: float | None) -> ChunkSizes:
        """The sizer of a map's chunks: among the workers of every live peer that serves, this
        executor's own included (each gets a share of the map): where peers submit the same
        calls, a chunk of the whole map held by one peer left the others idle."""
        workers = self.client.peer.max_workers
        if chunksize is None:
            workers = max(workers, self.client.workers())
        return ChunkSizes(chunksize, workers=workers, calls=calls,
                          per_call=self.client.seconds_per_call, starting=self.client.starting,
                          deadline=deadline)

    # -- shutting down ---------------------------------------------------------------------

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Stop taking calls; cancel those not started (``cancel_futures``); wait for the rest
        (``wait``); then leave the swarm. Safe to call more than once."""
        with self._lock:
            self._shutdown = True
            outstanding = self.client.outstanding()
        if cancel_futures:
            for future in outstanding:
                future.cancel()
        if wait:
            self._close_when_settled(outstanding)
        else:  # the calls submitted still finish, as concurrent.futures promises
            threading.Thread(target=self._close_when_settled, args=(outstanding,),
                             name="pythagoras-executor-shutdown", daemon=True).start()

    def _close_when_settled(self, futures: list[Future[Any]]) -> None:
        self.client.close(futures)
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
            note = why_stalled(future)
            raise CallTimeout(
                f"map({function_name(fn)}, ...): a value was not ready within the timeout of {timeout:g} s"
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

