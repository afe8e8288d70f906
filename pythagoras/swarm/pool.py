"""Where a peer's runs run: its warm loky pool of worker processes, or a caller's engine.

The pool is started when the peer starts serving (:meth:`WorkerPool.start`), so that loky's
start-up (some hundreds of milliseconds of imports in each worker) overlaps the caller's first
submits rather than delaying its first run; else at the first run; again after a crash. An
engine (``docs/engines.md``) is the caller's, used until it refuses a call and never shut down
here. For the pool, the start marks (:class:`~pythagoras.swarm.worker.StartMarks`) tell when a run
began and whether it killed its worker.

One lock, ``_lock``, over the pool, the engine's futures and the count of workers; never held
while a call is handed over or a pool shut down.
"""

from __future__ import annotations

import atexit
import logging
import os
import pickle
import threading
from collections.abc import Callable
from concurrent.futures import Executor, Future
from typing import Any

# joblib's own copy of loky, not the loky package: with two copies in one process, a pool that a
# task starts through joblib inside a worker is unknown to the other copy's exit hook, and the
# worker's exit waits for that pool's idle processes (5 minutes). Both also claim the
# multiprocessing context name "loky".
from joblib.externals import loky  # type: ignore[import-untyped]

from ..identity.address import CallAddress
from ..records.tracebacks import Origins
from ..storage.base import Store
from .engines import Engine
from .worker import StartMarks, enter_worker, run_packed

__all__ = ["Task", "WorkerPool", "picklable"]

log = logging.getLogger("pythagoras")

#: What a worker is handed for one run: the packed calls, their count, the run's start mark,
#: the calls' origins, and the claim's started record (``worker.run_packed``).
Task = tuple[bytes, int, str | None, Origins | None, tuple[str, bytes] | None]


