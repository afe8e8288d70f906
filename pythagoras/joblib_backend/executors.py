"""What the joblib backend keeps for the whole process: the executors it keeps warm between
``Parallel`` calls, one per set of options (as joblib keeps its loky pool), and the thread that
runs joblib's completion callbacks.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

from ..executor import PythagorasExecutor
from ..swarm.client import SwarmClient
from ..swarm.options import SwarmOptions

__all__ = ["shared_executor", "shutdown_executors"]

log = logging.getLogger("pythagoras")

_executors: dict[tuple[Any, ...], PythagorasExecutor] = {}
_executors_lock = threading.Lock()
_completions: queue.SimpleQueue[tuple[Callable[[Any], None], Future[Any]]] = queue.SimpleQueue()
_completion_thread: threading.Thread | None = None


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
