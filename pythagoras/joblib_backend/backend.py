"""The joblib backend ``"pythagoras"``: joblib's batches run, and are memoized, in the swarm.

Each joblib batch becomes at most one request. Its calls are memoized one by one, so a search
that stopped half-way resumes where it stopped, on any peer: the calls stored already resolve
at once and only the rest are sent, together, as one batch request. Large arguments (``X``,
``y``) are stored once, content-addressed, and referenced by every request.

joblib's callbacks fire from a completion thread, never inside ``submit``: a batch whose calls
are all stored is done at once, and a callback run synchronously would dispatch the next batch
from inside ``submit``, recursing until RecursionError.
"""

from __future__ import annotations

import hashlib
import logging
import multiprocessing
import os
import pickle
import queue
import threading
import warnings
import weakref
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import CancelledError, Executor, Future
from concurrent.futures import TimeoutError as FuturesTimeout
from contextlib import contextmanager
from typing import Any

from joblib import parallel_config  # type: ignore[import-untyped]
from joblib._parallel_backends import (  # type: ignore[import-untyped]
    AutoBatchingMixin,
    FallbackToBackend,
    ParallelBackendBase,
    SequentialBackend,
    ThreadingBackend,
)
from joblib.parallel import BatchedCalls  # type: ignore[import-untyped]

from ..engines import Engine, engine_key
from ..errors import CallTimeout, IdentityError, PythagorasError
from ..executor import PythagorasExecutor
from ..executor.futures import read_from_store
from ..identity.address import CallAddress
from ..location import resolve_location
from ..progress import CallBar, wanted
from ..storage.signed import resolve_secret
from ..protocol import Call
from ..unique import unique_hex

__all__ = ["NoWorkers", "PythagorasBackend"]

log = logging.getLogger("pythagoras")


class NoWorkers(PythagorasError, RuntimeError):
    """No peer of the swarm runs calls, so nothing submitted would ever finish."""


