"""PythagorasExecutor keeps the concurrent.futures contract, on a real folder with real workers.

The shared suites (``_executor_contract.py``) run on an executor with one worker process and
on one with two. The tests below them need a particular executor: a pure client
(``max_workers=0``: nobody serves the folder, so nothing is ever claimed), or none at all.
"""

from __future__ import annotations

import concurrent.futures
import threading
from collections.abc import Callable
from concurrent.futures import (
    FIRST_COMPLETED,
    BrokenExecutor,
    CancelledError,
    Future,
    as_completed,
    wait,
)
from pathlib import Path
from typing import Any

import _functions as fx
import pytest
from _executor_contract import (
    TIMEOUT,
    AsCompletedSuite,
    ExceptionsSuite,
    FutureStatesSuite,
    Gates,
    MapSuite,
    OneWorker,
    ShutdownSuite,
    TwoWorkers,
    WaitSuite,
    keys,
    settled,
)

from pythagoras import CallTimeout, PythagorasExecutor

pytestmark = pytest.mark.timeout(4 * TIMEOUT)


class TestFutureStatesOneWorker(OneWorker, FutureStatesSuite):
    pass


class TestFutureStatesTwoWorkers(TwoWorkers, FutureStatesSuite):
    pass


class TestWaitOneWorker(OneWorker, WaitSuite):
    pass


class TestWaitTwoWorkers(TwoWorkers, WaitSuite):
    pass


class TestAsCompletedOneWorker(OneWorker, AsCompletedSuite):
    pass


class TestAsCompletedTwoWorkers(TwoWorkers, AsCompletedSuite):
    pass


class TestMapOneWorker(OneWorker, MapSuite):
    pass


class TestMapTwoWorkers(TwoWorkers, MapSuite):
    def test_input_order_though_the_workers_finish_in_reverse(self, executor: PythagorasExecutor,
                                                              tmp_path: Path) -> None:
        first_may_finish = str(tmp_path / "second-finished")
        # Both run at once; the first waits for the file that the second creates.
        results = executor.map(fx.relay, ["first", "second"], [first_may_finish, ""],
                               ["", first_may_finish])
        assert list(results) == ["first", "second"]


class TestShutdownOneWorker(OneWorker, ShutdownSuite):
    pass


class TestShutdownTwoWorkers(TwoWorkers, ShutdownSuite):
    pass


class TestExceptionsOneWorker(OneWorker, ExceptionsSuite):
    pass


class TestExceptionsTwoWorkers(TwoWorkers, ExceptionsSuite):
    pass


# -- a pure client: its calls stay pending in the folder --------------------------------------


@pytest.fixture
def client(open_executor: Callable[..., PythagorasExecutor]) -> PythagorasExecutor:
    return open_executor(max_workers=0)


def test_cancel_withdraws_a_call_nobody_claimed(client: PythagorasExecutor) -> None:
    future = client.submit(fx.square, 2)
    assert len(keys(client, "requests/")) == 1
    assert not future.running() and not future.done()
    assert future.cancel()
    assert future.cancelled() and future.done() and not future.running()
    assert keys(client, "requests/") == []
    with pytest.raises(CancelledError):
        future.result(timeout=0)
    with pytest.raises(CancelledError):
        future.exception(timeout=0)
    assert future.cancel()  # cancelling again is fine, and still says so


def test_cancel_calls_the_done_callbacks(client: PythagorasExecutor) -> None:
    future = client.submit(fx.square, 3)
    called: list[Future[Any]] = []
    future.add_done_callback(called.append)
    assert called == []
    assert future.cancel()
    assert called == [future]


def test_a_request_stays_while_another_future_waits_for_it(client: PythagorasExecutor) -> None:
    first, second = client.submit(fx.square, 4), client.submit(fx.square, x=4)
    assert len(keys(client, "requests/")) == 1  # one call: one request
    assert first.cancel()
    assert len(keys(client, "requests/")) == 1
    assert not second.done()
    assert second.cancel()
    assert keys(client, "requests/") == []


def test_a_cancelled_future_is_done_for_wait_and_as_completed(client: PythagorasExecutor) -> None:
    cancelled, pending = client.submit(fx.square, 5), client.submit(fx.square, 6)
    assert cancelled.cancel()
    # "done: the futures that completed (finished or cancelled)"; nothing else can happen here.
    done, not_done = wait([cancelled, pending], timeout=TIMEOUT, return_when=FIRST_COMPLETED)
    assert done == {cancelled} and not_done == {pending}
    assert next(as_completed([cancelled, pending], timeout=TIMEOUT)) is cancelled


