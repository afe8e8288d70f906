"""The lending peer: how calls running in a worker process reach their own swarm.

A call that a peer runs may itself call pure functions, use an executor or joblib on the same
location, and wait for what it submitted. Were those calls left to the swarm's workers, a call
waiting on its sub-calls would hold a worker that they need: with one worker, a tree of nested
calls would deadlock. So a worker process reaches the swarm through a *lending peer* that has no
workers of its own: each thread that waits on it lends its slot (:meth:`LendingPeer.lending`),
and while it waits the peer runs pending calls of the swarm, its own first, in threads of this
process, one per waiting thread.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any, Final

from ..storage.base import Store
from .peer import Peer
from .worker import lent_run, worker_lease

__all__ = ["LendingPeer"]

_MAX_LENT: Final = 4096  # threads the calls may run in: one per thread that waits

_PEERS: dict[str, LendingPeer] = {}  # this process's lending peers, by location
_PEERS_LOCK = threading.Lock()
_lent = threading.local()  # whether this thread lends its slot already


class LendingPeer(Peer):
    """A peer whose only workers are the threads that wait on it."""

    lends = True

    def __init__(self, store: Store, *, lease_timeout: float = 30.0) -> None:
        threads = _LentThreads(max_workers=_MAX_LENT, thread_name_prefix="pythagoras-lent")
        super().__init__(store, max_workers=_MAX_LENT, lease_timeout=lease_timeout, executor=threads)
        self.pool.resize(0)

    @classmethod
    def of(cls, store: Store) -> LendingPeer:
        """This process's lending peer on ``store``, made once per location, with the lease of
        the peer whose worker this process is (a shorter lease elsewhere would find its
        claims stale)."""
        with _PEERS_LOCK:
            peer = _PEERS.get(store.location)
            if peer is None or peer._closed:
                peer = _PEERS[store.location] = cls(store, lease_timeout=worker_lease())
            return peer

    @contextmanager
    def lending(self) -> Iterator[None]:
        """While the block runs (the caller waits for calls), run one more call at once: one
        per waiting thread, however many waits it nests (``sync_parallel`` waits on futures
        that lend too), and never more than its threads."""
        if getattr(_lent, "here", False):
            yield
            return
        lends = self.pool.widen(_MAX_LENT)
        if lends:
            self.runner.list_again()
            with self._wake:
                self._news = True
                self._start()
                self._wake.notify_all()
        _lent.here = True
        try:
            yield
        finally:
            _lent.here = False
            if lends:
                self.pool.narrow()

    def _refresh_capacity(self) -> None:
        """Its capacity is the number of threads lending, not its thread pool's size."""

    def _announce(self) -> None:
        """It writes no peer record: its slots are those of the peer whose worker this process
        is, which that peer counts already, and its process ends without a word (loky kills
        its workers), which would leave a stale record behind each time."""


class _LentThreads(ThreadPoolExecutor):
    """The threads lent calls run in, each call marked as nested in this worker's run."""

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        return super().submit(_marked, fn, *args, **kwargs)


def _marked(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    with lent_run():
        return fn(*args, **kwargs)
