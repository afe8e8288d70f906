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
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Final

from .peer import Peer
from .storage.base import Store

__all__ = ["LendingPeer"]

_MAX_LENT: Final = 256  # threads the calls may run in: one per thread that waits

_PEERS: dict[str, LendingPeer] = {}  # this process's lending peers, by location
_PEERS_LOCK = threading.Lock()


class LendingPeer(Peer):
    """A peer whose only workers are the threads that wait on it."""

    lends = True

    def __init__(self, store: Store, *, lease_timeout: float = 30.0) -> None:
        threads = ThreadPoolExecutor(max_workers=_MAX_LENT, thread_name_prefix="pythagoras-lent")
        super().__init__(store, max_workers=_MAX_LENT, lease_timeout=lease_timeout, executor=threads)
        self.max_workers = 0

    @classmethod
    def of(cls, store: Store, lease_timeout: float = 30.0) -> LendingPeer:
        """This process's lending peer on ``store``, made once per location."""
        with _PEERS_LOCK:
            peer = _PEERS.get(store.location)
            if peer is None or peer._closed:
                peer = _PEERS[store.location] = cls(store, lease_timeout=lease_timeout)
            return peer

    @contextmanager
    def lending(self) -> Iterator[None]:
        """While the block runs (the caller waits for calls), run one more call at once."""
        with self._cv:
            self.max_workers += 1
            self._news = self._listing_due = True
            self._start()
            self._cv.notify_all()
        try:
            yield
        finally:
            with self._cv:
                self.max_workers -= 1

    def _refresh_capacity(self) -> None:
        """Its capacity is the number of threads lending, not its thread pool's size."""
