"""Records truncated or filled with garbage: recomputed (or waited out), never returned.

Each kind of record the swarm writes is damaged as a file (cut short, overwritten with bytes of
no frame, one bit flipped, emptied; ``_fault_records.DAMAGE``), then the swarm is used as a user
would. What ``docs/protocol.md`` promises ("What happens on every failure"): a corrupt record is
treated as absent; a result is recomputed, a request is skipped, a claim counts as held until
its age makes it stale; the damaged bytes are never handed to a caller.

Frames themselves (every cut, appended bytes, flipped bytes, garbage) are checked in
``tests/records/test_frames.py``; a truncated file read through the local store in
``tests/storage/test_local_store.py``; Memory's recomputation of a corrupt result in
``tests/memory/test_memory.py``; a corrupt failure record read by the protocol in
``tests/swarm/test_protocol.py``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import _fault_functions as fx
import execution_log
import pytest
from _fault_records import (
    DAMAGE,
    claim_key,
    damage,
    executor_address,
    failure_key,
    put,
    request_key,
)

from pythagoras import PythagorasExecutor, SharedStorage_P2P_Cloud
from pythagoras.records.frames import read_record
from pythagoras.records.keys import result_key

pytestmark = pytest.mark.timeout(120)

TIMEOUT = 30.0
SETTLE = 1.0  # how long a future is given to settle once its call cannot be running any more


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv(execution_log.VARIABLE, str(tmp_path / "executions.jsonl"))
    return tmp_path / "swarm"


@pytest.fixture
def open_executor(folder: Path) -> Iterator[Callable[..., PythagorasExecutor]]:
    opened: list[PythagorasExecutor] = []

    def open_one(**options: Any) -> PythagorasExecutor:
        executor = PythagorasExecutor(folder, **options)
        opened.append(executor)
        return executor

    try:
        yield open_one
    finally:
        for executor in opened:  # never wait for a future that a bug keeps from settling
            executor.shutdown(wait=False, cancel_futures=True)
            executor._peer.close(wait=False)


def runs(x: int) -> int:
    return sum(1 for e in execution_log.calls() if e["x"] == x)


def stored_value(folder: Path, key: str) -> Any:
    from pythagoras.storage.plugins import open_store

    return read_record(open_store(folder), key, b"R")


def settle_unless_stuck(folder: Path, future: Future[Any]) -> Any:
    """The future's value. It is given until its call cannot be pending or running any more (no
    request and no claim left in the folder), then :data:`SETTLE` more: a bug that drops the
    call ends in TimeoutError quickly rather than at the test's timeout."""
    deadline = time.monotonic() + TIMEOUT
    while not future.done():
        pending = any(path.is_file() for top in ("requests", "claims")
                      for path in (folder / top).rglob("*"))
        if not pending:
            break
        assert time.monotonic() < deadline, "the call never settled"
        time.sleep(0.005)
    return future.result(timeout=SETTLE)


# -- results ------------------------------------------------------------------------------------


@pytest.mark.parametrize("how", DAMAGE)
def test_a_corrupt_result_is_recomputed_by_the_submitter(
        folder: Path, open_executor: Callable[..., PythagorasExecutor], how: str) -> None:
    executor = open_executor(max_workers=1)
    address = executor_address(fx.nap, 1, 0.0)
    assert executor.submit(fx.nap, 1, 0.0).result(timeout=TIMEOUT) == fx.answer(1)
    damage(folder / result_key(address), how)
    assert executor.submit(fx.nap, 1, 0.0).result(timeout=TIMEOUT) == fx.answer(1)
    assert runs(1) == 2
    assert stored_value(folder, result_key(address)) == fx.answer(1)  # repaired


@pytest.mark.parametrize("how", DAMAGE)
def test_a_corrupt_result_is_recomputed_by_a_pure_function_called_directly(folder: Path, how: str) -> None:
    cloud = SharedStorage_P2P_Cloud(folder, max_workers=1)
    try:
        f = cloud.add_pure_function(fx.nap)
        assert f(x=1, seconds=0.0) == fx.answer(1)
        key = result_key(f.address(x=1, seconds=0.0))
        damage(folder / key, how)
        assert not f.is_stored(x=1, seconds=0.0)
        assert f(x=1, seconds=0.0) == fx.answer(1)
        assert f.sync_parallel([{"x": 1, "seconds": 0.0}], timeout=TIMEOUT) == [fx.answer(1)]
        assert runs(1) == 2
        assert stored_value(folder, key) == fx.answer(1)
    finally:
        cloud.close()


