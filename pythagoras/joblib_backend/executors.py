"""What the joblib backend keeps for the whole process: the executors it keeps warm between
``Parallel`` calls, one per set of options (as joblib keeps its loky pool), and the thread that
runs joblib's completion callbacks.

A callback never runs inside another: joblib's callback dispatches the next batch, so a
callback run inside ``submit`` would recurse through every batch until RecursionError. A batch
settled later (sent to the swarm) completes on the completion thread. A batch settled already
when it is submitted (all its calls stored) completes at once, on the submitting thread, after
the callback that thread is running returns, if it is running one: so a ``Parallel`` call whose
batches are all stored dispatches and completes them one after the other on its own thread, and
joblib finds the first one done when it starts waiting, instead of polling for it (joblib
sleeps 10 ms each time it finds the first batch still pending).
"""

from __future__ import annotations

import logging
import queue
import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

from ..executor import PythagorasExecutor
from ..swarm.client import SwarmClient
from ..swarm.options import SwarmOptions

__all__ = ["complete_later", "complete_now", "shared_executor", "shutdown_executors"]

log = logging.getLogger("pythagoras")

_executors: dict[tuple[Any, ...], PythagorasExecutor] = {}
_executors_lock = threading.Lock()
_completions: queue.SimpleQueue[tuple[Callable[[Any], None], Future[Any]]] = queue.SimpleQueue()
_completion_thread: threading.Thread | None = None
_running_here = threading.local()  # .pending: the callbacks due on this thread after its own


def shared_executor(options: SwarmOptions) -> PythagorasExecutor:
    """The executor for these options, kept warm. An engine is told apart by identity (for
    dask, its client's): the cached executor holds it, so its id is never reused while the
    entry lives."""
    key = options.key()
    with _executors_lock:
        _start_completions()
        executor = _executors.get(key)
        if executor is None or executor.closed:
            executor = PythagorasExecutor.of(SwarmClient.open(options))
            _executors[key] = executor
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


def complete_later(callback: Callable[[Any], None], future: Future[Any]) -> None:
    """Run joblib's ``callback(future)`` on the completion thread, never inside ``submit``."""
    _completions.put((callback, future))


def complete_now(callback: Callable[[Any], None], future: Future[Any]) -> None:
    """Run joblib's ``callback(future)`` for a batch settled already: here, now, or right after
    the callback this thread is running returns (see the module's docstring)."""
    pending: deque[tuple[Callable[[Any], None], Future[Any]]] | None = getattr(
        _running_here, "pending", None)
    if pending is not None:  # inside a callback of this thread: run after it, not inside it
        pending.append((callback, future))
        return
    _running_here.pending = pending = deque([(callback, future)])
    try:
        while pending:
            due, settled = pending.popleft()
            try:
                due(settled)
            except Exception:  # joblib's own callback failed: report it, run the others
                log.exception("pythagoras: a joblib completion callback raised")
    finally:
        _running_here.pending = None
        while pending:  # interrupted (KeyboardInterrupt): the rest still complete, elsewhere
            complete_later(*pending.popleft())
