"""A peer's worker pool is pluggable: ``engine=`` runs the calls it claims on any
``concurrent.futures.Executor`` (here thread pools that count what reaches them, and a
process pool), not on its loky pool.

No test sleeps in place of waiting or asserts a duration: waits are on futures and files,
bounded by TIMEOUT, which only a deadlock reaches.
"""

from __future__ import annotations

import multiprocessing
import os
import pickle
import time
import warnings
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import _engine_calls as calls
import pytest
from _counting import TIMEOUT, Counting
from joblib import Parallel, delayed, parallel_config

from pythagoras import PythagorasExecutor, SharedStorage_P2P_Cloud, kw_args
from pythagoras.errors import PeersDied
from pythagoras.joblib_backend import PythagorasBackend
from pythagoras.storage.plugins import open_store
from pythagoras.swarm.client import SwarmClient
from pythagoras.swarm.engines import Engine
from pythagoras.swarm.peer import Peer
from pythagoras.swarm.protocol import CLAIM

pytestmark = pytest.mark.timeout(4 * TIMEOUT)

Opener = Callable[..., PythagorasExecutor]


def wait_until(condition: Callable[[], bool], what: str) -> None:
    give_up = time.monotonic() + TIMEOUT
    while not condition():
        if time.monotonic() > give_up:
            pytest.fail(f"{what}: not within {TIMEOUT} s")
        time.sleep(0.002)


def stored(executor: PythagorasExecutor, prefix: str) -> list[str]:
    return list(executor._peer.swarm.store.list(prefix))


def retired(executor: PythagorasExecutor) -> None:
    """Wait until no claim or request is left in the folder. A call's outcome is published
    first, then its request and claim are deleted: a future may be settled in between."""
    wait_until(lambda: stored(executor, "claims/") == [] and stored(executor, "requests/") == [],
               "claims and requests retired")


def ran(executions: Callable[[], list[Any]], name: str) -> list[Any]:
    return [e[1] for e in executions() if e[0] == name]


# -- misses run on the engine, hits never reach it ------------------------------------------------


def test_misses_run_on_the_engine_and_hits_never_reach_it(
        open_executor: Opener, engines: Callable[..., Counting],
        executions: Callable[[], list[Any]]) -> None:
    engine = engines(2)
    executor = open_executor(engine=engine)
    assert list(executor.map(calls.square, range(6), chunksize=1, timeout=TIMEOUT)) == [
        x * x for x in range(6)]
    assert engine.submitted == 6
    assert sorted(ran(executions, "square")) == list(range(6))
    # Stored calls resolve from the folder; only the two new ones reach the engine.
    assert list(executor.map(calls.square, range(8), chunksize=1, timeout=TIMEOUT)) == [
        x * x for x in range(8)]
    assert engine.submitted == 8
    assert sorted(ran(executions, "square")) == list(range(8))
    retired(executor)


def test_another_process_s_loky_peer_reads_back_what_the_engine_computed(
        open_executor: Opener, engines: Callable[..., Counting], folder: Path,
        executions: Callable[[], list[Any]]) -> None:
    with PythagorasExecutor(folder, engine=engines(2)) as first:
        assert first.submit(calls.square, 12).result(timeout=TIMEOUT) == 144
    plain = open_executor(max_workers=1)  # a loky peer: a miss would run in its pool
    future = plain.submit(calls.square, 12)
    assert future.done() and future.result() == 144
    assert ran(executions, "square") == [12]


def test_a_batch_runs_on_the_engine_as_one_task(
        open_executor: Opener, engines: Callable[..., Counting],
        executions: Callable[[], list[Any]]) -> None:
    engine = engines(2)
    executor = open_executor(engine=engine)
    assert list(executor.map(calls.square, range(6), chunksize=3, timeout=TIMEOUT)) == [
        x * x for x in range(6)]
    assert engine.submitted == 2
    assert sorted(ran(executions, "square")) == list(range(6))