class PythagorasBackend(AutoBatchingMixin, ParallelBackendBase):  # type: ignore[misc]
    # AutoBatchingMixin comes first, so that its compute_batch_size is the one joblib calls.
    """Runs joblib's tasks in the swarm on ``location`` (default: ``$PYTHAGORAS_LOCATION``, else
    a folder in the user's cache), memoizing each call there.

    Give it options through joblib: ``parallel_config(backend="pythagoras", location=...,
    max_workers=..., cache=..., lease_timeout=..., storage_options=..., progress=...,
    executor=...)``. ``executor`` is an engine for this process's peer to run calls on instead
    of its loky pool (``docs/engines.md``), such as ``client.get_executor()`` of dask.
    ``n_jobs=-1`` (the default) is every worker of the swarm's live peers, at least this
    process's own (with an engine: the engine's workers, for dask its threads).
    ``progress=True`` shows a tqdm bar of each ``Parallel`` call's tasks (None: where someone
    watches, a terminal or a notebook); joblib's ``verbose`` still prints its own
    lines.
    """

    default_n_jobs = -1
    supports_retrieve_callback = True
    supports_return_generator = True
    supports_timeout = True
    supports_sharedmem = False
    uses_threads = False

    def __init__(self, location: str | os.PathLike[str] | None = None, *,
                 max_workers: int | None = None, cache: bool = True, lease_timeout: float = 30.0,
                 storage_options: Mapping[str, object] | None = None,
                 progress: bool | None = False,
                 secret: str | bytes | os.PathLike[str] | None = None,
                 nesting_level: int | None = None,
                 inner_max_num_threads: int | None = None, executor: Executor | None = None,
                 **backend_kwargs: Any) -> None:
        # joblib < 1.5 passes extra keywords on to object.__init__ and keeps none of them.
        super().__init__(nesting_level=nesting_level, inner_max_num_threads=inner_max_num_threads)
        self.backend_kwargs = dict(backend_kwargs)
        self.secret = resolve_secret(secret)  # a bad secret raises here, in the caller
        self.location = location
        self.max_workers = max_workers
        self.cache = cache
        self.lease_timeout = lease_timeout
        self.storage_options = storage_options
        self.progress = progress
        if executor is not None:
            Engine(executor, max_workers)  # a wrong one fails here, in the caller
        self.engine = executor  # the peer's engine (``executor=``); ``executor`` is the swarm's
        self._bar: CallBar | None = None
        self.parallel: Any = None
        self._outstanding: set[Future[Any]] = set()
        self._lock = threading.Lock()

    def __reduce__(self) -> tuple[Any, ...]:
        """Travel as its options: no peer, pool or thread goes with it. An engine goes along
        only if it can be pickled (a thread pool or a dask client's executor cannot): the copy
        runs its calls on the default loky pool otherwise."""
        return _rebuild, (self._options(), self.nesting_level, self.inner_max_num_threads,
                          self.backend_kwargs, _if_picklable(self.engine))

    def _options(self) -> dict[str, Any]:
        return {"location": self.location, "max_workers": self.max_workers, "cache": self.cache,
                "lease_timeout": self.lease_timeout, "storage_options": self.storage_options,
                "progress": self.progress, "secret": self.secret}

    @property
    def executor(self) -> PythagorasExecutor:
        """This process's executor on the location, shared by every backend with the same
        options and kept warm between Parallel calls, as joblib keeps its loky pool."""
        return _shared_executor(self._options(), self.engine)

    # -- sizing ----------------------------------------------------------------------------

    def effective_n_jobs(self, n_jobs: int | None) -> int:
        """``n_jobs`` itself when positive; for ``-1`` every worker of the swarm's live peers
        (``-2`` all but one, ...), and at least 2: joblib runs a call with 1 job in-process,
        bypassing the backend, and so the swarm and its memoization. ``n_jobs=1`` is that."""
        if n_jobs == 0:
            raise ValueError("n_jobs == 0 in Parallel has no meaning")
        if n_jobs is None:
            n_jobs = self.default_n_jobs
        if n_jobs > 0:
            return int(n_jobs)
        workers = self.swarm_workers()
        if workers == 0:
            raise NoWorkers(
                f"no peer runs calls for the swarm at {self.executor.location!r}, so the tasks "
                "would never finish: start one with `pythagoras worker LOCATION`, or give "
                "max_workers > 0")
        return max(2, workers + 1 + int(n_jobs))

    def swarm_workers(self) -> int:
        """This process's workers plus those of every other live peer that serves."""
        executor = self.executor
        own = executor._peer
        return own.max_workers + sum(int(info.get("workers", 0)) for peer, info in
                                     own.swarm.live_peers().items()
                                     if peer != own.id and info.get("serving"))

    def configure(self, n_jobs: int | None = 1, parallel: Any = None, prefer: str | None = None,
                  require: str | None = None, **backend_kwargs: Any) -> int:
        """Attach to a Parallel call; the number of workers it may count on."""
        self.parallel = parallel
        if multiprocessing.current_process().daemon and self.engine is None:
            # A daemonic process (a multiprocessing pool's worker) cannot start the peer's
            # pool of processes: run sequentially, as joblib's loky backend does there. (An
            # engine is the caller's: it runs where it was made.)
            warnings.warn("the pythagoras backend cannot start worker processes inside a "
                          "daemonic process; running sequentially", stacklevel=3)
            raise FallbackToBackend(SequentialBackend(nesting_level=self.nesting_level))
        # A store that is slow to poll needs longer batches to hide its latency.
        poll_cap = self.executor._peer.poll_cap
        self.MIN_IDEAL_BATCH_DURATION = max(0.2, 4 * poll_cap)
        self.MAX_IDEAL_BATCH_DURATION = max(2.0, 20 * poll_cap)
        n_jobs = self.effective_n_jobs(n_jobs)
        if self._bar is None and wanted(self.progress):
            self._bar = CallBar("pythagoras", unit="task")
        return n_jobs

    # -- submitting ------------------------------------------------------------------------

    def submit(self, func: Callable[[], Any], callback: Callable[[Any], None] | None = None) -> Future[Any]:
        """Run a joblib batch (or any callable taking no arguments) in the swarm; a Future of
        the list of its calls' values. Thread-safe."""
        executor = self.executor
        items: list[tuple[Callable[..., Any], Any, tuple[Any, ...], dict[str, Any]]]
        if isinstance(func, BatchedCalls):
            nested = (func._backend, func._n_jobs)
            items = [(_InJoblibConfig(f, *nested), f, tuple(args), dict(kwargs))
                     for f, args, kwargs in func.items]
            batch = True
        else:
            items = [(func, func, (), {})]
            batch = False
        done: Future[Any] = Future()
        try:
            calls = [self._call(executor, run, f, args, kwargs) for run, f, args, kwargs in items]
            futures = executor._submit_calls(calls, retry=True)
        except Exception as error:
            done.set_exception(error)
        else:
            with self._lock:
                self._outstanding.update(futures)
            if self._bar is not None:
                self._count(self._bar, futures, done)
            _gather(futures, done, batch, self._forget)
        if callback is not None:
            done.add_done_callback(lambda f: _completions.put((callback, f)))
        return done

    apply_async = submit  # the name joblib < 1.5 calls

    @staticmethod
    def _count(bar: CallBar, futures: list[Future[Any]], done: Future[Any]) -> None:
        """Show a batch's tasks on ``bar``: those stored at once, the rest when the batch is
        done (before joblib hears of it: its callback is added after this one)."""
        bar.add(len(futures))
        stored = sum(1 for f in futures if read_from_store(f))
        if stored:
            bar.done(stored, hit=True)
        if stored < len(futures):
            def settled(f: Future[Any]) -> None:
                bar.done(len(futures) - stored, failed=f.cancelled() or f.exception() is not None)

            done.add_done_callback(settled)

    def _call(self, executor: PythagorasExecutor, run: Callable[..., Any], func: Any,
              args: tuple[Any, ...], kwargs: dict[str, Any]) -> Call:
        """The call of ``func`` as the swarm runs it (``run``, under joblib's nested config);
        a call of a function whose identity cannot be taken runs once, unmemoized. An argument
        that cannot be hashed raises: it could not be pickled either."""
        try:
            call = executor._call(func, args, kwargs)
        except IdentityError as e:
            _warn_once(func, e)
            call = Call(CallAddress(_unidentified_id(func), unique_hex()), func,
                        str(getattr(func, "__qualname__", type(func).__qualname__)), args, kwargs,
                        unique=True)
        call.func = run
        return call

    def _forget(self, futures: list[Future[Any]]) -> None:
        with self._lock:
            self._outstanding.difference_update(futures)

    def retrieve_result_callback(self, out: Future[Any]) -> Any:
        return out.result()

    def retrieve_result(self, out: Future[Any], timeout: float | None = None) -> Any:
        try:
            out.exception(timeout)  # raises no exception of the batch's
        except FuturesTimeout:
            location = self.executor.location
            raise CallTimeout(
                f"a joblib batch did not finish within {timeout:g} s; its calls stay pending in "
                f"the swarm at {location}: retrieve it again (with a longer timeout, or none), "
                f"or add peers (pythagoras worker {location})") from None
        return out.result()

    # -- aborting and nesting --------------------------------------------------------------

    def abort_everything(self, ensure_ready: bool = True) -> None:
        """Cancel the calls not yet running (their requests are withdrawn); the executor stays
        warm, so the backend is ready again either way."""
        with self._lock:
            outstanding, self._outstanding = self._outstanding, set()
        for future in outstanding:
            future.cancel()

    def terminate(self) -> None:
        """The end of a Parallel call: the shared executor and its pool stay warm."""
        self.reset_batch_stats()
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def get_nested_backend(self) -> tuple[ParallelBackendBase, int | None]:
        """A Parallel call inside a task uses threads, then runs sequentially, as under loky:
        a task must not start a peer and a pool of its own in every worker."""
        level = (self.nesting_level or 0) + 1
        if level > 1:
            return SequentialBackend(nesting_level=level), None
        return ThreadingBackend(nesting_level=level), None

    @contextmanager
    def retrieval_context(self) -> Iterator[None]:
        """While joblib waits for results, this process's peer keeps serving the swarm (its
        executor serves for its whole life), so a wait never starves the swarm of a worker."""
        yield


