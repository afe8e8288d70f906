"""A peer: one process's member of the swarm, with a warm local pool of worker processes.

A peer is a few parts that each own their state, composed here. The peer owns the loop thread:
it announces the peer and has its leases renewed every ``lease_timeout / 3``; has the awaited
calls polled, resolving their futures when their result or failure appears; and, while it
serves (always for a worker, while it waits for results otherwise), has pending requests
picked, claimed and run. Idle polling backs off from 1 ms to a cap (``poll_cap``). See
``docs/protocol.md``.

The threads, maps and locks inside one peer (``->``: calls into; ``[]``: state, owned by the
part named above it)::

  caller's threads        loop thread               pool's callback thread   watchdog's thread
  (submit, await_result,  (Peer._loop)              (loky's, or an engine's  (FolderWatch, on a
   holding, lending,       |                         completion thread)       local folder)
   close)                  |                          |                         |
   |                       | heartbeat -> LeaseKeeper | Runner._finished        | Peer._on_key
   |                       | poll      -> Waiters     |  -> settle, resolve     |  -> Waiters.hear
   |                       | pick      -> Runner      |                         |  -> Runner.list_again
   v                       v                          v                         v
  +--------------------------------------------------------------------------------------+
  | Peer          [_news, _heard, _closed, _thread, _next_beat, _watch]    Condition _wake |
  |   the loop waits on _wake; every other thread notifies it when there is work           |
  | Waiters       [_waiting: address -> futures, _direct, _heard, _requests]   Lock _lock  |
  | Runner        [_own, _candidates, _skip, _busy, executed]                  Lock _lock  |
  |   WorkerPool  [_pool (loky), _on_engine, max_workers, marks: StartMarks]   Lock _lock  |
  | LeaseKeeper   [_running, _held, _lost, _unreleased]             Condition _lock        |
  |                                         Lock _writing (renew or retire in the store)   |
  +--------------------------------------------------------------------------------------+
        |  claims, requests, results, failures, peer records
        v
      SwarmStore -> Store  (no lock of the peer is held while the store is called)

  submit:  caller -> Runner.run (claimed at once, a worker free) -> WorkerPool.submit
           or caller -> SwarmStore.publish -> Runner.own -> (loop) Runner.pick -> Runner.run
  outcome: WorkerPool future done -> (callback thread) Runner._finished -> SwarmStore.settle under
           LeaseKeeper.retiring -> Waiters.resolve -> the caller's future

Locks: each part's lock guards that part's maps only and is never held while another part, the
store, or a future's callbacks are called; so no two part locks are ever held at once, and
there is no order to keep among them. The one nesting is inside the lease keeper: ``_writing``,
then its ``_lock``.
"""

from __future__ import annotations

import atexit
import functools
import logging
import os
import threading
import time
from collections.abc import Iterator
from concurrent.futures import Executor, Future
from contextlib import contextmanager
from typing import Any

from ..errors import writing_to
from ..identity.address import CallAddress
from ..records.portable import PYTHON
from ..storage.base import Store
from ..storage.local import LocalFolderStore
from .leases import LeaseKeeper
from .notifications import FolderWatch, watch_folder
from .pool import WorkerPool
from .protocol import PreparedRequest, new_peer_id
from .runner import Runner
from .swarm_store import SwarmStore
from .waiters import Waiters

__all__ = ["Peer"]

log = logging.getLogger("pythagoras")


