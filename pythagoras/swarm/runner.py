"""The runner: picking pending requests, claiming them, running their calls on the peer's
workers (:mod:`pythagoras.swarm.pool`), and settling their outcomes in the store.

Picks happen in the peer's loop thread, and in a caller's thread for a request it runs at
once (:meth:`Runner.run`, from ``Peer.submit``). Outcomes are handled in the pool's callback
thread, or in an engine's completion thread (``docs/engines.md``). A worker that dies counts
one attempt against the call it ran; a batch it ran is split into requests of one call each.
See ``docs/protocol.md``.

One lock, ``_lock``, over what to pick next and the calls running here; never held while the
store, the lease keeper, the waiters or the pool are called.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from concurrent.futures import Future
from typing import Any

from ..errors import ForeignCode
from ..identity.address import CallAddress
from ..records.frames import Pickled
from ..records.portable import PYTHON
from . import events
from .leases import LeaseKeeper
from .outcomes import CallTimes, Outcomes, announce, described, died, outcomes_of, run_name
from .pool import WorkerPool
from .protocol import Call, Claim, Failure, Member, is_batch
from .swarm_store import SwarmStore
from .waiters import Waiters
from .worker import SPLIT, pack

__all__ = ["Runner"]

log = logging.getLogger("pythagoras")

class Runner:
    """Picks, claims and runs calls on ``pool``, keeping their claims with ``leases``, resolving
    ``waiters`` with their outcomes; ``serving``: whether to pick now; ``wake``: wakes the loop."""

    def __init__(self, swarm: SwarmStore, peer_id: str, leases: LeaseKeeper, waiters: Waiters,
                 pool: WorkerPool, *, serving: Callable[[], bool] = lambda: True,
                 wake: Callable[[], None] = lambda: None) -> None:
        self.swarm = swarm
        self.peer_id = peer_id
        self.leases = leases
        self.waiters = waiters
        self.pool = pool
        self._serving = serving
        self._wake = wake
        self._lock = threading.Lock()
        self._listing_due = True  # list the store at the next pick: requests may be pending
        self._heard_of = 0  # requests heard of so far (list_again), however they interleave
        self._own: deque[str] = deque()  # request keys this process submitted: picked first
        self._candidates: list[str] = []  # listed request keys (the loop thread's only)
        self._skip: dict[str, float] = {}  # request key -> when to try it again (inf: never)
        self._busy: set[CallAddress] = set()  # the calls running here: not polled for
        self._stopped = False
        self.executed = 0
        self.times = CallTimes()  # seconds per call of each function run here

    # -- what to pick ------------------------------------------------------------------------

    def own(self, keys: Iterable[str]) -> None:
        """Requests this process published: picked first."""
        with self._lock:
            self._own.extend(keys)
        self._wake()

    def list_again(self) -> None:
        """A request appeared: list the store at the next pick."""
        self._heard_of += 1
        self._listing_due = True

    def busy(self, address: CallAddress) -> bool:
        """True while the call runs here."""
        with self._lock:
            return address in self._busy

    def free_for(self, calls: list[Call]) -> bool:
        """True if a worker is free and none of the calls runs here already."""
        if self._stopped or self.leases.running_count() >= self.pool.max_workers:
            return False
        with self._lock:
            return not any(call.address in self._busy for call in calls)

    def starts_at_once(self) -> bool:
        """True if a call claimed now starts at once: an engine's, or on a pool with a started
        worker free (a claim says so, so that breaking it charges an attempt)."""
        return self.pool.starts_at_once(self.leases.running_count())

    def skip(self, key: str, seconds: float) -> None:
        """Pick the request again only after ``seconds``."""
        with self._lock:
            self._skip[key] = time.monotonic() + seconds

    def pick_while_free(self) -> bool:
        """Claim and start pending calls while a worker is free; True if any was started."""
        picked = False
        while (self._serving() and self.leases.running_count() < self.pool.max_workers
               and not self._stopped):
            if not self.pick():
                break
            picked = True
        return picked

    def _next_key(self, listed: bool) -> tuple[str | None, bool]:
        """The next request key to try, and whether the store was listed for it; None when
        there is none (the store is listed at most once per pick)."""
        with self._lock:
            if self._own:
                return self._own.popleft(), listed
        if not self._candidates:
            if listed or not self._listing_due:
                return None, listed
            listed = True
            now = time.monotonic()
            heard = self._heard_of
            keys = self.swarm.candidates()
            with self._lock:
                self._candidates = [k for k in keys if self._skip.get(k, 0.0) <= now]
            if not self._candidates:  # list again once a request is heard of (while this
                self._listing_due = self._heard_of != heard  # ran too), or at the next poll
                return None, listed
        return self._candidates.pop(), listed

    def pick(self) -> bool:
        """Claim one pending call and start it; False when there was nothing to claim."""
        listed = False
        while not self._stopped:
            key, listed = self._next_key(listed)
            if key is None:
                return False
            address = self.swarm.address_of(key)
            if address is None or self.leases.running(address) or self.busy(address):
                continue  # running here already, as a request of its own or in a batch
            if not is_batch(address) and self.swarm.finished(address):
                self.swarm.store.discard(key)  # done already: retire the request
                continue
            claim = self.swarm.claim(address, self.peer_id, started=self.starts_at_once())
            if claim is None:
                continue
            calls = self._load_claimed(key, claim)
            if not calls:
                continue
            with self._lock:  # calls running here in another request: not twice on one peer
                ready = [call for call in calls if call.address not in self._busy]
            ready = self.swarm.members.take(claim, ready, self.times.per_call)  # nor elsewhere
            if not ready:
                self.swarm.release(claim)
                self.skip(key, min(1.0, self.swarm.lease_timeout / 3))
                continue
            return self.run(claim, ready)
        return False

    # -- loading -----------------------------------------------------------------------------

    def _load_claimed(self, key: str, claim: Claim) -> list[Call]:
        """The calls of the claimed request to run here; none if there are none now, each
        such case dealt with: retried later, failed, or retired."""
        unloadable: list[tuple[Member, BaseException]] = []
        try:
            request = self.swarm.load_request(key)
            calls = self.swarm.pending_calls(request, unloadable) if request is not None else []
        except ForeignCode as e:
            # Another Python's bytecode, with no source to rebuild it from: never run here,
            # never failed here; left to peers of that version.
            if key not in self._skip:
                log.warning("pythagoras: leaving %s to peers of Python %s: %s", key, e.python, e)
            self._give_back(claim, key, self.swarm.lease_timeout)
            return []
        except LookupError as e:
            # Its function or a large argument has not arrived here yet, or arrived
            # truncated: a sync service delivers files in any order. Try again later.
            log.info("pythagoras: %s is incomplete here (%s); trying it again later", key, e)
            self._give_back(claim, key, min(1.0, self.swarm.lease_timeout / 3))
            return []
        except Exception as e:  # an argument of a class this peer cannot import
            ours = self.swarm.functions.python_of(claim.address.function) in (None, PYTHON)
            if ours and not is_batch(claim.address):  # else a peer of its Python may load it
                self._cannot_load(claim, [(claim.address, e)], last=True)
                return []
            log.warning("pythagoras: cannot load %s here (%s); leaving it to other peers", key, e)
            self._give_back(claim, key, float("inf"))
            return []
        if request is None:  # finished and retired meanwhile
            self.swarm.release(claim)
            return []
        if unloadable:
            self._cannot_load(claim, [(m.address, e) for m, e in unloadable], last=not calls)
        elif not calls:  # a batch whose calls all ran already
            self.swarm.settle(claim, ())
        return calls

    def _give_back(self, claim: Claim, key: str, seconds: float) -> None:
        self.skip(key, seconds)  # a request not to run here now: tried again after ``seconds``
        self.swarm.release(claim)

    def _cannot_load(self, claim: Claim, calls: list[tuple[CallAddress, BaseException]],
                     last: bool) -> None:
        """Fail calls whose function or arguments cannot be loaded on this peer (a module it
        lacks), as the call's own failure: with a process pool, loading is part of the call.
        ``last``: the request has no other calls, so it is retired with them."""
        failed = []
        for address, error in calls:
            text = (f"{type(error).__qualname__}: {error}\n(the call cannot be loaded on peer "
                    f"{self.peer_id}: install what it needs there, then clear the failure)\n")
            log.warning("pythagoras: cannot load %s on this peer: %s", address, error)
            failed.append((address, None, Failure.raised(error, text, self.peer_id, claim.attempt)))
        with self.leases.retiring():
            if last:
                self.swarm.settle(claim, failed)
            else:
                for address, _, failure in failed:
                    self.swarm.fail(address, None, failure)
        for address, _, failure in failed:
            self.waiters.resolve(address, error=failure.to_exception())

    # -- running -----------------------------------------------------------------------------

    def run(self, claim: Claim, calls: list[Call]) -> bool:
        """Run the claimed calls on the pool; False (the claim released) if they cannot be."""
        if self._stopped or not self.leases.start(claim):
            self.swarm.release(claim)
            return False
        with self._lock:
            self._busy.update(call.address for call in calls)
        self.waiters.mark_running(call.address for call in calls)  # no more cancelled
        started = time.monotonic()
        try:
            mark = self.pool.new_mark(claim.address)  # before the run can end: its callback reads it
            submitted = self._hand_over(calls, mark, claim)
        except Exception as e:  # the pool cannot start (a fork refused): never held for ever
            log.warning("pythagoras: cannot start %s on this peer (%s: %s); releasing it",
                        run_name(calls), type(e).__name__, e)
            submitted = None
        if submitted is None:
            self._forget(claim, calls)
            self.pool.take_mark(claim.address)
            self.swarm.release(claim)
            return False
        future, runs_it = submitted
        if events.listened(events.STARTED):  # before the callback: started precedes finished
            location = self.swarm.store.location
            for call in calls:
                events.fire(events.STARTED,
                            events.CallEvent.of(call, location, self.peer_id, "runner"))
        self.pool.when_done(future, lambda f: self._finished(f, claim, calls, started, runs_it))
        return True

    def _hand_over(self, calls: list[Call], mark: str | None,
                   claim: Claim) -> tuple[Future[Any], Any] | None:
        """The calls, packed, handed to the pool; None if they cannot be. A claim not yet
        marked started is marked by the worker as it starts the run."""
        try:
            payload = pack([(call.func, call.args, call.kwargs) for call in calls])
        except Exception as e:  # never held under a renewed lease: given back at once
            log.warning("pythagoras: cannot prepare %s to run on this peer (%s: %s); leaving "
                        "it to other peers", run_name(calls), type(e).__name__, e)
            self.skip(self.swarm.request_key(claim.address), self.swarm.lease_timeout)
            return None
        started = None if claim.started else self.swarm.started_record(claim)
        task = (payload, len(calls), mark, self.swarm.functions.origins(calls), started)
        return self.pool.submit(claim.address, task)

    def _forget(self, claim: Claim, calls: list[Call]) -> None:
        """The run of ``claim`` is over here (its claim settled or released)."""
        with self._lock:
            self._busy.difference_update(call.address for call in calls)
        self.leases.end(claim.address)

    def stop(self) -> None:
        """Pick and start nothing more (the peer closes)."""
        self._stopped = True

    # -- outcomes ----------------------------------------------------------------------------

    def _finished(self, done: Future[Any], claim: Claim, calls: list[Call], started: float,
                  runs_it: Any) -> None:
        mark = self.pool.done(claim.address, done)
        try:
            outcomes = done.result()
        except Exception as crash:
            # The worker process died (a crash, the OOM killer), or the engine lost the call:
            # a BrokenExecutor, a cancelled future, dask's KilledWorker. (run_packed reports
            # whatever happens inside the worker as the call's own outcome.)
            killed = mark is None or self.pool.marks.died_running(mark)  # read before loky kills
            self._crashed(claim, calls, runs_it)
            if not self._stopped:  # else this peer's own shutdown stopped it, claim released
                self._after_crash(claim, calls, crash, killed)
            return
        if outcomes == SPLIT:
            self._crashed(claim, calls, None)
            self._split(claim, calls, "its calls cannot be loaded together")
            return
        self.times.note(calls, outcomes)  # before any future waiting on them settles
        settled = outcomes_of(calls, outcomes, self.peer_id, claim.attempt)
        self._settle(claim, calls, settled, time.monotonic() - started)

    def _after_crash(self, claim: Claim, calls: list[Call], crash: BaseException,
                     killed: bool) -> None:
        """A run ended without outcomes: split a batch; run a call again, charging an attempt
        if it killed its worker; fail it once its attempts are used up."""
        if len(calls) > 1:
            self._split(claim, calls, f"a worker died running it ({crash})")
            return
        if not killed:
            # It had not started, or ran in a worker that loky killed because another
            # worker died: it runs again, and no attempt is charged.
            self._run_again(claim, calls)
            return
        if self.swarm.record_attempt(claim):
            log.warning("pythagoras: the worker running %s died (%s); attempt %d", run_name(calls),
                        described(crash), claim.attempt)
            self._run_again(claim, calls)
            return
        failure = died(calls, crash, claim.attempt - 1, self.peer_id)
        self._settle(claim, calls, [(call.address, None, failure) for call in calls], 0.0)

    def _crashed(self, claim: Claim, calls: list[Call], runs_it: Any) -> None:
        """Forget a run that ended without outcomes; shut its broken pool down."""
        self._forget(claim, calls)
        self.pool.broken(runs_it)

    def _run_again(self, claim: Claim, calls: list[Call]) -> None:
        """Run a call whose worker died once more: here, or where this peer cannot (its claim
        released), by other peers from a request, which a call claimed at submit never had."""
        claim.started = False
        if not self.run(claim, calls) and not self._stopped:
            self.own([self.swarm.publish(self.swarm.prepare(calls, self.peer_id))])

    def _settle(self, claim: Claim, calls: list[Call], settled: Outcomes, seconds: float) -> None:
        """Store the outcomes of a run, then resolve the futures waiting here."""
        try:
            with self.leases.retiring():  # no renewal may rewrite the claim once it is released
                self.swarm.settle(claim, settled)
        except Exception as error:
            # The store refused the outcome (a full disk, a read-only folder, a store gone).
            self._refused(claim, calls, settled, error)
            return
        finally:
            with self._lock:
                self.executed += len(calls)
            self._forget(claim, calls)
            self._wake()  # a worker is free: pick again
        raised = any(failure is not None for _, _, failure in settled)
        log.info("pythagoras: %s %s in %.3f s", run_name(calls), "raised" if raised else "done",
                 seconds)
        if events.listened(events.FINISHED, events.FAILED):  # published, and no lock held
            announce(calls, settled, seconds, self.swarm.store.location, self.peer_id)
        for address, value, failed in settled:
            if failed is not None:
                self.waiters.resolve(address, error=failed.to_exception())
            elif self.waiters.awaited(address):
                self.waiters.resolve(
                    address, value=value.load() if isinstance(value, Pickled) else value)

    def _refused(self, claim: Claim, calls: list[Call], settled: Outcomes,
                 error: Exception) -> None:
        """The store refused a run's outcome: tell the callers here that it did."""
        name = run_name(calls)
        log.error("pythagoras: the outcome of %s could not be stored: %s", name, error)
        failure = Failure.store_failed(name, self.swarm.store.location, error, self.peer_id,
                                       claim.attempt)
        self._store_failed(claim, [address for address, _, _ in settled], failure)
        for address, _, _ in settled:
            refused = failure.to_exception()
            refused.__cause__ = error
            self.waiters.resolve(address, error=refused)

    def _store_failed(self, claim: Claim, addresses: list[CallAddress], failure: Failure) -> None:
        """Tell every caller of the calls whose outcome the store refused, through a small
        transient failure record where the store still takes one (a value too big for the disk
        that is left). Where it takes nothing, the claim is given back to the swarm, now or
        once the store takes writes again, and this peer leaves the request to others for a
        lease: a caller elsewhere waits until some peer can store the outcome."""
        try:
            with self.leases.retiring():
                self.swarm.settle(claim, [(address, None, failure) for address in addresses
                                          if not self.swarm.finished(address)])
            return
        except Exception as error:
            log.error("pythagoras: nor could its failure be stored: %s", error)
        self.leases.release(claim)
        self.skip(self.swarm.request_key(claim.address), self.swarm.lease_timeout)

    def _split(self, claim: Claim, calls: list[Call], why: str) -> None:
        """A batch did not run (a worker died running it, or it cannot be loaded as a whole):
        send its calls again one request each, so that the attempts count against the call
        that kills its worker, and a call that cannot be loaded fails alone."""
        log.warning("pythagoras: a batch of %d calls did not run (%s); running them one by "
                    "one", len(calls), why)
        keys = [self.swarm.publish(self.swarm.prepare([call], self.peer_id)) for call in calls]
        with self.leases.retiring():
            self.swarm.settle(claim, ())  # retire the batch request and its claim
        self.own(keys)