class _InJoblibConfig:
    """Runs one call of a joblib batch under the batch's nested backend, as ``BatchedCalls``
    does in joblib's own workers."""

    def __init__(self, func: Callable[..., Any], backend: Any, n_jobs: int | None) -> None:
        self.func, self.backend, self.n_jobs = func, backend, n_jobs

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        with parallel_config(backend=self.backend, n_jobs=self.n_jobs):
            return self.func(*args, **kwargs)


def _gather(futures: list[Future[Any]], done: Future[Any], batch: bool,
            forget: Callable[[list[Future[Any]]], None]) -> None:
    """Settle ``done`` once every future is: with their values in order (the value alone for a
    plain callable), or with the first exception in order, as joblib's batches raise."""
    remaining = [len(futures)]
    lock = threading.Lock()

    def one_done(_: Future[Any]) -> None:
        with lock:
            remaining[0] -= 1
            if remaining[0]:
                return
        forget(futures)
        try:
            values = [f.result() for f in futures]
        except CancelledError as error:
            if not done.cancel():
                done.set_exception(error)
            return
        except BaseException as error:  # noqa: BLE001 -- the task's own exception, for joblib
            done.set_exception(error)
            return
        done.set_result(values if batch else values[0])

    for future in futures:
        future.add_done_callback(one_done)