@pytest.mark.parametrize("record", ["result", "failure"])
def test_a_corrupt_outcome_is_recomputed_for_a_client_served_by_another_peer(
        folder: Path, open_executor: Callable[..., PythagorasExecutor], record: str) -> None:
    address = executor_address(fx.nap, 1, 0.0)
    if record == "result":
        with PythagorasExecutor(folder, max_workers=1) as first:
            assert first.submit(fx.nap, 1, 0.0).result(timeout=TIMEOUT) == fx.answer(1)
        damage(folder / result_key(address), "truncated")
    else:  # a failure record that arrived truncated: the call never ran
        put(folder, failure_key(address), b"PYTG\x01E")
    open_executor(max_workers=1)  # serves
    client = open_executor(max_workers=0)
    assert settle_unless_stuck(folder, client.submit(fx.nap, 1, 0.0)) == fx.answer(1)


# -- the records a call needs to run: request, function, large argument, claim --------------------

def _incomplete(caplog: pytest.LogCaptureFixture) -> int:
    return sum("is incomplete here" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("record", ["function", "large argument"])
def test_a_corrupt_function_or_argument_is_replaced_by_the_next_submitter(
        folder: Path, open_executor: Callable[..., PythagorasExecutor], record: str,
        caplog: pytest.LogCaptureFixture) -> None:
    blob = b"b" * 200_000  # stored under values/, referenced by the request
    with PythagorasExecutor(folder, max_workers=1), \
            PythagorasExecutor(folder, max_workers=0) as client:  # publishes both records
        assert client.submit(fx.weigh, 1, blob).result(timeout=TIMEOUT) == fx.answer(1) + len(blob)
    top = "functions" if record == "function" else "values"
    damaged = [p for p in (folder / top).rglob("*") if p.is_file()]
    assert damaged
    for path in damaged:
        damage(path, "truncated")
    (folder / result_key(executor_address(fx.weigh, 1, blob))).unlink()  # to be computed again
    caplog.set_level(logging.INFO, logger="pythagoras")
    open_executor(max_workers=1)
    client = open_executor(max_workers=0)
    future = client.submit(fx.weigh, 1, blob)
    deadline = time.monotonic() + TIMEOUT
    while not future.done() and _incomplete(caplog) < 2:  # skipped, and skipped again
        assert time.monotonic() < deadline, "the call never settled and was never skipped"
        time.sleep(0.005)
    assert future.result(timeout=SETTLE) == fx.answer(1) + len(blob)


@pytest.mark.parametrize("how", DAMAGE)
def test_a_corrupt_request_is_skipped_and_replaced_by_the_next_submitter(
        folder: Path, open_executor: Callable[..., PythagorasExecutor], how: str,
        caplog: pytest.LogCaptureFixture) -> None:
    address = executor_address(fx.nap, 1, 0.0)
    first = PythagorasExecutor(folder, max_workers=0)
    first.submit(fx.nap, 1, 0.0)
    request = (folder / request_key(address)).read_bytes()
    first.shutdown(wait=False, cancel_futures=True)  # cancelled: the request is withdrawn
    damage(put(folder, request_key(address), request), how)
    # And a request that no submitter will ever write again, under a key of its own.
    put(folder, request_key(executor_address(fx.nap, 99, 0.0)), b"not a request at all")
    open_executor(max_workers=1)  # serves: skips both
    client = open_executor(max_workers=0)
    assert client.submit(fx.nap, 2, 0.0).result(timeout=TIMEOUT) == fx.answer(2)
    assert client.submit(fx.nap, 1, 0.0).result(timeout=TIMEOUT) == fx.answer(1)  # replaced
    assert runs(1) == 1 and runs(2) == 1 and runs(99) == 0
    assert not any("error in its loop" in r.getMessage() for r in caplog.records)


def test_a_corrupt_claim_is_held_until_it_is_stale_then_broken(
        folder: Path, open_executor: Callable[..., PythagorasExecutor]) -> None:
    lease = 1.0
    address = executor_address(fx.nap, 1, 0.0)
    claim = put(folder, claim_key(address), b"PYTG\x01C\x00")  # a claim cut short
    written = time.monotonic()
    executor = open_executor(max_workers=1, lease_timeout=lease)
    assert executor.submit(fx.nap, 1, 0.0).result(timeout=TIMEOUT) == fx.answer(1)
    [run] = [e for e in execution_log.calls() if e["x"] == 1]
    # Held while fresh: the call cannot start before the damaged claim is a lease old (a lower
    # bound, which a slow machine only makes larger).
    assert run["t"] - written >= lease * 0.9
    assert not claim.exists()  # broken, replaced by the runner's claim, released


def test_a_corrupt_peer_record_is_ignored(folder: Path,
                                          open_executor: Callable[..., PythagorasExecutor]) -> None:
    put(folder, "peers/otherhost-1-abcdef", b"garbage")
    put(folder, "peers/otherhost-2-abcdef", b"")
    executor = open_executor(max_workers=1)
    assert executor.submit(fx.nap, 1, 0.0).result(timeout=TIMEOUT) == fx.answer(1)
    assert set(executor._peer.swarm.live_peers()) == {executor._peer.id}