class WorkerPool:
    """The peer's workers: a loky pool of ``max_workers`` processes, or an engine."""

    def __init__(self, store: Store, lease_timeout: float, *, max_workers: int | None = None,
                 engine: Executor | None = None,
                 at_exit: Callable[[], None] = lambda: None) -> None:
        self.store = store
        self.lease_timeout = lease_timeout
        self.engine = None if engine is None else Engine(engine, max_workers)
        if self.engine is not None:
            self.max_workers = self.engine.capacity()
        else:
            self.max_workers = (os.cpu_count() or 1) if max_workers is None else max_workers
        self._at_exit = at_exit  # the peer's close, before loky's exit hook joins the pool
        self._lock = threading.Lock()
        self._pool: Any = None
        self._refused = False  # the engine refused a call: this peer runs no more
        self._on_engine: dict[CallAddress, Future[Any]] = {}  # by request address
        self._home: tuple[Any, float, int] | None = None  # for an engine's workers
        self._exit_hooked = False
        self.marks = StartMarks()  # how the peer tells a run that killed its worker
        #: Done once a worker of the pool started by :meth:`start` is up (at once where there
        #: is no such pool): how long to wait before taking a run's time as the calls' own.
        self.ready: Future[Any] = _done()

    @property
    def started(self) -> bool:
        """True while a loky pool of this peer's is up."""
        return self._pool is not None

    def widen(self, limit: int) -> bool:
        """One more worker, up to ``limit`` (a thread that lends its slot); False at the limit."""
        with self._lock:
            if self.max_workers >= limit:
                return False
            self.max_workers += 1
            return True

    def narrow(self) -> None:
        with self._lock:
            self.max_workers -= 1

    def resize(self, workers: int) -> None:
        with self._lock:
            self.max_workers = workers

    def refresh_capacity(self) -> None:
        """A dask cluster gains and loses workers: claim as many calls as it has now."""
        if self.engine is None or self._refused:
            return
        try:
            capacity = self.engine.capacity()
            with self._lock:
                if not self._refused:
                    self.max_workers = capacity
        except Exception as e:  # keep the last count; the engine's submit will tell
            log.info("pythagoras: cannot count the workers of %r (%s)", self.engine, e)

    def starts_at_once(self, busy: int) -> bool:
        """True if a call handed over now, with ``busy`` runs under way, starts at once: an
        engine's, or on a pool with a started worker free."""
        return self.engine is not None or self.marks.ready_beyond(busy)

    def new_mark(self, address: CallAddress) -> str | None:
        """A start mark for the run of the request at ``address`` (None on an engine)."""
        if self.engine is not None:
            return None
        mark = self.marks.new_mark()
        with self._lock:
            self.marks.marks[address] = mark
        return mark

    def take_mark(self, address: CallAddress) -> str | None:
        with self._lock:
            return self.marks.marks.pop(address, None)

    def begun(self, address: CallAddress) -> bool:
        """True if the worker has begun the run of the request at ``address``."""
        with self._lock:
            mark = self.marks.marks.get(address)
        return mark is not None and self.marks.started(mark)

    def start(self) -> None:
        """Start the loky pool's workers now rather than at the first run (nothing on an
        engine, or with no workers): :attr:`ready` is done once one of them is up."""
        if self.engine is not None or self.max_workers == 0 or self._pool is not None:
            return
        try:
            submitted = self._to_pool(os.getpid)  # loky starts every worker at a pool's first task
        except Exception as e:  # a fork refused: the first run tries again, and says so
            log.warning("pythagoras: cannot start the worker pool now (%s: %s); it starts at "
                        "the first call", type(e).__name__, e)
            return
        if submitted is not None:
            self.ready = submitted[0]

    def submit(self, address: CallAddress, task: Task) -> tuple[Future[Any], Any] | None:
        """Hand a run over: to the engine, or else to the warm pool (started here, or again
        after a crash); with what runs it. None if it cannot be handed over: an engine that
        refuses a call (shut down by its owner, broken) is used no more."""
        if self.engine is not None:
            return self._submit_to_engine(address, task)
        return self._to_pool(run_packed, *task)

    def _to_pool(self, fn: Callable[..., Any], *args: Any) -> tuple[Future[Any], Any] | None:
        """``fn(*args)`` handed to the pool (started here if there is none); with the pool."""
        for _ in range(2):  # a pool another call's crash just shut down: once more, on a new one
            with self._lock:
                if self._pool is None:
                    self.marks.new_pool()
                    self._pool = loky.ProcessPoolExecutor(
                        max_workers=self.max_workers, initializer=enter_worker,
                        initargs=(picklable(self.store), self.marks.folder, self.lease_timeout))
                pool = self._pool
            try:
                future = pool.submit(fn, *args)
            except RuntimeError:  # loky's ShutdownExecutorError and BrokenProcessPool
                with self._lock:
                    if self._pool is pool:
                        self._pool = None
                continue
            if not self._exit_hooked:  # after loky's hook, which its first pool's submit registers
                self._exit_hooked = True
                _before_loky_exits(self._at_exit)
            return future, pool
        return None

    def _submit_to_engine(self, address: CallAddress,
                          task: Task) -> tuple[Future[Any], Any] | None:
        assert self.engine is not None
        if self._home is None:  # what its workers need for the calls' own calls
            self._home = (picklable(self.store), self.lease_timeout, os.getpid())
        try:
            future = self.engine.submit(run_packed, *task, self._home)
        except Exception as refused:
            with self._lock:
                first, self._refused = not self._refused, True
                self.max_workers = 0  # announced at the next heartbeat: others run our calls
            if first:
                log.warning("pythagoras: the engine %r refused a call (%s); this peer runs "
                            "no more calls, other peers run them", self.engine.executor, refused)
            return None
        with self._lock:  # before the callback, which may run at once: it forgets it
            self._on_engine[address] = future
        return future, self.engine

    def when_done(self, future: Future[Any], callback: Callable[[Future[Any]], None]) -> None:
        if self.engine is not None:
            self.engine.when_done(future, callback)
        else:
            future.add_done_callback(callback)

    def done(self, address: CallAddress, future: Future[Any]) -> str | None:
        """A run ended: forget it; its start mark, if it had one."""
        with self._lock:
            if self._on_engine.get(address) is future:
                del self._on_engine[address]
            return self.marks.marks.pop(address, None)

    def broken(self, pool: Any) -> None:
        """A run on ``pool`` ended without outcomes: shut the pool down if it is still ours.
        loky fails every pending future of a broken pool, one callback at a time: only the
        first replaces the pool, the others must not shut down its successor."""
        with self._lock:
            broken = pool if pool is not None and self._pool is pool else None
            if broken is not None:
                self._pool = None
        if broken is not None:
            broken.shutdown(wait=False, kill_workers=True)

    def close(self, kill_workers: bool) -> None:
        """Stop the pool (killing its workers if runs are unfinished, or if none is up yet:
        a pool closed as it starts would otherwise live on until its workers have started)
        and our engine tasks."""
        kill_workers = kill_workers or not self.ready.done()
        with self._lock:
            pool, self._pool = self._pool, None
            on_engine, self._on_engine = list(self._on_engine.values()), {}
        for future in on_engine:  # the engine is the caller's: only our own tasks stop
            future.cancel()
        if self.engine is not None:
            self.engine.stop()
        if pool is not None:
            pool.shutdown(wait=False, kill_workers=kill_workers)
        self.marks.close()


def _done() -> Future[Any]:
    future: Future[Any] = Future()
    future.set_result(None)
    return future


def picklable(store: Any) -> Any:
    """The store, for the worker processes, if it can travel there (an in-memory store holds
    locks); else None, and calls there open the location anew."""
    try:
        pickle.dumps(store)
    except Exception:
        return None
    return store


def _before_loky_exits(callback: Callable[[], None]) -> None:
    """Run ``callback`` as the interpreter exits, before loky's exit hook joins its pools'
    threads (such hooks run last-registered first, and before ``atexit``'s), so that the peer's
    idle workers are already stopped rather than waited for; ``atexit`` where the hook is
    missing."""
    register = getattr(threading, "_register_atexit", None)
    try:
        if register is not None:
            register(callback)
            return
    except RuntimeError:  # the interpreter is already shutting down
        return
    atexit.register(callback)
