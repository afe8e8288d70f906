"""A peer: one process's member of the swarm, with a warm local pool of worker processes.

One thread per peer runs the loop: announce the peer and renew its leases every
``lease_timeout / 3``; resolve the futures it waits on when their result or failure appears;
and, while it serves (always for a worker, while it waits for results otherwise), pick pending
requests, claim them and run them on the pool. Completions are handled in the pool's callback
thread. Idle polling backs off from 1 ms to a cap (``poll_cap``). See ``docs/protocol.md``.
"""

from __future__ import annotations

import atexit
import functools
import logging
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from concurrent.futures import Executor, Future, InvalidStateError
from typing import Any

# joblib's own copy of loky, not the loky package: with two copies in one process, a pool that a
# task starts through joblib inside a worker is unknown to the other copy's exit hook, and the
# worker's exit waits for that pool's idle processes (5 minutes). Both also claim the
# multiprocessing context name "loky".
from joblib.externals import loky  # type: ignore[import-untyped]

from . import events
from .engines import Engine
from .identity.address import CallAddress
from .protocol import Call, Claim, Failure, PreparedRequest, Swarm, is_batch, new_peer_id, run_calls
from .records import MISSING
from .notifications import FolderWatch, watch_folder
from .storage.base import Store
from .storage.local import LocalFolderStore

__all__ = ["Peer"]

log = logging.getLogger("pythagoras")