def test_a_process_pool_engine_gets_calls_by_cloudpickle(
        open_executor: Opener, tmp_path: Path) -> None:
    """A ProcessPoolExecutor pickles with ``pickle``, which refuses a lambda."""
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        executor = open_executor(engine=pool)
        assert executor._peer.max_workers == 1
        assert executor.submit(lambda x: x + 1, 41).result(timeout=TIMEOUT) == 42
        executor.shutdown(wait=True)
        assert pool.submit(abs, -3).result(timeout=TIMEOUT) == 3  # still the caller's


# -- capacity ---------------------------------------------------------------------------------------


class Bare:
    """An executor that says nothing of its size."""

    def submit(self, fn: Callable[..., Any], /, *args: Any) -> Any:
        raise AssertionError("never used")


def test_an_engine_s_capacity_is_its_workers_capped_by_max_workers() -> None:
    with ThreadPoolExecutor(3) as threads:
        assert Engine(threads).capacity() == 3
        assert Engine(threads, max_workers=2).capacity() == 2
        assert Engine(threads, max_workers=5).capacity() == 3
    assert Engine(Bare()).capacity() == (os.cpu_count() or 1)
    assert Engine(Bare(), max_workers=4).capacity() == 4


def test_the_peer_announces_the_engine_s_workers_and_n_jobs_counts_them(
        folder: Path, engines: Callable[..., Counting]) -> None:
    engine = engines(3)
    backend = PythagorasBackend(location=folder, engine=engine)
    peer = backend.executor._peer
    assert peer.max_workers == 3
    assert peer.swarm.live_peers()[peer.id]["workers"] == 3
    assert backend.effective_n_jobs(-1) == 3
    assert backend.effective_n_jobs(-2) == 2


def test_what_is_not_an_engine_is_refused_at_once(folder: Path) -> None:
    with pytest.raises(TypeError, match="concurrent.futures.Executor"):
        PythagorasExecutor(folder, engine=object())  # type: ignore[arg-type]
    with PythagorasExecutor(folder, max_workers=0) as swarm:
        with pytest.raises(TypeError, match="not an engine"):
            PythagorasBackend(location=folder, engine=swarm)


def test_the_old_spelling_executor_still_gives_the_engine_with_a_warning(
        folder: Path, engines: Callable[..., Counting],
        executions: Callable[[], list[Any]]) -> None:
    """``executor=`` was the engine's name; it still works, with a DeprecationWarning that
    names ``engine=``, which gives none. Both at once is refused."""
    engine = engines(1)
    with pytest.warns(DeprecationWarning, match="give the engine as engine=") as warned:
        executor = PythagorasExecutor(folder, executor=engine)
    assert warned[0].filename == __file__  # pointed at the caller's line
    try:
        assert executor.client.peer.max_workers == 1
        assert executor.submit(calls.square, 3).result(timeout=TIMEOUT) == 9
        assert engine.submitted == 1
    finally:
        executor.shutdown(wait=True, cancel_futures=True)
    with pytest.warns(DeprecationWarning, match="engine="):
        backend = PythagorasBackend(location=folder, executor=engine)
    assert backend.engine is engine
    with pytest.warns(DeprecationWarning, match="engine="):
        cloud = SharedStorage_P2P_Cloud(folder, executor=engine)
    assert cloud.engine is engine
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert PythagorasBackend(location=folder, engine=engine).engine is engine
        assert SharedStorage_P2P_Cloud(folder, engine=engine).engine is engine
    with pytest.raises(TypeError, match="give the engine once"):
        PythagorasExecutor(folder, engine=engine, executor=engine)


# -- lost calls -------------------------------------------------------------------------------------


def test_a_call_the_engine_loses_runs_again_and_its_claim_is_released(
        open_executor: Opener, engines: Callable[..., Counting],
        executions: Callable[[], list[Any]]) -> None:
    engine = engines(2, lose=1)
    executor = open_executor(engine=engine)
    assert executor.submit(calls.square, 7).result(timeout=TIMEOUT) == 49
    assert engine.submitted == 2  # lost once, then run
    assert ran(executions, "square") == [7]
    retired(executor)
    assert executor._peer.max_workers == 2  # a lost call does not cost the engine


