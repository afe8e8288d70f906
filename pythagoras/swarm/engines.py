"""Engines: a caller's ``concurrent.futures.Executor`` as a peer's worker pool (``docs/engines.md``).

By default a peer runs the calls it claims on a warm loky pool of its own. Given an engine
(``engine=`` of :class:`~pythagoras.PythagorasExecutor`, of the joblib backend and of
:class:`~pythagoras.SharedStorage_P2P_Cloud`), it runs them there instead: a
``distributed.Client(...).get_executor()``, a ``ThreadPoolExecutor``, a
``ProcessPoolExecutor``, an ``mpi4py.futures.MPIPoolExecutor``: anything with
``submit(fn, *args)`` returning a ``concurrent.futures.Future``. The peer still picks, claims,
renews leases (its own thread's heartbeat), publishes and retires; the engine only runs
``run_packed(...)``, one task per claimed request (:mod:`pythagoras.swarm.worker`). The engine
stays the caller's: the peer never shuts it down.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

__all__ = ["Engine", "engine_key"]

log = logging.getLogger("pythagoras")


class Engine:
    """A caller's executor, as one peer uses it: how many calls to run on it at once (its
    capacity) and how to hand it a call."""

    def __init__(self, executor: Any, max_workers: int | None = None) -> None:
        if getattr(executor, "__pythagoras_swarm__", False):  # a PythagorasExecutor
            raise TypeError("engine= is the engine that runs a peer's calls; a "
                            "PythagorasExecutor is a swarm, not an engine: give it a "
                            "ThreadPoolExecutor, a dask Client's get_executor(), ...")
        if not callable(getattr(executor, "submit", None)):
            raise TypeError(f"engine= must be a concurrent.futures.Executor (something with "
                            f"submit(fn, *args)), not {type(executor).__qualname__}")
        if max_workers is not None and max_workers < 0:
            raise ValueError(f"max_workers must be None or >= 0, not {max_workers}")
        self.client = _dask_client(executor)
        if self.client is executor:  # a dask Client itself: its concurrent.futures face
            executor = executor.get_executor()
        self.executor = executor
        self.max_workers = max_workers
        self._completions: queue.SimpleQueue[
            tuple[Callable[[Future[Any]], None], Future[Any]] | None] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._stopped = False

    def __repr__(self) -> str:
        return f"Engine({self.executor!r})"

    def capacity(self) -> int:
        """How many requests the peer runs on the engine at once (and announces as its
        workers): a dask cluster's threads (every worker's, now), an executor's own
        ``_max_workers`` or ``num_workers``, else ``max_workers``, else the CPU count;
        ``max_workers``, when given, caps the others."""
        given = self.max_workers
        found: int | None = None
        if self.client is not None:
            # At least 1: an adaptive cluster with no worker yet scales up on a pending task.
            found = max(1, sum(int(n) for n in self.client.nthreads().values()))
        else:
            for name in ("_max_workers", "num_workers"):
                value = getattr(self.executor, name, None)
                if isinstance(value, int) and not isinstance(value, bool) and value > 0:
                    found = value
                    break
        if found is None:
            return (os.cpu_count() or 1) if given is None else given
        return found if given is None else min(found, given)

    def submit(self, fn: Callable[..., Any], *args: Any) -> Future[Any]:
        """``fn(*args)`` on the engine. A dask task is never shared with an equal one
        (``pure=False``: a call run again after its worker died must run, not find the old
        task's error). The arguments are plain data: the calls come packed as bytes."""
        if self.client is not None:
            future: Future[Any] = self.executor.submit(fn, *args, pure=False)
        else:
            future = self.executor.submit(fn, *args)
        return future

    def when_done(self, future: Future[Any], callback: Callable[[Future[Any]], None]) -> None:
        """Call ``callback(future)`` once it is done, in this engine's completion thread: not
        in the thread that completes it (dask's event loop, which must not wait on the store;
        a pool's worker, free for the next call at once)."""
        future.add_done_callback(lambda done: self._completions.put((callback, done)))
        with self._lock:
            if self._thread is None and not self._stopped:
                self._thread = threading.Thread(target=self._complete, daemon=True,
                                                name="pythagoras-engine-completions")
                self._thread.start()

    def _complete(self) -> None:
        while (item := self._completions.get()) is not None:
            callback, done = item
            try:
                callback(done)
            except Exception:  # one completion's failure must not stop the others'
                log.exception("pythagoras: handling a call finished on %r failed", self)

    def stop(self) -> None:
        """End the completion thread once the completions queued so far are handled."""
        with self._lock:
            self._stopped = True
        self._completions.put(None)

    def key(self) -> tuple[Any, ...]:
        """What tells this engine apart in a cache of executors (the joblib backend's): the
        object itself, or for dask the client and the executor's options, since
        ``client.get_executor()`` makes a new, equivalent executor at every call."""
        key = engine_key(self.executor)
        assert key is not None
        return key


def engine_key(executor: Any) -> tuple[Any, ...] | None:
    """:meth:`Engine.key` of an executor given as ``engine=``; None for none."""
    if executor is None:
        return None
    client = _dask_client(executor)
    if client is not None:
        options = {} if client is executor else getattr(executor, "_kwargs", {})
        return ("dask", id(client), repr(sorted(options.items())))
    return ("executor", id(executor))


def _dask_client(executor: Any) -> Any:
    """The ``distributed.Client`` behind ``client.get_executor()`` (or the client itself, given
    as the engine), or None."""
    for cls in type(executor).__mro__:
        if cls.__module__.partition(".")[0] != "distributed":
            continue
        if cls.__name__ == "ClientExecutor":
            return getattr(executor, "_client", None)
        if cls.__name__ == "Client":
            return executor
    return None
