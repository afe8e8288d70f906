"""The runner in-process, on a memory store, its calls run on an engine in this process: what
it picks first, what it leaves to other peers, and how it settles each kind of outcome."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from typing import Any

import pytest
from fake_clock import FakeClock

import pythagoras.records.functions as function_records
from pythagoras.errors import PeersDied
from pythagoras.identity.address import CallAddress
from pythagoras.identity.values import hash_value
from pythagoras.records.frames import dump_value
from pythagoras.records.functions import function_record
from pythagoras.storage.memory import MemoryStore
from pythagoras.swarm.leases import LeaseKeeper
from pythagoras.swarm.pool import WorkerPool
from pythagoras.swarm.protocol import Call, Claim
from pythagoras.swarm.runner import Runner
from pythagoras.swarm.swarm_store import SwarmStore
from pythagoras.swarm.waiters import Waiters
from pythagoras.swarm.worker import SPLIT

LEASE = 30.0
SQUARE = "a" * 32
RAN: list[int] = []  # the arguments of the calls run, in order


def square(*, x: int) -> int:
    RAN.append(x)
    if x < 0:
        raise ValueError(f"no square of {x} here")
    return x * x


class InlineEngine(Executor):
    """An engine that runs each task in the submitting thread; ``outcome`` may replace what a
    task returns (a batch that cannot be loaded) or fail it (its worker died)."""

    def __init__(self, workers: int = 1) -> None:
        self._max_workers = workers
        self.outcome: Callable[[tuple[Any, ...]], Any] | None = None
        self.tasks = 0

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        self.tasks += 1
        future: Future[Any] = Future()
        if self.outcome is not None:
            outcome, self.outcome = self.outcome, None
            try:
                future.set_result(outcome(args))
            except Exception as crash:
                future.set_exception(crash)
        else:
            future.set_result(fn(*args, **kwargs))
        return future


class Parts:
    """A runner and the parts it stands on, as a peer composes them."""

    def __init__(self, store: MemoryStore, engine: Executor, peer: str = "peer-a") -> None:
        self.swarm = SwarmStore(store, lease_timeout=LEASE)
        self.leases = LeaseKeeper(self.swarm)
        self.waiters = Waiters(self.swarm, LEASE)
        self.pool = WorkerPool(store, LEASE, engine=engine)
        self.woken = threading.Event()
        self.runner = Runner(self.swarm, peer, self.leases, self.waiters, self.pool,
                             wake=self.woken.set)

    def awaited(self, address: CallAddress) -> Future[Any]:
        future: Future[Any] = Future()
        self.waiters.add(address, future)
        return future

    def close(self) -> None:
        self.runner.stop()
        self.leases.close()
        self.pool.close(kill_workers=False)


@pytest.fixture
def store(clock: FakeClock) -> MemoryStore:
    return MemoryStore(clock=clock)


@pytest.fixture
def engine() -> InlineEngine:
    RAN.clear()
    return InlineEngine()


@pytest.fixture
def parts(store: MemoryStore, engine: InlineEngine) -> Iterator[Parts]:
    parts = Parts(store, engine)
    yield parts
    parts.close()


def call(x: int, function: str = SQUARE, func: Any = square) -> Call:
    return Call(CallAddress(function, hash_value(x).hex()), func, "square", (), {"x": x})


def publish(swarm: SwarmStore, *calls: Call) -> str:
    return swarm.publish(swarm.prepare(list(calls), "submitter"))


def drain(parts: Parts) -> None:
    """Pick until no request is left: each pick lists one bucket of the store at most, and a
    run's outcome is settled in the engine's completion thread."""
    for _ in range(100):
        assert parts.leases.wait_idle(timeout=10)
        parts.runner.list_again()
        if not parts.runner.pick() and not list(parts.swarm.store.list("requests/")):
            return
    raise AssertionError("requests left after 100 picks")


def test_it_picks_its_own_requests_first(parts: Parts, store: MemoryStore,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    others = [publish(parts.swarm, call(x)) for x in (1, 2, 3)]
    own = publish(parts.swarm, call(4))
    parts.runner.own([own])
    assert parts.woken.is_set()  # the loop is told there is something to pick
    listings: list[str] = []
    listing = store.list
    monkeypatch.setattr(store, "list", lambda prefix="": listings.append(prefix) or listing(prefix))
    assert parts.runner.pick()
    assert RAN == [4] and listings == []  # taken without listing the store
    drain(parts)
    assert sorted(RAN) == [1, 2, 3, 4]
    assert all(store.age(key) is None for key in others)  # retired once settled
    assert parts.runner.executed == 4


def test_outcomes_are_stored_and_resolve_the_futures_waiting_here(parts: Parts) -> None:
    good, bad = call(3), call(-1)
    futures = [parts.awaited(good.address), parts.awaited(bad.address)]
    publish(parts.swarm, good)
    publish(parts.swarm, bad)
    drain(parts)
    assert futures[0].result(timeout=10) == 9
    with pytest.raises(Exception, match="no square of -1"):
        futures[1].result(timeout=10)
    assert parts.swarm.lookup(good.address) == 9
    failure = parts.swarm.failure(bad.address)
    assert failure is not None and failure.kind == "raised"
    assert parts.leases.wait_idle(timeout=10)  # every claim settled and given up
    assert not parts.swarm.claimed(good.address) and not parts.swarm.claimed(bad.address)


def test_it_picks_only_while_a_worker_is_free(parts: Parts, engine: InlineEngine,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    publish(parts.swarm, call(1))
    publish(parts.swarm, call(2))
    blocked: list[Future[Any]] = []  # runs that stay under way

    def under_way(fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        blocked.append(Future())
        return blocked[-1]

    monkeypatch.setattr(engine, "submit", under_way)
    assert parts.runner.pick_while_free()
    assert parts.leases.running_count() == 1 == len(blocked)  # one worker: one run
    assert not parts.runner.free_for([call(3)])


def test_a_request_of_another_pythons_bytecode_is_left_for_a_lease(
        parts: Parts, store: MemoryStore, monkeypatch: pytest.MonkeyPatch) -> None:
    foreign = lambda x: x + 1  # noqa: E731 - a lambda has no source to travel as
    function = "b" * 32
    sender = SwarmStore(store, lease_timeout=LEASE)
    monkeypatch.setattr(function_records, "PYTHON", "3.99")
    sender._publish_function(function, foreign, function_record(foreign))
    monkeypatch.undo()
    key = publish(sender, call(5, function, foreign))
    assert not parts.runner.pick()
    assert RAN == [] and parts.pool.engine is not None
    address = call(5, function).address
    assert not parts.swarm.claimed(address)  # released at once: a peer of 3.99 may take it
    assert parts.swarm.failure(address) is None  # never failed here
    assert store.age(key) is not None  # the request stays
    claims: list[CallAddress] = []
    claim = parts.swarm.claim
    monkeypatch.setattr(parts.swarm, "claim",
                        lambda address, *a, **k: claims.append(address) or claim(address, *a, **k))
    parts.runner.list_again()
    assert not parts.runner.pick()
    assert claims == []  # skipped for a lease: not claimed again


def test_a_request_whose_function_has_not_arrived_is_tried_again_later(
        parts: Parts, store: MemoryStore) -> None:
    key = publish(parts.swarm, call(6))
    store.delete(f"functions/{SQUARE}")
    fresh = Parts(store, InlineEngine(), "peer-b")  # a peer that never saw the function
    try:
        assert not fresh.runner.pick()
        assert not fresh.swarm.claimed(call(6).address)
        assert store.age(key) is not None
    finally:
        fresh.close()


def test_a_batch_that_cannot_be_loaded_together_is_split(
        parts: Parts, engine: InlineEngine) -> None:
    calls = [call(x) for x in (7, 8, 9)]
    futures = [parts.awaited(c.address) for c in calls]
    batch = publish(parts.swarm, *calls)
    engine.outcome = lambda args: SPLIT
    assert parts.runner.pick()
    assert parts.woken.wait(timeout=10)  # told of the new requests, once the batch is retired
    assert parts.swarm.store.age(batch) is None  # the batch is retired...
    assert RAN == []
    drain(parts)  # ...its calls sent again, one request each
    assert [f.result(timeout=10) for f in futures] == [49, 64, 81]
    assert engine.tasks == 4


def test_a_call_whose_worker_dies_runs_again_then_fails(
        parts: Parts, engine: InlineEngine) -> None:
    one = call(10)
    future = parts.awaited(one.address)
    publish(parts.swarm, one)
    deaths = 0

    def died(args: tuple[Any, ...]) -> Any:
        nonlocal deaths
        deaths += 1
        engine.outcome = died  # and again, while it is run again
        raise RuntimeError("the worker died")

    engine.outcome = died
    assert parts.runner.pick()
    with pytest.raises(PeersDied, match="died 3 times"):
        future.result(timeout=10)
    assert deaths == 3  # max_attempts: each death charged
    assert parts.leases.wait_idle(timeout=10)


def test_runs_on_a_thread_pool_engine(store: MemoryStore) -> None:
    with ThreadPoolExecutor(max_workers=2) as threads:
        parts = Parts(store, threads)
        try:
            calls = [call(x) for x in range(11, 16)]
            futures = [parts.awaited(c.address) for c in calls]
            for c in calls:
                publish(parts.swarm, c)
            while any(not f.done() for f in futures):
                parts.runner.pick_while_free()
                parts.leases.wait_idle(timeout=0.05)
            assert [f.result() for f in futures] == [x * x for x in range(11, 16)]
            assert parts.runner.executed == 5
        finally:
            parts.close()


def test_a_stopped_runner_runs_nothing(parts: Parts) -> None:
    publish(parts.swarm, call(20))
    parts.runner.stop()
    assert not parts.runner.pick()
    claim = parts.swarm.claim(call(21).address, "peer-a")
    assert isinstance(claim, Claim)
    assert not parts.runner.run(claim, [call(21)])
    assert not parts.swarm.claimed(call(21).address)  # released
    assert RAN == []


def test_a_run_the_pool_cannot_start_releases_its_claim_at_once(
        parts: Parts, monkeypatch: pytest.MonkeyPatch) -> None:
    def cannot_fork(*args: Any, **kwargs: Any) -> Any:  # as loky's submit, starting workers
        raise OSError(11, "Resource temporarily unavailable")

    monkeypatch.setattr(parts.pool, "submit", cannot_fork)
    square_3 = call(3)
    claim = parts.swarm.claim(square_3.address, "peer-a", started=True)
    assert claim is not None
    assert not parts.runner.run(claim, [square_3])  # neither raised nor held
    assert not parts.leases.running(square_3.address)
    assert not parts.runner.busy(square_3.address)
    assert not parts.swarm.claimed(square_3.address)  # another peer may run it now


def test_the_runner_notes_each_function_s_time_before_its_futures_settle(
        parts: Parts, engine: InlineEngine) -> None:
    calls = [call(2), call(3)]
    engine.outcome = lambda args: [(True, dump_value(4), "", 0.5), (True, dump_value(9), "", 0.1)]
    seen: list[float | None] = []
    future = parts.awaited(calls[0].address)
    future.add_done_callback(lambda f: seen.append(parts.runner.times.per_call(SQUARE)))
    assert parts.runner.times.per_call(SQUARE) is None
    publish(parts.swarm, *calls)
    drain(parts)
    assert future.result(timeout=10) == 4
    assert seen == [pytest.approx(0.3)]  # the run's mean per call, known as its futures settle
