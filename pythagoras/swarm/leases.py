"""The lease keeper: the claims one peer holds, kept fresh until they are released.

A peer holds two kinds of claim: those of the requests running on its pool or engine
(*running*), and those of calls its callers compute in their own threads (*held*, a pure
function called directly). The heartbeat renews both; a claim that another peer broke meanwhile
(its lease lapsed, ``SwarmStore.renew`` says so) is *lost*: it is renewed no more, and the run that
holds it goes on to its end, whose outcome the swarm takes like any other. A claim that the
store refuses to release (a folder turned read-only) is kept and released at the next
heartbeat.

Two locks, neither held while the other part's code runs:

- ``_lock`` (a Condition): the maps above; notified when a running claim ends, for
  :meth:`LeaseKeeper.wait_idle`. Never held while the store is called.
- ``_writing``: held while a claim is renewed or retired in the store, so that a renewal under
  way never writes back a claim that was just released (:meth:`retiring`). Taken before
  ``_lock`` where both are taken, never after.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from ..identity.address import CallAddress
from .protocol import Claim
from .swarm_store import SwarmStore

__all__ = ["LeaseKeeper"]

log = logging.getLogger("pythagoras")


class LeaseKeeper:
    """The claims of one peer: running and held ones renewed by :meth:`renew`, released once."""

    def __init__(self, swarm: SwarmStore) -> None:
        self.swarm = swarm
        self._lock = threading.Condition()
        self._writing = threading.Lock()
        self._running: dict[CallAddress, Claim] = {}  # by the address of the request running
        self._held: dict[CallAddress, Claim] = {}  # calls computed in a caller's thread here
        self._lost: set[str] = set()  # nonces of claims another peer broke: renewed no more
        self._unreleased: list[Claim] = []  # claims the store refused to release: retried
        self._closed = False

    # -- what is held ------------------------------------------------------------------------

    def start(self, claim: Claim) -> bool:
        """Count the claim's request as running here; False once the keeper is closed (the
        caller releases the claim then)."""
        with self._lock:
            if self._closed:
                return False
            self._running[claim.address] = claim
            return True

    def end(self, address: CallAddress) -> None:
        """The run of the request at ``address`` ended; its claim is settled or released."""
        with self._lock:
            claim = self._running.pop(address, None)
            if claim is not None:
                self._lost.discard(claim.nonce)
            self._lock.notify_all()

    def running(self, address: CallAddress) -> bool:
        with self._lock:
            return address in self._running

    def running_count(self) -> int:
        with self._lock:
            return len(self._running)

    def hold(self, claim: Claim) -> None:
        """Renew a claim whose call a caller computes in its own thread until :meth:`let_go`."""
        with self._lock:
            self._held[claim.address] = claim

    def let_go(self, claim: Claim) -> None:
        """The caller's own computation ended: stop renewing the claim and release it."""
        with self._writing:
            with self._lock:
                self._held.pop(claim.address, None)
                self._lost.discard(claim.nonce)
            self._release(claim)

    # -- writing claims ----------------------------------------------------------------------

    @contextmanager
    def retiring(self) -> Iterator[None]:
        """Settle or fail calls in the store within: no renewal rewrites a claim meanwhile."""
        with self._writing:
            yield

    def release(self, claim: Claim) -> None:
        """Give a claim back to the swarm, now or, if the store refuses, at a later heartbeat."""
        with self._writing:
            self._release(claim)

    def _release(self, claim: Claim) -> None:
        """Release with ``_writing`` held."""
        try:
            self.swarm.release(claim)
        except Exception as error:
            log.warning("pythagoras: cannot release the claim on %s (%s); trying again at each "
                        "heartbeat", claim.address, error)
            with self._lock:
                self._unreleased.append(claim)

    def renew(self, begun: Callable[[Claim], bool] = lambda claim: False) -> None:
        """The heartbeat's part: release what the store refused to release before, then renew
        every claim still running or held. ``begun`` tells a running claim whose worker has
        begun the run (breaking it costs an attempt then: it is renewed as started)."""
        with self._lock:
            running = list(self._running.values())
            claims = [claim for claim in [*running, *self._held.values()]
                      if claim.nonce not in self._lost]
            unreleased, self._unreleased = self._unreleased, []
        for claim in running:
            if not claim.started and begun(claim):
                claim.started = True
        for claim in unreleased:
            self.release(claim)
        for claim in claims:
            with self._writing:
                with self._lock:
                    if (self._running.get(claim.address) is not claim
                            and self._held.get(claim.address) is not claim):
                        continue  # finished since: its claim is released
                if not self.swarm.renew(claim):
                    log.warning("pythagoras: lost the lease on %s; another peer may run it too",
                                claim.address)
                    with self._lock:
                        self._lost.add(claim.nonce)

    # -- closing -----------------------------------------------------------------------------

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Wait until no claim runs here (at most ``timeout`` seconds); True if none does."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._lock:
            while self._running:
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return False
                self._lock.wait(remaining if remaining is not None else 0.1)
            return True

    def close(self) -> list[Claim]:
        """Take no more runs; release the claims of those unfinished and the ones the store
        refused before. Returns the unfinished ones (their workers are to be stopped)."""
        with self._lock:
            self._closed = True
            unfinished = list(self._running.values())
            unreleased, self._unreleased = self._unreleased, []
        with self._writing:  # a heartbeat under way must not write a released claim back
            for claim in [*unfinished, *unreleased]:
                try:
                    self.swarm.release(claim)
                except Exception as error:  # the store is failing: the lease lapses instead
                    log.warning("pythagoras: cannot release the claim on %s (%s)",
                                claim.address, error)
        return unfinished
