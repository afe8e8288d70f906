"""The joblib backend ``"pythagoras"``: joblib's batches run, and are memoized, in the swarm.

Each joblib batch becomes at most one request. Its calls are memoized one by one, so a search
that stopped half-way resumes where it stopped, on any peer: the calls stored already resolve
at once and only the rest are sent, together, as one batch request. Large arguments (``X``,
``y``) are stored once, content-addressed, and referenced by every request.

joblib's callbacks never fire inside ``submit``: a callback dispatches the next batch, and one
run inside ``submit`` would recurse until RecursionError. A batch whose calls are all stored
completes on the submitting thread once its own callback returns; the others on a completion
thread (``executors.py``).
"""

from __future__ import annotations

import multiprocessing
import os
import pickle
import threading
import warnings
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Executor, Future
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

from ..errors import CallTimeout, IdentityError, PythagorasError
from ..executor import PythagorasExecutor
from ..storage.credentials import public_options
from ..storage.signed import Secret
from ..swarm.call_future import read_from_store
from ..swarm.client import SwarmClient
from ..swarm.options import SwarmOptions, engine_argument
from ..swarm.progress import CallBar, wanted
from ..swarm.protocol import Call
from .batches import gather, unidentified_call
from .executors import (
    complete_later,
    complete_now,
    shared_executor,
    shutdown_executors,
)

__all__ = ["NoWorkers", "PythagorasBackend", "shutdown_executors"]

#: A Parallel call nested up to this deep in tasks of the backend runs in the swarm; one level
#: deeper it runs in threads, and deeper still sequentially, so no recursion of Parallel calls
#: can start workers without end.
MAX_SWARM_NESTING = 3

class NoWorkers(PythagorasError, RuntimeError):
    """No peer of the swarm runs calls, so nothing submitted would ever finish."""