def test_a_call_the_engine_keeps_losing_fails_after_max_attempts(
        open_executor: Opener, engines: Callable[..., Counting],
        executions: Callable[[], list[Any]]) -> None:
    engine = engines(2, lose=100)
    executor = open_executor(engine=engine)
    with pytest.raises(PeersDied):
        executor.submit(calls.square, 5).result(timeout=TIMEOUT)
    assert engine.submitted == 3  # max_attempts: each loss counts one, as a dead worker does
    assert ran(executions, "square") == []
    retired(executor)


def test_a_batch_the_engine_loses_is_sent_again_call_by_call(
        open_executor: Opener, engines: Callable[..., Counting],
        executions: Callable[[], list[Any]]) -> None:
    engine = engines(2, lose=1)
    executor = open_executor(engine=engine)
    futures = executor.client.submit([executor.client.call(calls.square, (x,), {}) for x in range(4)])
    assert [f.result(timeout=TIMEOUT) for f in futures] == [0, 1, 4, 9]
    assert sorted(ran(executions, "square")) == [0, 1, 2, 3]
    retired(executor)


def test_a_call_lost_by_an_engine_that_then_refuses_runs_on_another_peer(
        open_executor: Opener, engines: Callable[..., Counting],
        executions: Callable[[], list[Any]]) -> None:
    """A pool that breaks loses its calls, then refuses new ones: the peer releases the call,
    publishes it, and runs no more; another peer runs it."""
    broken = engines(2, lose=1)
    first = open_executor(engine=broken)
    original = broken.submit

    def break_for_good(*args: Any, **kwargs: Any) -> Any:
        future = original(*args, **kwargs)
        broken.refuse = True
        return future

    broken.submit = break_for_good  # type: ignore[method-assign]
    future = first.submit(calls.square, 9)
    wait_until(lambda: first._peer.max_workers == 0, "the refused engine is not used any more")
    wait_until(lambda: len(stored(first, "requests/")) == 1, "the lost call is published")
    assert not future.done()
    helper = open_executor(engine=engines(1))
    assert future.result(timeout=TIMEOUT) == 81
    assert ran(executions, "square") == [9]
    # The value is published before the helper counts the call: the first peer may see it first.
    wait_until(lambda: helper._peer.executed == 1, "the helper counts the call it ran")
    retired(first)


# -- leases -------------------------------------------------------------------------------------


def test_the_lease_stays_alive_while_the_engine_runs_a_call_longer_than_it(
        open_executor: Opener, engines: Callable[..., Counting], tmp_path: Path,
        executions: Callable[[], list[Any]]) -> None:
    """The heartbeat is the peer's, not the engine worker's. Another peer that wants the call
    would break a lease left to lapse (2 s here) and run the call itself."""
    gate = str(tmp_path / "gate")
    lease = 2.0
    runner = open_executor(engine=engines(1), lease_timeout=lease)
    renewals: list[float] = []
    renew = runner._peer.swarm.renew

    def counted(claim: Any) -> bool:
        renewed = renew(claim)
        if renewed:
            renewals.append(time.monotonic())
        return renewed

    runner._peer.swarm.renew = counted  # type: ignore[method-assign]
    running = runner.submit(calls.held, 5, gate)
    try:
        wait_until(lambda: os.path.exists(gate + ".started"), "the call started on the engine")
        started = time.monotonic()
        rival = open_executor(engine=engines(1), lease_timeout=lease)
        waiting = rival.submit(calls.held, 5, gate)  # published: the rival tries to claim it
        # Renewed (every lease / 3) for well over a lease while the rival looks for a stale
        # claim to break (the wait ends at once if the rival takes the call over).
        wait_until(lambda: sum(1 for t in renewals if t > started) >= 5
                   or len(executions()) > 1, "five renewals")
        assert ran(executions, "held") == [5], "another peer took the call over"
        claim_key = stored(runner, "claims/")
        assert len(claim_key) == 1
        holder = runner._peer.swarm._read(claim_key[0], CLAIM)
        assert holder.peer == runner._peer.id and holder.attempt == 1
        assert not waiting.done()
    finally:
        open(gate, "w").close()
    assert running.result(timeout=TIMEOUT) == 5 and waiting.result(timeout=TIMEOUT) == 5
    assert ran(executions, "held") == [5]
    assert rival._peer.executed == 0