class Peer:
    """Serves one store: claims and runs pending calls, and waits for the results of others.

    The calls run on a warm loky pool of ``max_workers`` processes, or on ``executor``, a
    caller's ``concurrent.futures.Executor`` (an *engine*, ``docs/engines.md``), as many at
    once as it has workers (capped by ``max_workers``); the peer never shuts an engine down.
    """

    def __init__(self, store: Store, *, max_workers: int | None = None, lease_timeout: float = 30.0,
                 max_attempts: int = 3, poll_cap: float | None = None,
                 serve_always: bool = False, executor: Executor | None = None) -> None:
        self.id = new_peer_id()
        self.swarm = Swarm(store, lease_timeout=lease_timeout, max_attempts=max_attempts)
        self._engine = None if executor is None else Engine(executor, max_workers)
        self._engine_refused = False  # the engine refused a call: this peer runs no more
        self._on_engine: dict[CallAddress, Future[Any]] = {}  # by request address
        if self._engine is not None:
            self.max_workers = self._engine.capacity()
        else:
            self.max_workers = (os.cpu_count() or 1) if max_workers is None else max_workers
        self.lease_timeout = lease_timeout
        if poll_cap is None:  # a folder is cheap to poll; an object store is not
            poll_cap = 1.0 if store.remote else 0.05
        self.poll_cap = poll_cap
        # While this process waits on calls that other peers run, it polls at least every
        # 0.25 s, so that a result on a remote store is seen soon after it is stored.
        self.wait_poll_cap = min(poll_cap, 0.25)
        self.serve_always = serve_always
        self._cv = threading.Condition()
        self._leases = threading.Lock()  # held while a claim is renewed or retired
        self._listing_due = True  # list the store at the next pick: requests may be pending
        self._own: deque[str] = deque()  # request keys this process submitted: picked first
        self._candidates: list[str] = []
        self._skip: dict[str, float] = {}  # request key -> when to try it again (inf: never)
        self._running: dict[CallAddress, Claim] = {}  # by the address of the request running
        self._held: dict[CallAddress, Claim] = {}  # calls computed in a caller's thread here
        self._unreleased: list[Claim] = []  # claims the store refused to release: retried
        self._busy: set[CallAddress] = set()  # the calls running here: not polled for
        self._requests: dict[str, set[Future[Any]]] = {}  # own request key -> futures awaiting it
        self._waiting: dict[CallAddress, list[Future[Any]]] = {}
        self._direct: set[CallAddress] = set()  # waits that end when the call's claim goes stale
        self._heard: set[CallAddress] = set()  # awaited calls a notification says are finished
        self._news = False  # a request appeared or a worker became free: try to pick
        self._rotation = 0
        self._watch: FolderWatch | None = None
        self._watched: set[str] = set()  # the parts of the folder it watches
        self._pool: Any = None
        self._exit_hooked = False
        self._thread: threading.Thread | None = None
        self._closed = False
        self._next_beat = 0.0
        self.executed = 0

    # -- the caller's side -----------------------------------------------------------------

    def await_result(self, address: CallAddress, future: Future[Any] | None = None, *,
                     direct: bool = False) -> Future[Any]:
        """A future for the call's value (or its failure); ``direct`` ones resolve to MISSING
        when nobody holds the call's claim any more."""
        future = Future() if future is None else future
        with self._cv:
            self._waiting.setdefault(address, []).append(future)
            if direct:
                self._direct.add(address)
            self._start()
            self._cv.notify_all()
        return future

    @contextmanager
    def holding(self, address: CallAddress) -> Iterator[bool]:
        """Claim a call that the caller computes in its own thread (a pure function called
        directly): True if this peer now holds the claim, renewed by the heartbeat until the
        block ends and then released; False if another peer holds it (wait for its result)."""
        claim = self.swarm.claim(address, self.id)
        if claim is None:
            yield False
            return
        with self._cv:
            self._held[address] = claim
            self._start()  # the heartbeat keeps the lease fresh however long the call takes
        try:
            yield True
        finally:
            with self._leases:
                with self._cv:
                    self._held.pop(address, None)
                self._release(claim)

    def _release(self, claim: Claim) -> None:
        """Release a claim; one the store refuses to release (a folder turned read-only) is
        released by the heartbeat once the store takes writes again. Call with ``_leases``."""
        try:
            self.swarm.release(claim)
        except Exception as error:
            log.warning("pythagoras: cannot release the claim on %s (%s); trying again at each "
                        "heartbeat", claim.address, error)
            with self._cv:
                self._unreleased.append(claim)

    def submit(self, prepared: PreparedRequest, futures: list[tuple[CallAddress, Future[Any]]]) -> None:
        """Have the request's calls run and ``futures`` (each with its call's address; equal
        calls may have several) settled by their results.

        Where this peer has a free worker and nobody holds the request, it claims it and runs
        it at once, writing no request: only the claim is visible, so a peer that needs one of
        its calls waits for it, and runs it if this peer dies. Otherwise it publishes the
        request, which any peer, this one included, picks up.
        """
        with self._cv:
            free = (not self._closed and 0 < self.max_workers and len(self._running) < self.max_workers
                    and not any(call.address in self._busy for call in prepared.calls))
        claim = self.swarm.claim(prepared.address, self.id) if free else None
        if claim is not None:
            for address, future in futures:
                self.await_result(address, future)
            if self._run(claim, prepared.calls):
                return
            with self._cv:
                for address, _ in futures:
                    self._waiting.pop(address, None)
        key = self.swarm.publish(prepared)
        with self._cv:
            self._requests.setdefault(key, set()).update(future for _, future in futures)
            self._own.append(key)
            self._news = True
        for address, future in futures:
            self.await_result(address, future)
            future.add_done_callback(functools.partial(self._settled, address, key))

    def _settled(self, address: CallAddress, request_key: str, future: Future[Any]) -> None:
        """A future of an own request is done. A cancelled one stops being waited on; the
        request is withdrawn when the last of its futures is cancelled and no peer has
        claimed it."""
        with self._cv:
            if future.cancelled():
                futures = self._waiting.get(address, [])
                if future in futures:
                    futures.remove(future)
                    try:  # wait() and as_completed() count a cancelled future once it is notified
                        future.set_running_or_notify_cancel()
                    except RuntimeError:  # notified already
                        pass
                if not futures:
                    self._waiting.pop(address, None)
                    self._direct.discard(address)
            awaited = self._requests.get(request_key)
            if awaited is None:
                return
            awaited.discard(future)
            if awaited:
                return
            del self._requests[request_key]
            request_address = self.swarm.address_of(request_key)
            if not future.cancelled() or request_address is None or request_address in self._running:
                return
        if not self.swarm.claimed(request_address):
            self.swarm.store.discard(request_key)

    def _start(self) -> None:
        if self._thread is None and not self._closed:
            self._thread = threading.Thread(target=self._loop, name=f"pythagoras-peer-{self.id}",
                                            daemon=True)
            self._thread.start()
            atexit.register(self._close_at_exit)

    def _close_at_exit(self) -> None:
        """The interpreter is exiting: release running calls and shut the pool down."""
        self.close(wait=False)

    def serve(self) -> None:
        """Serve until :meth:`close` (the worker command). The peer's record is written before
        this returns, so other peers count its workers from then on."""
        with self._cv:
            self.serve_always = True
        self.swarm.announce(self.id, self._announcement())
        with self._cv:
            self._next_beat = time.monotonic() + self.lease_timeout / 3  # just announced
            self._start()
            self._cv.notify_all()

    # -- the loop ----------------------------------------------------------------------------

    def _serving(self) -> bool:
        return self.max_workers > 0 and (self.serve_always or bool(self._waiting))

    def _loop(self) -> None:
        delay = 0.001  # between full polls: 1 ms after progress, doubling up to poll_cap
        next_poll = 0.0
        watchable = isinstance(self.swarm.store.backing, LocalFolderStore)
        while True:
            with self._cv:
                if self._closed:
                    return
                heard, self._heard = self._heard, set()
                news, self._news = self._news, False
                # A waiting peer hears of results and failures; a serving one, of requests.
                parts = {"results", "failures"} if self._waiting else set()
                if self._serving():
                    parts.add("requests")
            if watchable and not parts <= self._watched:
                watchable = self._start_watch(parts)
            progress = False
            polled = False
            spent = 0.0
            try:
                now = time.monotonic()
                if now >= self._next_beat:
                    self._heartbeat()
                    self._next_beat = now + self.lease_timeout / 3
                if heard:
                    self._poll(heard)
                if now >= next_poll:
                    polled = True
                    self._listing_due = True
                    started = time.monotonic()
                    progress = self._poll(self._next_slice())
                    spent = time.monotonic() - started
                if polled or news:
                    progress |= self._pick_while_free()
            except Exception:  # a store hiccup must not end the peer; it is retried next turn
                log.exception("pythagoras peer %s: error in its loop; retrying", self.id)
            if polled:
                # With notifications, polls only catch what they missed: at the cap. Without,
                # a poll that found something is soon followed by another.
                watched = self._watch is not None
                cap = self.wait_poll_cap if self._waiting else self.poll_cap
                delay = 0.001 if progress and not watched else min(delay * 2, cap)
                # Full polls never take more than about a tenth of the time, however many wait.
                next_poll = time.monotonic() + max(delay, 10 * spent)
            with self._cv:
                if not (self._closed or self._heard or self._news):
                    self._cv.wait(max(0.0, min(next_poll, self._next_beat) - time.monotonic()))

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
        with self._cv:
            if not self._closed:
                self._watch, watch = watch, None
        if watch is not None:  # closed meanwhile
            watch.close()
        if self._watch is None:
            return False
        self._watched = set(self._watch.parts)
        return True

    def _on_key(self, key: str) -> None:
        """A notification: a record appeared (see :mod:`pythagoras.notifications`)."""
        kind, _, rest = key.partition("/")
        if kind in ("results", "failures"):
            function, _, arguments = rest.partition("/")
            address = CallAddress(function, arguments.rpartition("/")[2])
            with self._cv:
                if address in self._waiting:
                    self._heard.add(address)
                    self._cv.notify_all()
        elif kind == "requests" and self._serving():
            with self._cv:
                self._news = True
                self._listing_due = True
                self._cv.notify_all()

    def _heartbeat(self) -> None:
        if self._engine is not None and not self._engine_refused:
            try:  # a dask cluster gains and loses workers: claim as many calls as it has now
                capacity = self._engine.capacity()
                with self._cv:
                    if not self._engine_refused:
                        self.max_workers = capacity
            except Exception as e:  # keep the last count; the engine's submit will tell
                log.info("pythagoras: cannot count the workers of %r (%s)", self._engine, e)
        try:  # a full disk may refuse the record and still let the leases be renewed
            self.swarm.announce(self.id, self._announcement())
        except Exception as error:
            log.warning("pythagoras: cannot announce peer %s (%s)", self.id, error)
        with self._cv:
            claims = [*self._running.values(), *self._held.values()]
            unreleased, self._unreleased = self._unreleased, []
        for claim in unreleased:
            with self._leases:
                self._release(claim)
        for claim in claims:
            with self._leases:
                with self._cv:
                    if (self._running.get(claim.address) is not claim
                            and self._held.get(claim.address) is not claim):
                        continue  # finished since: its claim is released
                if not self.swarm.renew(claim):
                    log.warning("pythagoras: lost the lease on %s; another peer may run it too",
                                claim.address)

    def _announcement(self) -> dict[str, Any]:
        return {"host": self.id.rsplit("-", 2)[0], "pid": os.getpid(),
                "workers": self.max_workers, "serving": self._serving()}

    def _next_slice(self, size: int = 256) -> list[CallAddress]:
        """The next few awaited calls, in rotation, so that one poll costs at most ``size`` reads."""
        with self._cv:
            waiting = [a for a in self._waiting if a not in self._busy]
        if len(waiting) <= size:
            return waiting
        start = self._rotation % len(waiting)
        self._rotation = start + size
        return (waiting[start:] + waiting[:start])[:size]

    def _poll(self, addresses: Iterable[CallAddress]) -> bool:
        """Resolve the futures of the calls whose result or failure is stored; True if any was."""
        resolved = False
        for address in addresses:
            with self._cv:
                if address not in self._waiting or address in self._busy:
                    continue
            value = self.swarm.lookup(address)
            if value is MISSING:
                failure = self.swarm.failure(address)
                if failure is not None:
                    self._resolve(address, error=failure.to_exception())
                    resolved = True
                elif address in self._direct and not self.swarm.claimed(address):
                    # The claim is gone: published and released since our read, or lapsed.
                    self._resolve(address, value=self.swarm.lookup(address))
                    resolved = True
                continue
            self._resolve(address, value=value)
            resolved = True
        return resolved

    def _resolve(self, address: CallAddress, *, value: Any = None,
                 error: BaseException | None = None) -> None:
        with self._cv:
            futures = self._waiting.pop(address, [])
            self._direct.discard(address)
        for future in futures:
            try:
                if error is not None:
                    future.set_exception(error)
                else:
                    future.set_result(value)
            except InvalidStateError:  # cancelled meanwhile
                pass

    def _pick_while_free(self) -> bool:
        picked = False
        while self._serving() and len(self._running) < self.max_workers and not self._closed:
            if not self._pick():
                break
            picked = True
        return picked

    def _pick(self) -> bool:
        """Claim one pending call and start it; False when there was nothing to claim.

        The store is listed at most once per pick: held calls are left for the next poll.
        """
        listed = False
        while not self._closed:
            with self._cv:
                key = self._own.popleft() if self._own else None
            if key is None:
                if not self._candidates:
                    if listed or not self._listing_due:
                        return False
                    listed = True
                    now = time.monotonic()
                    self._candidates = [k for k in self.swarm.candidates()
                                        if self._skip.get(k, 0.0) <= now]
                    if not self._candidates:
                        # Nothing pending: list again only when a request is heard of or at
                        # the next full poll, not each time a worker becomes free.
                        self._listing_due = False
                        return False
                key = self._candidates.pop()
            address = self.swarm.address_of(key)
            if address is None:
                continue
            with self._cv:
                if address in self._running or address in self._busy:
                    continue  # running here already, as a request of its own or in a batch
            if not is_batch(address) and self.swarm.finished(address):
                self.swarm.store.discard(key)  # done already: retire the request
                continue
            claim = self.swarm.claim(address, self.id)
            if claim is None:
                continue
            try:
                request = self.swarm.load_request(key)
                calls = self.swarm.pending_calls(request) if request is not None else []
            except LookupError as e:
                # Its function or a large argument has not arrived here yet, or arrived
                # truncated: a sync service delivers files in any order. Try again later.
                log.info("pythagoras: %s is incomplete here (%s); trying it again later", key, e)
                self._skip[key] = time.monotonic() + min(1.0, self.lease_timeout / 3)
                self.swarm.release(claim)
                continue
            except Exception as e:
                log.info("pythagoras: cannot load %s here (%s); leaving it to other peers", key, e)
                self._skip[key] = float("inf")
                self.swarm.release(claim)
                continue
            if request is None:  # finished and retired meanwhile
                self.swarm.release(claim)
                continue
            if not calls:  # a batch whose calls all ran already
                self.swarm.settle(claim, ())
                continue
            with self._cv:  # calls running here in another request: not twice on one peer
                ready = [call for call in calls if call.address not in self._busy]
            if not ready:
                self.swarm.release(claim)
                self._skip[key] = time.monotonic() + min(1.0, self.lease_timeout / 3)
                continue
            return self._run(claim, ready)
        return False

    def _run(self, claim: Claim, calls: list[Call]) -> bool:
        with self._cv:
            if self._closed:
                self.swarm.release(claim)
                return False
            self._running[claim.address] = claim
            for call in calls:
                self._busy.add(call.address)
                for waiting in self._waiting.get(call.address, []):
                    if not (waiting.running() or waiting.done()):
                        try:  # a running call can't be cancelled
                            waiting.set_running_or_notify_cancel()
                        except RuntimeError:  # cancelled and notified meanwhile
                            pass
        started = time.monotonic()
        work = [(call.func, call.args, call.kwargs) for call in calls]
        submitted = self._submit_work(work)
        if submitted is None:
            with self._cv:
                self._running.pop(claim.address, None)
                self._busy.difference_update(call.address for call in calls)
            self.swarm.release(claim)
            return False
        future, pool = submitted
        if self._engine is not None:
            with self._cv:  # before the callback, which may run at once: it forgets it
                self._on_engine[claim.address] = future
        elif not self._exit_hooked:  # after loky's hook, which its first pool's submit registers
            self._exit_hooked = True
            _before_loky_exits(self._close_at_exit)
        if events.listened(events.STARTED):  # before the callback: started precedes finished
            location = self.swarm.store.location
            for call in calls:
                events.fire(events.STARTED, events.CallEvent.of(call, location, self.id, "runner"))
        if self._engine is not None:
            self._engine.when_done(future, lambda f: self._finished(f, claim, calls, started, pool))
        else:
            future.add_done_callback(lambda f: self._finished(f, claim, calls, started, pool))
        return True

    def _submit_work(self, work: list[tuple[Any, tuple[Any, ...], dict[str, Any]]]
                     ) -> tuple[Future[Any], Any] | None:
        """``run_calls(work)`` handed to the engine, or else to the warm loky pool (started
        here, or again after a crash); with what runs it. None if it cannot be handed over:
        an engine that refuses a call (shut down by its owner, broken) is used no more."""
        if self._engine is not None:
            try:
                return self._engine.submit(run_calls, work), self._engine
            except Exception as refused:
                with self._cv:
                    first, self._engine_refused = not self._engine_refused, True
                    self.max_workers = 0  # announced at the next heartbeat: others run our calls
                if first:
                    log.warning("pythagoras: the engine %r refused a call (%s); this peer runs "
                                "no more calls, other peers run them", self._engine.executor, refused)
                return None
        for _ in range(2):  # a pool another call's crash just shut down: once more, on a new one
            with self._cv:
                if self._pool is None:
                    self._pool = loky.ProcessPoolExecutor(max_workers=self.max_workers)
                pool = self._pool
            try:
                return pool.submit(run_calls, work), pool
            except RuntimeError:  # loky's ShutdownExecutorError and BrokenProcessPool
                with self._cv:
                    if self._pool is pool:
                        self._pool = None
        return None

    def _finished(self, done: Future[Any], claim: Claim, calls: list[Call], started: float,
                  pool: Any) -> None:
        name = calls[0].name if len(calls) == 1 else f"a batch of {len(calls)} calls"
        if self._engine is not None:
            with self._cv:
                if self._on_engine.get(claim.address) is done:
                    del self._on_engine[claim.address]
        try:
            outcomes = done.result()
        except Exception as crash:
            # The worker process died (a crash, the OOM killer), or the engine lost the call:
            # a BrokenExecutor, a cancelled future, dask's KilledWorker. (run_calls catches
            # whatever the call itself raises.)
            with self._cv:
                self._running.pop(claim.address, None)
                self._busy.difference_update(call.address for call in calls)
                # loky fails every pending future of a broken pool, one callback at a time:
                # only the first replaces the pool, the others must not shut down its successor.
                broken = pool if self._pool is pool else None
                if broken is not None:
                    self._pool = None
            if broken is not None:
                broken.shutdown(wait=False, kill_workers=True)
            if self._closed:  # this peer's own shutdown stopped it; its claim is released
                return
            if len(calls) > 1:
                self._split(claim, calls, crash)
                return
            if self.swarm.record_attempt(claim):
                log.warning("pythagoras: the worker running %s died (%s); attempt %d", name,
                            crash, claim.attempt)
                if not self._run(claim, calls) and not self._closed:
                    # Nowhere to run it here (its claim is released): other peers run it, from
                    # a request, which a call claimed at submit never had.
                    key = self.swarm.publish(self.swarm.prepare(calls, self.id))
                    with self._cv:
                        self._own.append(key)
                        self._news = True
                        self._cv.notify_all()
                return
            failure = Failure("peers_died", "PeersDied",
                              f"the worker processes running {name} died {claim.attempt - 1} times "
                              f"({crash}); it may crash its interpreter or exhaust memory. "
                              "Clear the failure to try again", "", self.id, claim.attempt - 1)
            settled: list[tuple[CallAddress, Any, Failure | None]] = [
                (call.address, None, failure) for call in calls]
        else:
            settled = [(call.address, value, None if ok else
                        Failure.raised(value, text, self.id, claim.attempt))
                       for call, (ok, value, text) in zip(calls, outcomes)]
        try:
            with self._leases:  # no renewal may rewrite the claim once it is released
                self.swarm.settle(claim, settled)
        except Exception as error:
            # The store refused the outcome (a full disk, a read-only folder, a store gone).
            log.error("pythagoras: the outcome of %s could not be stored: %s", name, error)
            failure = Failure.store_failed(name, self.swarm.store.location, error, self.id,
                                           claim.attempt)
            self._store_failed(claim, [address for address, _, _ in settled], failure)
            for address, _, _ in settled:
                refused = failure.to_exception()
                refused.__cause__ = error
                self._resolve(address, error=refused)
            return
        finally:
            with self._cv:
                self._running.pop(claim.address, None)
                self._busy.difference_update(call.address for call in calls)
                self.executed += len(calls)
                self._news = True  # a worker is free: pick again
                self._cv.notify_all()
        seconds = time.monotonic() - started
        raised = any(failure is not None for _, _, failure in settled)
        log.info("pythagoras: %s %s in %.3f s", name, "raised" if raised else "done", seconds)
        if events.listened(events.FINISHED, events.FAILED):  # published, and no lock held
            self._announce_outcomes(calls, settled, seconds)
        for address, value, failed in settled:
            if failed is None:
                self._resolve(address, value=value)
            else:
                self._resolve(address, error=failed.to_exception())

    def _store_failed(self, claim: Claim, addresses: list[CallAddress], failure: Failure) -> None:
        """Tell every caller of the calls whose outcome the store refused, through a small
        transient failure record where the store still takes one (a value too big for the disk
        that is left). Where it takes nothing, the claim is given back to the swarm, now or
        once the store takes writes again, and this peer leaves the request to others for a
        lease: a caller elsewhere waits until some peer can store the outcome."""
        try:
            with self._leases:
                self.swarm.settle(claim, [(address, None, failure) for address in addresses
                                          if not self.swarm.finished(address)])
            return
        except Exception as error:
            log.error("pythagoras: nor could its failure be stored: %s", error)
        with self._leases:
            self._release(claim)
        self._skip[self.swarm.request_key(claim.address)] = time.monotonic() + self.lease_timeout

    def _announce_outcomes(self, calls: list[Call],
                           settled: list[tuple[CallAddress, Any, Failure | None]],
                           seconds: float) -> None:
        """The runner's ``finished`` or ``failed`` for each call run, its outcome published."""
        location = self.swarm.store.location
        for call, (_, _, failure) in zip(calls, settled):
            if failure is None:
                events.fire(events.FINISHED, events.CallEvent.of(
                    call, location, self.id, "runner", seconds=seconds))
            else:
                error = failure.exception if failure.exception is not None else failure.to_exception()
                events.fire(events.FAILED, events.CallEvent.of(
                    call, location, self.id, "runner", seconds=seconds,
                    error=events.describe(error)))

    def _split(self, claim: Claim, calls: list[Call], crash: BaseException) -> None:
        """A worker died running a batch: send its calls again one request each, so that the
        attempts count against the call that kills its worker, not against its neighbours."""
        log.warning("pythagoras: a worker died running a batch of %d calls (%s); running them "
                    "one by one", len(calls), crash)
        keys = [self.swarm.publish(self.swarm.prepare([call], self.id)) for call in calls]
        with self._leases:
            self.swarm.settle(claim, ())  # retire the batch request and its claim
        with self._cv:
            self._own.extend(keys)
            self._news = True
            self._cv.notify_all()

    # -- shutting down ---------------------------------------------------------------------

    def close(self, wait: bool = True, timeout: float | None = None) -> None:
        """Stop picking; finish running calls (``wait``) or release their claims; leave the swarm."""
        with self._cv:
            if self._closed:
                return
            self._closed = True
            self._cv.notify_all()
        deadline = None if timeout is None else time.monotonic() + timeout
        if wait:
            with self._cv:
                while self._running:
                    remaining = None if deadline is None else deadline - time.monotonic()
                    if remaining is not None and remaining <= 0:
                        break
                    self._cv.wait(remaining if remaining is not None else 0.1)
        with self._cv:
            unfinished = list(self._running.values())
            pool, self._pool = self._pool, None
            on_engine, self._on_engine = list(self._on_engine.values()), {}
        with self._leases:  # a heartbeat under way must not write a released claim back
            for claim in [*unfinished, *self._unreleased]:
                try:
                    self.swarm.release(claim)
                except Exception as error:  # the store is failing: the lease lapses instead
                    log.warning("pythagoras: cannot release the claim on %s (%s)", claim.address, error)
        for future in on_engine:  # the engine is the caller's: only our own tasks stop
            future.cancel()
        if self._engine is not None:
            self._engine.stop()
        with self._cv:
            watch, self._watch = self._watch, None
        if watch is not None:
            watch.close()
        if pool is not None:
            pool.shutdown(wait=False, kill_workers=bool(unfinished))
        try:
            self.swarm.retire_peer(self.id)
        except OSError:
            pass
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)


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