class PythagorasBackend(AutoBatchingMixin, ParallelBackendBase):  # type: ignore[misc]
    # AutoBatchingMixin comes first, so that its compute_batch_size is the one joblib calls.
    """Runs joblib's tasks in the swarm on ``location`` (default: ``$PYTHAGORAS_LOCATION``, else
    a folder in the user's cache), memoizing each call there.

    Give it options through joblib: ``parallel_config(backend="pythagoras", location=...,
    max_workers=..., cache=..., lease_timeout=..., storage_options=..., progress=...,
    engine=...)``. ``engine`` is an executor for this process's peer to run calls on instead
    of its loky pool (``docs/engines.md``), such as ``client.get_executor()`` of dask
    (``executor=`` is its old name, deprecated).
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
                 progress: bool | None = False, secret: Secret | None = None,
                 nesting_level: int | None = None, inner_max_num_threads: int | None = None,
                 engine: Executor | None = None, executor: Executor | None = None,
                 **backend_kwargs: Any) -> None:
        # joblib < 1.5 passes extra keywords on to object.__init__ and keeps none of them.
        super().__init__(nesting_level=nesting_level, inner_max_num_threads=inner_max_num_threads)
        self.backend_kwargs = dict(backend_kwargs)
        #: The swarm's options, checked here, in the caller (``executor`` is the swarm's).
        self.options = SwarmOptions.of(location, storage_options=storage_options, secret=secret,
                                       max_workers=max_workers, lease_timeout=lease_timeout,
                                       engine=engine_argument(engine, executor), cache=cache)
        self.progress = progress
        self._bar: CallBar | None = None
        self.parallel: Any = None
        self._outstanding: set[Future[Any]] = set()
        self._lock = threading.Lock()

    def __reduce__(self) -> tuple[Any, ...]:
        """Travel as its options, but never with the secret or credentials: a nested backend
        goes with joblib's tasks, and a task may be written into the folder as a request. It
        carries whether it is signed and the storage options that may travel
        (``storage/credentials.py``); a copy takes the secret and credentials of a store open
        where it lands on the same location (in a worker of a peer, the peer's), else of its
        environment, as any peer does, and refuses to open a signed swarm without a secret
        (``SwarmOptions.arrived``). No peer, pool or thread goes with it. An engine goes along
        only if it can be pickled (a thread pool or a dask client's executor cannot): the copy
        runs its calls on the default loky pool otherwise."""
        o = self.options
        options = {"location": o.location, "max_workers": o.max_workers, "cache": o.cache,
                   "lease_timeout": o.lease_timeout, "progress": self.progress,
                   "signed": o.secret is not None,
                   "storage_options": public_options(o.storage_options)}
        return _rebuild, (options, self.nesting_level, self.inner_max_num_threads,
                          self.backend_kwargs, _if_picklable(o.engine))

    @property
    def location(self) -> str | os.PathLike[str] | None:
        """The location as given (None: the default, resolved when first used)."""
        return self.options.location

    @property
    def engine(self) -> Executor | None:
        """The executor this process's peer runs calls on (None: its loky pool)."""
        return self.options.engine

    @property
    def executor(self) -> PythagorasExecutor:
        """This process's executor on the location, shared by every backend with the same
        options and kept warm between Parallel calls, as joblib keeps its loky pool."""
        return shared_executor(self.options)

    @property
    def client(self) -> SwarmClient:
        """The swarm client of :attr:`executor`."""
        return self.executor.client

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
        workers = self.client.workers()
        if workers == 0:
            raise NoWorkers(
                f"no peer runs calls for the swarm at {self.client.location!r}, so the tasks "
                "would never finish: start one with `pythagoras worker LOCATION`, or give "
                "max_workers > 0")
        return max(2, workers + 1 + int(n_jobs))

    def swarm_workers(self) -> int:
        """This process's workers plus those of every other live peer that serves."""
        return self.client.workers()

    def configure(self, n_jobs: int | None = 1, parallel: Any = None, prefer: str | None = None,
                  require: str | None = None, **backend_kwargs: Any) -> int:
        """Attach to a Parallel call; the number of workers it may count on."""
        self.parallel = parallel
        if (self.nesting_level or 0) > MAX_SWARM_NESTING:
            warnings.warn(f"a Parallel call nested {self.nesting_level} deep runs sequentially: "
                          f"the pythagoras backend runs those up to {MAX_SWARM_NESTING} deep",
                          stacklevel=3)
            raise FallbackToBackend(SequentialBackend(nesting_level=self.nesting_level))
        if multiprocessing.current_process().daemon and self.engine is None:
            # A daemonic process (a multiprocessing pool's worker) cannot start the peer's
            # pool of processes: run sequentially, as joblib's loky backend does there. (An
            # engine is the caller's: it runs where it was made.)
            warnings.warn("the pythagoras backend cannot start worker processes inside a "
                          "daemonic process; running sequentially", stacklevel=3)
            raise FallbackToBackend(SequentialBackend(nesting_level=self.nesting_level))
        # A store that is slow to poll needs longer batches to hide its latency.
        poll_cap = self.client.peer.poll_cap
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
        client = self.client
        items: list[tuple[Any, tuple[Any, ...], dict[str, Any]]]
        if isinstance(func, BatchedCalls):
            nested: NestedConfig | None = NestedConfig(func._backend, func._n_jobs)
            items = [(f, tuple(args), dict(kwargs)) for f, args, kwargs in func.items]
            batch = True
        else:
            nested, items, batch = None, [(func, (), {})], False
        done: Future[Any] = Future()
        try:
            calls = [self._call(client, nested, f, args, kwargs) for f, args, kwargs in items]
            futures = client.submit(calls, retry=True)
        except Exception as error:
            done.set_exception(error)
        else:
            with self._lock:
                self._outstanding.update(futures)
            if self._bar is not None:
                self._count(self._bar, futures, done)
            gather(futures, done, batch, self._forget)
        if callback is not None and done.done():  # every call stored: joblib hears at once
            complete_now(callback, done)
        elif callback is not None:
            done.add_done_callback(lambda f: complete_later(callback, f))
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

    def _call(self, client: SwarmClient, nested: NestedConfig | None, func: Any,
              args: tuple[Any, ...], kwargs: dict[str, Any]) -> Call:
        """The call of ``func`` as the swarm runs it: under joblib's ``nested`` config, which
        travels as its first argument (not part of its address), since the function's record
        is one for all its calls; a call of a function whose identity cannot be taken runs
        once, unmemoized. An argument that cannot be hashed raises: it could not be pickled
        either."""
        try:
            call = client.call(func, args, kwargs)
        except IdentityError as e:
            call = unidentified_call(func, args, kwargs, e)
        if nested is not None:
            call.args = (nested, *call.args)
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
            location = self.client.location
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
        """A Parallel call inside a task runs in the swarm too, on the same location with the
        same options, so its calls are memoized where a top-level call of them is; beyond
        ``MAX_SWARM_NESTING`` in threads, then sequentially, as under loky."""
        level = (self.nesting_level or 0) + 1
        if level <= MAX_SWARM_NESTING:
            return self._nested(level), None
        if level == MAX_SWARM_NESTING + 1:
            return ThreadingBackend(nesting_level=level), None
        return SequentialBackend(nesting_level=level), None

    def _nested(self, level: int) -> PythagorasBackend:
        """This backend for the Parallel calls of its tasks: the location as resolved here and
        the same options, but no pool of its own (``max_workers=None``: in a worker of a peer
        the executor attaches to that peer, and lends the worker's slot while it waits), no
        engine and no progress bar."""
        o = self.options
        return PythagorasBackend(o.where, cache=o.cache, lease_timeout=o.lease_timeout,
                                 storage_options=o.storage_options, secret=o.secret,
                                 nesting_level=level)

    @contextmanager
    def retrieval_context(self) -> Iterator[None]:
        """While joblib waits for results, this process's peer keeps serving the swarm (its
        executor serves for its whole life), so a wait never starves the swarm of a worker; a
        Parallel inside a task lends the task's worker to the swarm while it waits
        (:mod:`pythagoras.swarm.lending`), so nested calls never deadlock it."""
        with self.client.lending():
            yield


class NestedConfig:
    """joblib's config for the calls of one batch (its nested backend and ``n_jobs``), as
    ``BatchedCalls`` sets it around them in joblib's own workers. It travels as the call's
    first argument, and the worker runs the call inside it without passing it
    (:func:`pythagoras.swarm.worker.context_of`): the function's record stays the function,
    the same as the executor's and the decorator's."""

    def __init__(self, backend: Any, n_jobs: int | None) -> None:
        self.backend, self.n_jobs = backend, n_jobs

    def __pythagoras_context__(self) -> Any:
        return parallel_config(backend=self.backend, n_jobs=self.n_jobs)


class InJoblibConfig:
    """A function under the nested config, as records of earlier versions stored it in place
    of the function itself (under the function's own identity): it runs the function with
    the config given first, or as it is where the worker has applied the config already."""

    def __init__(self, func: Callable[..., Any]) -> None:
        self.func = func

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if args and isinstance(args[0], NestedConfig):
            with args[0].__pythagoras_context__():
                return self.func(*args[1:], **kwargs)
        return self.func(*args, **kwargs)


def _rebuild(options: dict[str, Any], nesting_level: int | None,
             inner_max_num_threads: int | None, backend_kwargs: dict[str, Any],
             engine: Executor | None = None) -> PythagorasBackend:
    options = dict(options)
    signed = bool(options.pop("signed", False))
    progress = options.pop("progress")
    backend = PythagorasBackend(**options, progress=progress, nesting_level=nesting_level,
                                inner_max_num_threads=inner_max_num_threads, engine=engine,
                                **backend_kwargs)
    o = backend.options  # the secret and credentials this process has (checked just above)
    backend.options = SwarmOptions.arrived(
        o.location, signed=signed, storage_options=o.storage_options,
        max_workers=o.max_workers, lease_timeout=o.lease_timeout, engine=o.engine,
        cache=o.cache)
    return backend


def _if_picklable(engine: Executor | None) -> Executor | None:
    """The engine, if it can be pickled; else None (the default loky pool)."""
    if engine is None:
        return None
    try:
        pickle.dumps(engine)
    except Exception:  # a lock, a socket, a client's event loop
        return None
    return engine