# -- process-wide state ----------------------------------------------------------------------

_executors: dict[tuple[Any, ...], PythagorasExecutor] = {}
_executors_lock = threading.Lock()
_warned: set[str] = set()
_completions: queue.SimpleQueue[tuple[Callable[[Any], None], Future[Any]]] = queue.SimpleQueue()
_completion_thread: threading.Thread | None = None


def _shared_executor(options: dict[str, Any], engine: Executor | None = None) -> PythagorasExecutor:
    """The executor for these options and this engine (``executor=``), kept warm. An engine is
    told apart by identity (for dask, its client's): the cached executor holds it, so its id
    is never reused while the entry lives."""
    where = resolve_location(options["location"])
    storage = options["storage_options"]  # (its "progress" is the backend's, not the executor's)
    secret = options["secret"]
    key = (where, options["max_workers"], options["cache"], options["lease_timeout"],
           None if storage is None else repr(sorted(storage.items())),
           None if secret is None else hashlib.sha256(secret).hexdigest())
    engine_part = engine_key(engine)
    with _executors_lock:
        _start_completions()
        executor = _executors.get((*key, engine_part))
        if executor is None or executor._shutdown:
            executor = PythagorasExecutor(where, max_workers=options["max_workers"],
                                          cache=options["cache"],
                                          lease_timeout=options["lease_timeout"],
                                          executor=engine,
                                          storage_options=storage, secret=secret)
            _executors[(*key, engine_part)] = executor
        return executor


def shutdown_executors(wait: bool = True) -> None:
    """Shut down the executors the backend keeps warm between ``Parallel`` calls (one per set
    of options, as joblib keeps its loky pool). The next ``Parallel`` call starts a new one."""
    with _executors_lock:
        executors = list(_executors.values())
        _executors.clear()
    for executor in executors:
        executor.shutdown(wait=wait)


def _start_completions() -> None:
    global _completion_thread
    if _completion_thread is None:
        _completion_thread = threading.Thread(target=_run_completions, daemon=True,
                                              name="pythagoras-joblib-completions")
        _completion_thread.start()


def _run_completions() -> None:
    while True:
        callback, future = _completions.get()
        try:
            callback(future)
        except Exception:  # joblib's own callback failed: report it, keep serving the others
            log.exception("pythagoras: a joblib completion callback raised")


_unidentified: weakref.WeakKeyDictionary[Any, str] = weakref.WeakKeyDictionary()


def _unidentified_id(func: Any) -> str:
    """A random id for a function whose identity cannot be taken, the same for every call of
    this function object, so that it is stored once, not once per call."""
    try:
        return _unidentified.setdefault(func, unique_hex())
    except TypeError:  # not weakly referenceable: an id per call
        return unique_hex()


def _warn_once(func: Any, error: Exception) -> None:
    name = str(getattr(func, "__qualname__", type(func).__qualname__))
    if name not in _warned:
        _warned.add(name)
        log.warning("pythagoras: calls of %s run in the swarm but are not memoized: %s", name, error)


def _rebuild(options: dict[str, Any], nesting_level: int | None,
             inner_max_num_threads: int | None, backend_kwargs: dict[str, Any],
             engine: Executor | None = None) -> PythagorasBackend:
    return PythagorasBackend(**options, nesting_level=nesting_level,
                             inner_max_num_threads=inner_max_num_threads, executor=engine,
                             **backend_kwargs)


def _if_picklable(engine: Executor | None) -> Executor | None:
    """The engine, if it can be pickled; else None (the default loky pool)."""
    if engine is None:
        return None
    try:
        pickle.dumps(engine)
    except Exception:  # a lock, a socket, a client's event loop
        return None
    return engine