class Peer:
    """Serves one store: claims and runs pending calls, and waits for the results of others.

    The calls run on a warm loky pool of ``max_workers`` processes, or on ``executor``, a
    caller's ``concurrent.futures.Executor`` (an *engine*, ``docs/engines.md``), as many at
    once as it has workers (capped by ``max_workers``); the peer never shuts an engine down.
    """

    #: A thread that waits on a lending peer lends it its slot (:mod:`pythagoras.swarm.lending`).
    lends = False

    def __init__(self, store: Store, *, max_workers: int | None = None, lease_timeout: float = 30.0,
                 max_attempts: int = 3, poll_cap: float | None = None,
                 serve_always: bool = False, executor: Executor | None = None) -> None:
        self.id = new_peer_id()
        self.swarm = SwarmStore(store, lease_timeout=lease_timeout, max_attempts=max_attempts)
        self.lease_timeout = lease_timeout
        if poll_cap is None:  # a folder is cheap to poll; an object store is not
            poll_cap = 1.0 if store.remote else 0.05
        self.poll_cap = poll_cap
        # While this process waits on calls that other peers run, it polls at least every
        # 0.25 s, so that a result on a remote store is seen soon after it is stored.
        self.wait_poll_cap = min(poll_cap, 0.25)
        self.serve_always = serve_always
        self.leases = LeaseKeeper(self.swarm)
        self.pool = WorkerPool(self.swarm.store, lease_timeout, max_workers=max_workers,
                               engine=executor, at_exit=self._close_at_exit)
        self.waiters = Waiters(self.swarm, lease_timeout, busy=lambda call: self.runner.busy(call))
        self.runner = Runner(self.swarm, self.id, self.leases, self.waiters, self.pool,
                             serving=self._serving, wake=self._notify)
        self._wake = threading.Condition()  # the loop waits on it; held only around the below
        self._news = False  # a request appeared or a worker became free: try to pick
        self._heard = False  # a notification says an awaited call is finished
        self._closed = False
        self._thread: threading.Thread | None = None
        self._next_beat = 0.0
        self._watch: FolderWatch | None = None
        self._watched: set[str] = set()  # the parts of the folder it watches (the loop's only)

    @property
    def max_workers(self) -> int:
        """How many calls it runs at once (0: it runs none; a lending peer's changes)."""
        return self.pool.max_workers

    @property
    def executed(self) -> int:
        """How many calls it has run."""
        return self.runner.executed

    # -- the caller's side -----------------------------------------------------------------

    def await_result(self, address: CallAddress, future: Future[Any] | None = None, *,
                     direct: bool = False) -> Future[Any]:
        """A future for the call's value (or its failure); ``direct`` ones resolve to MISSING
        when nobody holds the call's claim any more."""
        future = Future() if future is None else future
        self.waiters.add(address, future, direct=direct)
        with self._wake:
            self._start()
            self._wake.notify_all()
        return future

    @contextmanager
    def holding(self, address: CallAddress) -> Iterator[bool]:
        """Claim a call that the caller computes in its own thread (a pure function called
        directly): True if this peer now holds the claim, renewed by the heartbeat until the
        block ends and then released; False if another peer holds it (wait for its result)."""
        with writing_to(self.swarm.store.location):  # a reader-only member: ReadOnlyLocation
            claim = self.swarm.claim(address, self.id, started=True)
        if claim is None:
            yield False
            return
        self.leases.hold(claim)
        with self._wake:
            self._start()  # the heartbeat keeps the lease fresh however long the call takes
        try:
            yield True
        finally:
            self.leases.let_go(claim)

    @contextmanager
    def lending(self) -> Iterator[None]:
        """While the block runs (the caller waits for calls), a lending peer runs one more
        call at once; nothing for this one, whose workers are its own."""
        yield

    def submit(self, prepared: PreparedRequest, futures: list[tuple[CallAddress, Future[Any]]]) -> None:
        """Have the request's calls run and ``futures`` (each with its call's address; equal
        calls may have several) settled by their results.

        Where this peer has a free worker and nobody holds the request (nor, for a batch, any
        of its calls), it claims it and runs it at once, writing no request: only the claim is
        visible, so a peer that needs one of its calls waits for it, and runs it if this peer
        dies. Otherwise it publishes the request, which any peer, this one included, picks up.
        """
        free = not self._closed and self.runner.free_for(prepared.calls)
        claim = self.swarm.claim(prepared.address, self.id,
                                 started=self.runner.starts_at_once()) if free else None
        if claim is not None:
            for address, future in futures:
                self.await_result(address, future)
            # The caller looked the calls up before this claim: a peer may have run them and
            # let its claim go since. Those are answered from the store, not run again.
            calls = [call for call in prepared.calls if not self.swarm.finished(call.address)]
            if not calls:
                self.swarm.release(claim)
                return
            if len(self.swarm.members.take(claim, calls, self.runner.times.per_call)) < len(calls):
                self.swarm.release(claim)  # a member held elsewhere: published, as below
            elif self.runner.run(claim, calls):
                return
            self.waiters.forget(futures)
        key = self.swarm.publish(prepared)
        self.waiters.track(key, (future for _, future in futures))
        for address, future in futures:
            self.await_result(address, future)
            future.add_done_callback(functools.partial(self._settled, address, key))
        self.runner.own([key])  # after the waits are registered: the loop picks while it waits

    def _settled(self, address: CallAddress, request_key: str, future: Future[Any]) -> None:
        """A future of an own request is done. The request is withdrawn when the last of its
        futures is cancelled and no peer has claimed it."""
        if not self.waiters.settled(address, request_key, future):
            return
        request_address = self.swarm.address_of(request_key)
        if request_address is None or self.leases.running(request_address):
            return
        if not self.swarm.claimed(request_address):
            self.swarm.store.discard(request_key)

    def serve(self) -> None:
        """Serve until :meth:`close` (the worker command, an executor), its pool started now.
        Its record is written before this returns (others count its workers), or ReadOnlyLocation."""
        self.serve_always = True
        with writing_to(self.swarm.store.location):
            self.swarm.announce(self.id, self._announcement())
        self.pool.start()
        with self._wake:
            self._next_beat = time.monotonic() + self.lease_timeout / 3  # just announced
            self._start()
            self._wake.notify_all()

    def stalled(self, function: str) -> str | None:
        """Why no live peer can run calls of the function now (None: one can, or unknown)."""
        try:
            return self.swarm.unrunnable(function)
        except Exception as error:  # a store hiccup: no reason is better than no timeout error
            log.info("pythagoras: cannot tell who runs %s (%s)", function, error)
            return None

    # -- the loop ----------------------------------------------------------------------------

    def _start(self) -> None:
        """Start the loop thread, once; call with ``_wake`` held."""
        if self._thread is None and not self._closed:
            self._thread = threading.Thread(target=self._loop, name=f"pythagoras-peer-{self.id}",
                                            daemon=True)
            self._thread.start()
            atexit.register(self._close_at_exit)

    def _notify(self) -> None:
        """There is something to pick: wake the loop."""
        with self._wake:
            self._news = True
            self._wake.notify_all()

    def _serving(self) -> bool:
        return self.max_workers > 0 and (self.serve_always or self.waiters.any())

    def _loop(self) -> None:
        delay = 0.001  # between full polls: 1 ms after progress, doubling up to poll_cap
        next_poll = 0.0
        watchable = isinstance(self.swarm.store.backing, LocalFolderStore)
        while True:
            with self._wake:
                if self._closed:
                    return
                heard, self._heard = self._heard, False
                news, self._news = self._news, False
            waiting = self.waiters.any()
            # A waiting peer hears of results and failures; a serving one, of requests.
            parts = {"results", "failures"} if waiting else set()
            if self._serving():
                parts.add("requests")
            if watchable and not parts <= self._watched:
                watchable = self._start_watch(parts)
            polled = time.monotonic() >= next_poll
            progress, spent = self._turn(heard, news, polled)
            if polled:
                # With notifications, polls only catch what they missed: at the cap. Without,
                # a poll that found something is soon followed by another.
                watched = self._watch is not None
                cap = self.wait_poll_cap if waiting else self.poll_cap
                delay = 0.001 if progress and not watched else min(delay * 2, cap)
                # Full polls never take more than about a tenth of the time, however many wait.
                next_poll = time.monotonic() + max(delay, 10 * spent)
            with self._wake:
                if not (self._closed or self._heard or self._news):
                    self._wake.wait(max(0.0, min(next_poll, self._next_beat) - time.monotonic()))

    def _turn(self, heard: bool, news: bool, polled: bool) -> tuple[bool, float]:
        """One turn of the loop: the heartbeat when due, the heard calls, a full poll, picks.
        Whether it made progress, and the seconds the full poll took."""
        progress = False
        spent = 0.0
        try:
            now = time.monotonic()
            if now >= self._next_beat:
                self._heartbeat()
                self._next_beat = now + self.lease_timeout / 3
            if heard:
                self.waiters.poll(self.waiters.take_heard())
            if polled:
                self.runner.list_again()
                started = time.monotonic()
                progress = self.waiters.poll(self.waiters.next_slice())
                spent = time.monotonic() - started
            if polled or news:
                progress |= self.runner.pick_while_free()
        except Exception:  # a store hiccup must not end the peer; it is retried next turn
            log.exception("pythagoras peer %s: error in its loop; retrying", self.id)
        return progress, spent

    def _start_watch(self, parts: set[str]) -> bool:
        """Notifications on the ``parts`` of a local folder; False where there can be none.

        Started here rather than by the caller: starting an observer takes watchdog some
        milliseconds, which a caller whose calls are all stored should not wait for. Each part
        is watched only once the peer needs it, since the watcher handles every record written
        there, by any peer, in Python threads that take the GIL from this process's others: a
        peer that only computes calls in its callers' threads (a pure function called
        directly) watches nothing (a direct miss took 3 times as long), a worker that waits on
        nothing watches only requests (its share of the CPU halved among eight workers)."""
        if self._watch is not None:
            try:
                self._watch.add(parts)
                self._watched = set(self._watch.parts)
            except Exception as e:  # inotify's limit on watches: the rest is polled
                log.info("pythagoras: cannot watch %s (%s); polling instead", sorted(parts), e)
                self._watched |= parts
            return True
        watch = watch_folder(self.swarm.store.backing.location, self._on_key, parts)
        with self._wake:
            if not self._closed:
                self._watch, watch = watch, None
        if watch is not None:  # closed meanwhile
            watch.close()
        if self._watch is None:
            return False
        self._watched = set(self._watch.parts)
        return True

    def _on_key(self, key: str) -> None:
        """A notification: a record appeared (see :mod:`pythagoras.swarm.notifications`)."""
        kind, _, rest = key.partition("/")
        if kind in ("results", "failures"):
            function, _, arguments = rest.partition("/")
            address = CallAddress(function, arguments.rpartition("/")[2])
            if self.waiters.hear(address):
                with self._wake:
                    self._heard = True
                    self._wake.notify_all()
        elif kind == "requests" and self._serving():
            self.runner.list_again()
            self._notify()

    def _refresh_capacity(self) -> None:
        self.pool.refresh_capacity()

    def _announce(self) -> None:
        try:  # a full disk may refuse the record and still let the leases be renewed
            self.swarm.announce(self.id, self._announcement())
        except Exception as error:
            log.warning("pythagoras: cannot announce peer %s (%s)", self.id, error)

    def _heartbeat(self) -> None:
        self._refresh_capacity()
        self._announce()
        self.leases.renew(begun=lambda claim: self.pool.begun(claim.address))
        self.waiters.report_stalls(self.stalled)  # after the renewal: it may list the peers

    def _announcement(self) -> dict[str, Any]:
        return {"host": self.id.rsplit("-", 2)[0], "pid": os.getpid(),
                "workers": self.max_workers, "serving": self._serving(), "python": PYTHON}

    # -- shutting down ---------------------------------------------------------------------

    def _close_at_exit(self) -> None:
        """The interpreter is exiting: release running calls and shut the pool down."""
        self.close(wait=False)

    def _wait_renewing(self, timeout: float | None) -> None:
        """Wait for the runs here to end, renewing their leases meanwhile (the loop, which
        renews them otherwise, has stopped): a long run lets no other peer break its claim."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            step = self.lease_timeout / 3
            if deadline is not None:
                step = min(step, max(0.0, deadline - time.monotonic()))
            if self.leases.wait_idle(step) or (deadline is not None and time.monotonic() >= deadline):
                return
            self.leases.renew(begun=lambda claim: self.pool.begun(claim.address))

    def close(self, wait: bool = True, timeout: float | None = None) -> None:
        """Stop picking; finish running calls (``wait``) or release their claims; leave the swarm."""
        with self._wake:
            if self._closed:
                return
            self._closed = True
            self._wake.notify_all()
        self.runner.stop()
        if wait:
            self._wait_renewing(timeout)
        unfinished = self.leases.close()
        self.pool.close(kill_workers=bool(unfinished))
        with self._wake:
            watch, self._watch = self._watch, None
        if watch is not None:
            watch.close()
        try:
            self.swarm.retire_peer(self.id)
        except OSError:
            pass
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)
