"""Engines for the tests: a thread pool that counts, loses and refuses what reaches it."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import BrokenExecutor, Executor, Future, ThreadPoolExecutor
from typing import Any

#: Only a deadlock reaches this: what should take milliseconds is given this long.
TIMEOUT = 30.0


class Counting(Executor):
    """A thread pool that counts the tasks handed to it; the first ``lose`` of them it loses
    (their futures fail with BrokenExecutor, as a pool whose worker died fails them), and
    once ``refuse`` is set, ``submit`` raises, as a pool shut down or broken for good does."""

    def __init__(self, workers: int = 2, *, lose: int = 0) -> None:
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix="test-engine")
        self._max_workers = workers
        self._lock = threading.Lock()
        self.submitted = 0
        self.lose = lose
        self.refuse = False

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        with self._lock:
            if self.refuse:
                raise BrokenExecutor("this engine refuses calls")
            self.submitted += 1
            lost = self.lose > 0
            self.lose -= int(lost)
        if lost:
            future: Future[Any] = Future()
            future.set_exception(BrokenExecutor("the engine lost this call"))
            return future
        return self._pool.submit(fn, *args, **kwargs)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        self._pool.shutdown(wait=wait, cancel_futures=cancel_futures)
