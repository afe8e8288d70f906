"""A peer: one process's member of the swarm, with a warm local pool of worker processes.

One thread per peer runs the loop: announce the peer and renew its leases every
``lease_timeout / 3``; resolve the futures it waits on when their result or failure appears;
and, while it serves (always for a worker, while it waits for results otherwise), pick pending
requests, claim them and run them on the pool (:mod:`pythagoras.swarm.execution`). Completions are
handled in the pool's callback thread. Idle polling backs off from 1 ms to a cap
(``poll_cap``). See ``docs/protocol.md``.
"""

from __future__ import annotations

import atexit
import functools
import logging
import os
import threading
import time
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Executor, Future, InvalidStateError
from contextlib import contextmanager
from typing import Any

from ..errors import UnloadableResult
from ..identity.address import CallAddress
from ..records.frames import MISSING
from ..records.portable import PYTHON
from ..storage.base import Store
from ..storage.local import LocalFolderStore
from .engines import Engine
from .execution import Execution
from .notifications import FolderWatch, watch_folder
from .protocol import Claim, PreparedRequest, new_peer_id
from .swarm import Swarm
from .worker import StartMarks

__all__ = ["Peer"]

log = logging.getLogger("pythagoras")



class Peer(Execution):
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
        self._runs = StartMarks()  # how the peer tells a run that killed its worker
        self._engine_home: tuple[Any, float, int] | None = None  # for an engine's workers
        self._exit_hooked = False
        self._thread: threading.Thread | None = None
        self._closed = False
        self._next_beat = 0.0
        self._awaited_since: dict[str, float] = {}  # function id -> since when calls of it wait
        self._stalled: set[str] = set()  # function ids whose stalled calls were reported
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
        claim = self.swarm.claim(address, self.id, started=True)
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

    @contextmanager
    def lending(self) -> Iterator[None]:
        """While the block runs (the caller waits for calls), a lending peer runs one more
        call at once; nothing for this one, whose workers are its own."""
        yield

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
        claim = self.swarm.claim(prepared.address, self.id,
                                 started=self._starts_at_once()) if free else None
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
        """A notification: a record appeared (see :mod:`pythagoras.swarm.notifications`)."""
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

    def _report_stalls(self) -> None:
        """Warn once per function when calls awaited here for a lease period can be run by no
        live peer: none serves the swarm, or none of the Python whose bytecode they are."""
        now = time.monotonic()
        with self._cv:
            functions = {address.function for address in self._waiting}
        for function in set(self._awaited_since) - functions:
            del self._awaited_since[function]
            self._stalled.discard(function)
        for function in functions - self._stalled:
            if now - self._awaited_since.setdefault(function, now) < self.lease_timeout:
                continue
            reason = self.stalled(function)
            if reason is not None:
                self._stalled.add(function)
                log.warning("pythagoras: calls awaited here cannot run now: %s; they run once a "
                            "peer that can is up (pythagoras worker %s)", reason,
                            self.swarm.store.location)

    def stalled(self, function: str) -> str | None:
        """Why no live peer can run calls of the function now (None: one can, or unknown)."""
        try:
            return self.swarm.unrunnable(function)
        except Exception as error:  # a store hiccup: no reason is better than no timeout error
            log.info("pythagoras: cannot tell who runs %s (%s)", function, error)
            return None

    def _refresh_capacity(self) -> None:
        """A dask cluster gains and loses workers: claim as many calls as it has now."""
        if self._engine is None or self._engine_refused:
            return
        try:
            capacity = self._engine.capacity()
            with self._cv:
                if not self._engine_refused:
                    self.max_workers = capacity
        except Exception as e:  # keep the last count; the engine's submit will tell
            log.info("pythagoras: cannot count the workers of %r (%s)", self._engine, e)

    def _announce(self) -> None:
        try:  # a full disk may refuse the record and still let the leases be renewed
            self.swarm.announce(self.id, self._announcement())
        except Exception as error:
            log.warning("pythagoras: cannot announce peer %s (%s)", self.id, error)

    def _heartbeat(self) -> None:
        self._refresh_capacity()
        self._announce()
        self._report_stalls()
        with self._cv:
            claims = [*self._running.values(), *self._held.values()]
            unreleased, self._unreleased = self._unreleased, []
            for claim in self._running.values():  # its worker has begun it: breaking it costs
                mark = self._runs.marks.get(claim.address)
                if not claim.started and mark is not None and self._runs.started(mark):
                    claim.started = True
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
                "workers": self.max_workers, "serving": self._serving(), "python": PYTHON}

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
            try:
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
            except UnloadableResult as unloadable:  # stored, but it cannot be loaded here: say why
                self._resolve(address, error=unloadable)
                resolved = True
                continue
            self._resolve(address, value=value)
            resolved = True
        return resolved

    def _awaited(self, address: CallAddress) -> bool:
        """True while a future here waits for the call's outcome."""
        with self._cv:
            return address in self._waiting

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
        self._runs.close()
        try:
            self.swarm.retire_peer(self.id)
        except OSError:
            pass
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)
