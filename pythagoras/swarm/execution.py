"""The runner's side of a peer: picking pending requests, claiming them, running their calls
on the peer's pool (or engine), and settling their outcomes in the store.

Completions are handled in the pool's callback thread, or in an engine's completion thread
(``docs/engines.md``). A worker that dies counts one attempt against the call it ran; a batch
it ran is split into requests of one call each. See ``docs/protocol.md``.
"""

from __future__ import annotations

import atexit
import logging
import os
import pickle
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from typing import TYPE_CHECKING, Any

# joblib's own copy of loky, not the loky package: with two copies in one process, a pool that a
# task starts through joblib inside a worker is unknown to the other copy's exit hook, and the
# worker's exit waits for that pool's idle processes (5 minutes). Both also claim the
# multiprocessing context name "loky".
from joblib.externals import loky  # type: ignore[import-untyped]

from ..errors import ForeignCode
from ..identity.address import CallAddress
from ..records.frames import Pickled
from ..records.portable import PYTHON
from . import events
from .engines import Engine
from .protocol import Call, Claim, Failure, Member, is_batch
from .swarm import Swarm
from .worker import SPLIT, StartMarks, enter_worker, pack, run_packed

__all__ = ["Execution"]

log = logging.getLogger("pythagoras")


class Execution:
    """The part of :class:`~pythagoras.swarm.peer.Peer` that picks, claims and runs calls and settles
    their outcomes; a mixin, whose state is the peer's (set in ``Peer.__init__``)."""

    id: str
    swarm: Swarm
    max_workers: int
    lease_timeout: float
    executed: int
    _engine: Engine | None
    _engine_refused: bool
    _on_engine: dict[CallAddress, Future[Any]]
    _cv: threading.Condition
    _leases: threading.Lock
    _listing_due: bool
    _own: deque[str]
    _candidates: list[str]
    _skip: dict[str, float]
    _running: dict[CallAddress, Claim]
    _busy: set[CallAddress]
    _waiting: dict[CallAddress, list[Future[Any]]]
    _news: bool
    _pool: Any
    _runs: StartMarks
    _engine_home: tuple[Any, float, int] | None
    _exit_hooked: bool
    _closed: bool

    if TYPE_CHECKING:  # Peer's methods, used here
        def _serving(self) -> bool: ...
        def _release(self, claim: Claim) -> None: ...
        def _resolve(self, address: CallAddress, *, value: Any = None,
                     error: BaseException | None = None) -> None: ...
        def _close_at_exit(self) -> None: ...
        def _awaited(self, address: CallAddress) -> bool: ...

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
            claim = self.swarm.claim(address, self.id, started=self._starts_at_once())
            if claim is None:
                continue
            calls = self._load_claimed(key, claim)
            if not calls:
                continue
            with self._cv:  # calls running here in another request: not twice on one peer
                ready = [call for call in calls if call.address not in self._busy]
            if not ready:
                self.swarm.release(claim)
                self._skip[key] = time.monotonic() + min(1.0, self.lease_timeout / 3)
                continue
            return self._run(claim, ready)
        return False

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
            self._skip[key] = time.monotonic() + self.lease_timeout
            self.swarm.release(claim)
            return []
        except LookupError as e:
            # Its function or a large argument has not arrived here yet, or arrived
            # truncated: a sync service delivers files in any order. Try again later.
            log.info("pythagoras: %s is incomplete here (%s); trying it again later", key, e)
            self._skip[key] = time.monotonic() + min(1.0, self.lease_timeout / 3)
            self.swarm.release(claim)
            return []
        except Exception as e:  # an argument of a class this peer cannot import
            ours = self.swarm.python_of(claim.address.function) in (None, PYTHON)
            if ours and not is_batch(claim.address):  # else a peer of its Python may load it
                self._cannot_load(claim, [(claim.address, e)], last=True)
                return []
            log.warning("pythagoras: cannot load %s here (%s); leaving it to other peers", key, e)
            self._skip[key] = float("inf")
            self.swarm.release(claim)
            return []
        if request is None:  # finished and retired meanwhile
            self.swarm.release(claim)
            return []
        if unloadable:
            self._cannot_load(claim, [(m.address, e) for m, e in unloadable], last=not calls)
        elif not calls:  # a batch whose calls all ran already
            self.swarm.settle(claim, ())
        return calls

    def _cannot_load(self, claim: Claim, calls: list[tuple[CallAddress, BaseException]],
                     last: bool) -> None:
        """Fail calls whose function or arguments cannot be loaded on this peer (a module it
        lacks), as the call's own failure: with a process pool, loading is part of the call.
        ``last``: the request has no other calls, so it is retired with them."""
        failed = []
        for address, error in calls:
            text = (f"{type(error).__qualname__}: {error}\n(the call cannot be loaded on peer "
                    f"{self.id}: install what it needs there, then clear the failure)\n")
            log.warning("pythagoras: cannot load %s on this peer: %s", address, error)
            failed.append((address, None, Failure.raised(error, text, self.id, claim.attempt)))
        with self._leases:
            if last:
                self.swarm.settle(claim, failed)
            else:
                for address, _, failure in failed:
                    self.swarm.fail(address, None, failure)
        for address, _, failure in failed:
            self._resolve(address, error=failure.to_exception())

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
        mark = self._runs.new_mark() if self._engine is None else None
        if mark is not None:  # before the run can end: its callback reads it
            with self._cv:
                self._runs.marks[claim.address] = mark
        submitted = self._submit_work(calls, mark, claim)
        if submitted is None:
            with self._cv:
                self._running.pop(claim.address, None)
                self._busy.difference_update(call.address for call in calls)
                self._runs.marks.pop(claim.address, None)
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

    def _home(self) -> tuple[Any, float, int]:
        """What an engine's worker needs for the calls' own calls: this peer's store (where it
        can travel), lease and pid (``worker.run_packed``)."""
        home = self._engine_home
        if home is None:
            home = self._engine_home = (_picklable(self.swarm.store), self.lease_timeout, os.getpid())
        return home

    def _starts_at_once(self) -> bool:
        """True if a call claimed now starts at once: an engine's, or on a pool with a started
        worker free (a claim says so, so that breaking it charges an attempt)."""
        return self._engine is not None or self._runs.ready_beyond(len(self._running))

    def _submit_work(self, calls: list[Call], mark: str | None,
                     claim: Claim) -> tuple[Future[Any], Any] | None:
        """The calls, packed, handed to the engine, or else to the warm loky pool (started
        here, or again after a crash); with what runs them. None if they cannot be handed
        over: an engine that refuses a call (shut down by its owner, broken) is used no more.
        A claim not yet marked started is marked by the worker as it starts the run."""
        try:
            payload = pack([(call.func, call.args, call.kwargs) for call in calls])
        except Exception as e:  # never held under a renewed lease: given back at once
            log.warning("pythagoras: cannot prepare %s to run on this peer (%s: %s); leaving "
                        "it to other peers", calls[0].name if len(calls) == 1 else
                        f"a batch of {len(calls)} calls", type(e).__name__, e)
            self._skip[self.swarm.request_key(claim.address)] = time.monotonic() + self.lease_timeout
            return None
        started = None if claim.started else self.swarm.started_record(claim)
        task = (payload, len(calls), mark, self.swarm.origins(calls), started)
        if self._engine is not None:
            try:
                return self._engine.submit(run_packed, *task, self._home()), self._engine
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
                    self._runs.new_pool()
                    self._pool = loky.ProcessPoolExecutor(
                        max_workers=self.max_workers, initializer=enter_worker,
                        initargs=(_picklable(self.swarm.store), self._runs.folder,
                                  self.lease_timeout))
                pool = self._pool
            try:
                return pool.submit(run_packed, *task), pool
            except RuntimeError:  # loky's ShutdownExecutorError and BrokenProcessPool
                with self._cv:
                    if self._pool is pool:
                        self._pool = None
        return None

    def _finished(self, done: Future[Any], claim: Claim, calls: list[Call], started: float,
                  pool: Any) -> None:
        name = calls[0].name if len(calls) == 1 else f"a batch of {len(calls)} calls"
        with self._cv:
            mark = self._runs.marks.pop(claim.address, None)
            if self._engine is not None and self._on_engine.get(claim.address) is done:
                del self._on_engine[claim.address]
        try:
            outcomes = done.result()
        except Exception as crash:
            # The worker process died (a crash, the OOM killer), or the engine lost the call:
            # a BrokenExecutor, a cancelled future, dask's KilledWorker. (run_packed reports
            # whatever happens inside the worker as the call's own outcome.)
            killed = mark is None or self._runs.died_running(mark)  # read before loky kills
            self._crashed(claim, calls, pool)
            if self._closed:  # this peer's own shutdown stopped it; its claim is released
                return
            if len(calls) > 1:
                self._split(claim, calls, f"a worker died running it ({crash})")
                return
            if not killed:
                # It had not started, or ran in a worker that loky killed because another
                # worker died: it runs again, and no attempt is charged.
                self._run_again(claim, calls)
                return
            if self.swarm.record_attempt(claim):
                log.warning("pythagoras: the worker running %s died (%s); attempt %d", name,
                            _described(crash), claim.attempt)
                self._run_again(claim, calls)
                return
            deaths = claim.attempt - 1
            failure = Failure("peers_died", "PeersDied",
                              f"the worker process running {name} died {deaths} time"
                              f"{'s' if deaths != 1 else ''} while running it ({_described(crash)}); "
                              "it may crash its interpreter or exhaust memory. Clear the "
                              "failure to try again", "", self.id, deaths)
            settled: list[tuple[CallAddress, Any, Failure | None]] = [
                (call.address, None, failure) for call in calls]
        else:
            if outcomes == SPLIT:
                self._crashed(claim, calls, None)
                self._split(claim, calls, "its calls cannot be loaded together")
                return
            settled = [(call.address, Pickled(value) if ok else None, None if ok else
                        Failure.raised(value, text, self.id, claim.attempt))
                       for call, (ok, value, text) in zip(calls, outcomes)]
        self._settle(claim, calls, settled, time.monotonic() - started)

    def _crashed(self, claim: Claim, calls: list[Call], pool: Any) -> None:
        """Forget a run that ended without outcomes; shut its broken pool down."""
        with self._cv:
            self._running.pop(claim.address, None)
            self._busy.difference_update(call.address for call in calls)
            # loky fails every pending future of a broken pool, one callback at a time:
            # only the first replaces the pool, the others must not shut down its successor.
            broken = pool if pool is not None and self._pool is pool else None
            if broken is not None:
                self._pool = None
        if broken is not None:
            broken.shutdown(wait=False, kill_workers=True)

    def _run_again(self, claim: Claim, calls: list[Call]) -> None:
        """Run a call whose worker died once more, here or, where this peer cannot (its claim
        is released then), by other peers from a request, which a call claimed at submit
        never had."""
        claim.started = False
        if not self._run(claim, calls) and not self._closed:
            key = self.swarm.publish(self.swarm.prepare(calls, self.id))
            with self._cv:
                self._own.append(key)
                self._news = True
                self._cv.notify_all()

    def _settle(self, claim: Claim, calls: list[Call],
                settled: list[tuple[CallAddress, Any, Failure | None]], seconds: float) -> None:
        """Store the outcomes of a run, then resolve the futures waiting here."""
        name = calls[0].name if len(calls) == 1 else f"a batch of {len(calls)} calls"
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
        raised = any(failure is not None for _, _, failure in settled)
        log.info("pythagoras: %s %s in %.3f s", name, "raised" if raised else "done", seconds)
        if events.listened(events.FINISHED, events.FAILED):  # published, and no lock held
            self._announce_outcomes(calls, settled, seconds)
        for address, value, failed in settled:
            if failed is not None:
                self._resolve(address, error=failed.to_exception())
            elif self._awaited(address):
                self._resolve(address, value=value.load() if isinstance(value, Pickled) else value)

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

    def _split(self, claim: Claim, calls: list[Call], why: str) -> None:
        """A batch did not run (a worker died running it, or it cannot be loaded as a whole):
        send its calls again one request each, so that the attempts count against the call
        that kills its worker, and a call that cannot be loaded fails alone."""
        log.warning("pythagoras: a batch of %d calls did not run (%s); running them one by "
                    "one", len(calls), why)
        keys = [self.swarm.publish(self.swarm.prepare([call], self.id)) for call in calls]
        with self._leases:
            self.swarm.settle(claim, ())  # retire the batch request and its claim
        with self._cv:
            self._own.extend(keys)
            self._news = True
            self._cv.notify_all()


def _picklable(store: Any) -> Any:
    """The store, for the worker processes, if it can travel there (an in-memory store holds
    locks); else None, and calls there open the location anew."""
    try:
        pickle.dumps(store)
    except Exception:
        return None
    return store


def _described(crash: BaseException) -> str:
    """A worker's death in a line: loky's explanation is a paragraph, its exit codes the news."""
    text = str(crash)
    for line in text.splitlines():
        if "exit codes" in line:
            return f"{type(crash).__name__}: {line.strip().removesuffix('.')}"
    return f"{type(crash).__name__}: {text.splitlines()[0]}" if text else type(crash).__name__


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