def test_close_releases_the_calls_on_the_engine_and_leaves_the_engine_to_its_owner(
        open_executor: Opener, engines: Callable[..., Counting], folder: Path, tmp_path: Path,
        executions: Callable[[], list[Any]]) -> None:
    """A peer that closes without waiting (at exit, a worker's SIGTERM) releases the claims
    of the calls running on its engine: another peer runs them at once, long before their
    lease (10 minutes here) could lapse. The engine is not shut down."""
    gate = str(tmp_path / "gate")
    engine = engines(2)
    peer = Peer(open_store(str(folder)), executor=engine, lease_timeout=600)
    leaving = PythagorasExecutor.of(SwarmClient(peer, owns_peer=False))  # the decorator's arrangement
    leaving.submit(calls.held, 1, gate)
    wait_until(lambda: os.path.exists(gate + ".started"), "the call started on the engine")
    assert len(stored(leaving, "claims/")) == 1
    peer.close(wait=False)
    assert stored(leaving, "claims/") == []
    assert engine.submit(abs, -2).result(timeout=TIMEOUT) == 2  # still the caller's, working
    rival = open_executor(engine=engines(1), lease_timeout=600)
    taken_over = rival.submit(calls.held, 1, gate)
    wait_until(lambda: len(Path(gate + ".started").read_text().split()) == 2,
               "the other peer runs the released call")
    open(gate, "w").close()
    assert taken_over.result(timeout=TIMEOUT) == 1
    assert ran(executions, "held") == [1, 1]


# -- the joblib backend's options, and the cloud --------------------------------------------------


def test_the_backend_keeps_one_executor_per_engine_and_pickles_without_it(
        folder: Path, engines: Callable[..., Counting]) -> None:
    one, other = engines(1), engines(1)
    a = PythagorasBackend(location=folder, engine=one)
    assert PythagorasBackend(location=folder, engine=one).executor is a.executor
    b = PythagorasBackend(location=folder, engine=other)
    assert b.executor is not a.executor
    assert a.executor._peer.pool.engine is not None and a.executor._peer.pool.engine.executor is one
    copy = pickle.loads(pickle.dumps(a))  # a thread pool cannot travel: the copy has none
    assert copy.engine is None and copy.location == a.location


def test_parallel_config_takes_the_engine_too(
        folder: Path, engines: Callable[..., Counting],
        executions: Callable[[], list[Any]]) -> None:
    engine = engines(2)
    with parallel_config(backend="pythagoras", location=str(folder), engine=engine):
        assert Parallel()(delayed(calls.square)(x) for x in range(5)) == [0, 1, 4, 9, 16]
    assert 1 <= engine.submitted <= 5  # joblib's batches: one task each
    assert sorted(ran(executions, "square")) == [0, 1, 2, 3, 4]


def test_the_decorator_s_cloud_runs_its_calls_on_the_engine(
        folder: Path, engines: Callable[..., Counting],
        executions: Callable[[], list[Any]]) -> None:
    engine = engines(2)
    cloud = SharedStorage_P2P_Cloud(folder, engine=engine)
    try:
        square = cloud.add_pure_function(calls.square)
        assert square.sync_parallel([kw_args(x=x) for x in range(4)], timeout=TIMEOUT) == [
            0, 1, 4, 9]
        assert engine.submitted == 4
        assert square.sync_parallel([kw_args(x=x) for x in range(4)], timeout=TIMEOUT) == [
            0, 1, 4, 9]
        assert engine.submitted == 4
    finally:
        cloud.close()
    assert sorted(ran(executions, "square")) == [0, 1, 2, 3]