def test_a_timeout_is_the_builtin_timeout_error_and_the_futures_one(
        client: PythagorasExecutor) -> None:
    # On Python 3.10 they are two classes: either except clause must catch a timeout there too.
    future = client.submit(fx.square, 4)  # nobody serves the folder: it never finishes
    for wait_for in (future.result, future.exception):
        with pytest.raises(CallTimeout, match="the call of square did not finish") as raised:
            wait_for(0)
        assert isinstance(raised.value, TimeoutError)
        assert isinstance(raised.value, concurrent.futures.TimeoutError)
        assert client.location in str(raised.value)
    assert not future.done()  # a timeout of a wait leaves the call pending


def test_a_timeout_error_that_a_call_raises_is_its_own_failure(
        open_executor: Callable[..., PythagorasExecutor]) -> None:
    executor = open_executor(max_workers=1)
    with pytest.raises(TimeoutError, match="own timeout 3") as raised:
        executor.submit(fx.time_out, 3).result(timeout=TIMEOUT)
    assert not isinstance(raised.value, CallTimeout)
    with pytest.raises(TimeoutError, match="own timeout 5") as raised:
        list(executor.map(fx.time_out, [5], timeout=TIMEOUT))
    assert not isinstance(raised.value, CallTimeout)


def test_a_map_that_times_out_cancels_its_calls_not_started(client: PythagorasExecutor) -> None:
    results = client.map(fx.square, [7, 8, 9], timeout=0.05)
    assert len(keys(client, "requests/")) == 3
    with pytest.raises(CallTimeout, match=r"map\(square, \.\.\.\): a value was not ready"):
        next(results)
    # As concurrent.futures does: the call waited for is cancelled too, not only those after it.
    assert keys(client, "requests/") == []


@pytest.mark.parametrize("cache", [True, False], ids=["cache", "no-cache"])
def test_an_unpicklable_argument_is_refused_at_submit(
        open_executor: Callable[..., PythagorasExecutor], cache: bool) -> None:
    client = open_executor(max_workers=0, cache=cache)
    with pytest.raises(TypeError):
        client.submit(fx.add, threading.Lock())
    with pytest.raises(TypeError):
        client.submit(fx.add, 1, y=threading.Lock())
    with pytest.raises(TypeError):
        client.map(fx.square, [threading.Lock()])
    assert keys(client, "") == []


@pytest.mark.parametrize("cache", [True, False], ids=["cache", "no-cache"])
def test_an_unpicklable_callable_is_refused_at_submit(
        open_executor: Callable[..., PythagorasExecutor], cache: bool) -> None:
    client = open_executor(max_workers=0, cache=cache)
    locked = fx.make_locked_identity()
    assert locked(3) == 3  # a fine function, only not one that can travel
    with pytest.raises(TypeError):
        client.submit(locked, 3)
    assert keys(client, "") == []


def test_a_call_that_does_not_fit_the_signature_is_refused_at_submit(client: PythagorasExecutor) -> None:
    with pytest.raises(TypeError):
        client.submit(fx.square, 1, 2)
    with pytest.raises(TypeError):
        client.submit(fx.square, y=1)
    assert keys(client, "") == []


# -- opening and shutting down ----------------------------------------------------------------


def test_a_location_that_cannot_be_opened_is_a_broken_executor(tmp_path: Path) -> None:
    regular = tmp_path / "a-file"
    regular.write_text("not a folder")
    for location in (regular / "swarm", regular, "nosuchscheme://bucket/swarm"):
        with pytest.raises(BrokenExecutor):
            PythagorasExecutor(location, max_workers=0)
    assert regular.read_text() == "not a folder"


def test_invalid_options_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        PythagorasExecutor(tmp_path / "swarm", max_workers=-1)
    with pytest.raises(ValueError):
        PythagorasExecutor(tmp_path / "swarm", lease_timeout=0)
    assert not (tmp_path / "swarm").exists()


def test_shutdown_without_waiting_lets_the_calls_finish(
        open_executor: Callable[..., PythagorasExecutor], gates: Gates) -> None:
    # concurrent.futures: "If wait is False then this method will return immediately and the
    # resources associated with the executor will be freed when all pending futures are done."
    executor = open_executor(max_workers=1)
    gate = gates.new()
    running = executor.submit(fx.held, "running", gate)
    gates.wait_started(gate, running)
    pending = executor.submit(fx.square, 12)
    done = settled([running, pending])
    executor.shutdown(wait=False)  # returns though a call is held
    with pytest.raises(RuntimeError):
        executor.submit(fx.square, 13)
    gates.open(gate)
    assert done.wait(TIMEOUT), f"after shutdown(wait=False): {running}, {pending}"
    assert running.result(timeout=0) == "running"
    assert pending.result(timeout=0) == 144
