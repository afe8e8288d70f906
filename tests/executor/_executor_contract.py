"""The concurrent.futures contract as reusable suites, for a PythagorasExecutor that serves.

Modelled on CPython's ``Lib/test/test_concurrent_futures`` and loky's
``tests/_test_process_executor.py``: each suite is a class of tests that use an ``executor``
fixture; a test module combines a suite with a mixin that says how the executor is made (here:
how many worker processes it runs), as CPython's ``create_executor_tests`` does::

    class TestWaitOneWorker(OneWorker, WaitSuite): ...

No test asserts how long anything took, and none sleeps in place of waiting. A call is kept
running by a *gate* (:class:`Gates` and ``_functions.held``) until the test opens it; the
tests wait on futures, files and events, never longer than :data:`TIMEOUT`, which only a
deadlock reaches. Where a timeout must expire (``wait``, ``as_completed``, ``map``), it expires
on a call that is held. Executions are counted in the execution log, and what is pending is
read from the folder itself.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import (
    ALL_COMPLETED,
    FIRST_COMPLETED,
    FIRST_EXCEPTION,
    CancelledError,
    Future,
    as_completed,
    wait,
)
from concurrent.futures import TimeoutError as FuturesTimeout
from pathlib import Path
from typing import Any

import _functions as fx
import pytest

from pythagoras import PythagorasExecutor

#: Only a deadlock reaches this: what should take milliseconds is given this long.
TIMEOUT = 20.0


def wait_until(condition: Callable[[], bool], what: str) -> None:
    """Return once ``condition()`` holds; fail the test if it does not within TIMEOUT."""
    give_up = time.monotonic() + TIMEOUT
    while not condition():
        if time.monotonic() > give_up:
            pytest.fail(f"{what}: not within {TIMEOUT} s")
        time.sleep(0.002)


def settled(futures: list[Future[Any]]) -> threading.Event:
    """An event set once every future is done and the callbacks added before this one have run
    (callbacks run in the order they were added)."""
    event = threading.Event()
    remaining = [len(futures)]
    lock = threading.Lock()

    def one_more(_: Future[Any]) -> None:
        with lock:
            remaining[0] -= 1
            if remaining[0] == 0:
                event.set()

    for future in futures:
        future.add_done_callback(one_more)
    return event


def keys(executor: PythagorasExecutor, prefix: str) -> list[str]:
    """The records of the executor's folder under ``prefix`` (``"requests/"``, ``"results/"``…)."""
    return list(executor._peer.swarm.store.list(prefix))


def unclaimed_requests(executor: PythagorasExecutor) -> list[str]:
    """The calls pending in the folder: requests no peer has claimed.

    A call runs under its claim, with or without a request (a peer with a free worker claims
    the calls it submits without writing one). ``requests/<a>/<fid>.<args>`` is claimed by
    ``claims/<fid>.<args>`` (docs/protocol.md); claims are listed last, so that a claim taken
    meanwhile is seen.
    """
    requests = keys(executor, "requests/")
    claimed = {key.rpartition("/")[2] for key in keys(executor, "claims/")}
    return [key for key in requests if key.rpartition("/")[2] not in claimed]


class Gates:
    """Files that hold calls of ``_functions.held`` running until the test opens them."""

    def __init__(self, directory: Path) -> None:
        directory.mkdir()
        self.directory = directory
        self._gates: list[str] = []

    def new(self) -> str:
        """A closed gate: a call held by it is a call of its own (the path is an argument)."""
        gate = str(self.directory / f"gate-{len(self._gates)}")
        self._gates.append(gate)
        return gate

    def wait_started(self, gate: str, future: Future[Any] | None = None) -> None:
        """Wait until the call held by ``gate`` runs; fail at once if its future ended first."""

        def started() -> bool:
            if future is not None and future.done():
                pytest.fail(f"the call held by {gate} ended before it was seen running: {future}")
            return os.path.exists(gate + ".started")

        wait_until(started, f"the call held by {gate} to start")

    def open(self, gate: str) -> None:
        Path(gate).touch()

    def open_all(self) -> None:
        for gate in self._gates:
            self.open(gate)


class ExecutorMixin:
    """Gives the suites an ``executor`` that serves with ``max_workers`` worker processes."""

    max_workers: int

    @pytest.fixture
    def executor(self, open_executor: Callable[..., PythagorasExecutor]) -> PythagorasExecutor:
        return open_executor(max_workers=self.max_workers)

    def occupy_workers(self, executor: PythagorasExecutor, gates: Gates) -> list[tuple[str, Future[Any]]]:
        """Keep every worker running a held call; (gate, future) of each, once all run."""
        held = []
        for i in range(self.max_workers):
            gate = gates.new()
            held.append((gate, executor.submit(fx.held, f"busy {i}", gate)))
        for gate, future in held:
            gates.wait_started(gate, future)
        return held


class OneWorker(ExecutorMixin):
    max_workers = 1


class TwoWorkers(ExecutorMixin):
    max_workers = 2


# -- futures -------------------------------------------------------------------------------


class FutureStatesSuite(ExecutorMixin):
    """A future goes pending -> running -> finished; result, exception and callbacks."""

    def test_pending_running_finished(self, executor: PythagorasExecutor, gates: Gates) -> None:
        held = self.occupy_workers(executor, gates)
        for _, future in held:
            assert future.running() and not future.done() and not future.cancelled()
        pending = executor.submit(fx.square, 3)
        # Every worker is busy: the call waits in the folder, unclaimed.
        assert not pending.running() and not pending.done() and not pending.cancelled()
        assert len(unclaimed_requests(executor)) == 1
        for gate, _ in held:
            gates.open(gate)
        assert pending.result(timeout=TIMEOUT) == 9
        assert pending.done() and not pending.running() and not pending.cancelled()
        for i, (_, future) in enumerate(held):
            assert future.result(timeout=TIMEOUT) == f"busy {i}"
            assert future.done() and not future.running()

    def test_result_and_exception_time_out_while_running(self, executor: PythagorasExecutor,
                                                         gates: Gates) -> None:
        gate = gates.new()
        future = executor.submit(fx.held, "late", gate)
        gates.wait_started(gate, future)
        with pytest.raises(TimeoutError):
            future.result(timeout=0)
        with pytest.raises(TimeoutError):
            future.exception(timeout=0)
        gates.open(gate)
        assert future.result(timeout=TIMEOUT) == "late"
        assert future.exception(timeout=0) is None

    def test_a_running_call_cannot_be_cancelled(self, executor: PythagorasExecutor, gates: Gates,
                                                executions: Callable[[], list[Any]]) -> None:
        gate = gates.new()
        future = executor.submit(fx.held, "kept", gate)
        gates.wait_started(gate, future)
        assert future.running()
        assert not future.cancel()
        assert future.running() and not future.cancelled()
        gates.open(gate)
        assert future.result(timeout=TIMEOUT) == "kept"
        assert executions() == [["held", "kept"]]

    def test_a_pending_call_can_be_cancelled_and_never_runs(
            self, executor: PythagorasExecutor, gates: Gates,
            executions: Callable[[], list[Any]]) -> None:
        held = self.occupy_workers(executor, gates)
        pending = executor.submit(fx.square, 3)
        assert len(unclaimed_requests(executor)) == 1
        assert pending.cancel()
        assert pending.cancelled() and pending.done()
        assert unclaimed_requests(executor) == []  # withdrawn from the folder
        for gate, _ in held:
            gates.open(gate)
        executor.shutdown(wait=True)  # the workers were free to take it, had it been left
        assert [call[0] for call in executions()] == ["held"] * self.max_workers

    def test_done_callback_runs_once_the_call_finishes(self, executor: PythagorasExecutor,
                                                       gates: Gates) -> None:
        gate = gates.new()
        future = executor.submit(fx.held, "called back", gate)
        called: list[Future[Any]] = []
        done = threading.Event()

        def callback(f: Future[Any]) -> None:
            called.append(f)
            done.set()

        future.add_done_callback(callback)
        gates.wait_started(gate, future)
        assert called == []  # still running: not yet
        gates.open(gate)
        assert done.wait(TIMEOUT)
        assert called == [future]
        assert future.done() and future.result(timeout=0) == "called back"

    def test_done_callback_on_a_done_future_runs_at_once(self, executor: PythagorasExecutor) -> None:
        future = executor.submit(fx.square, 4)
        assert future.result(timeout=TIMEOUT) == 16
        called: list[Future[Any]] = []
        future.add_done_callback(called.append)
        assert called == [future]  # in this thread, before add_done_callback returned

    def test_done_callback_sees_the_exception(self, executor: PythagorasExecutor) -> None:
        seen: list[BaseException | None] = []
        done = threading.Event()

        def callback(f: Future[Any]) -> None:
            seen.append(f.exception(timeout=0))
            done.set()

        executor.submit(fx.refuse, 1).add_done_callback(callback)
        assert done.wait(TIMEOUT)
        assert len(seen) == 1 and isinstance(seen[0], fx.Refused)


# -- wait() and as_completed() ---------------------------------------------------------------


class WaitSuite(ExecutorMixin):
    """``concurrent.futures.wait`` over the executor's futures, as CPython's WaitTests."""

    def test_first_completed(self, executor: PythagorasExecutor, gates: Gates) -> None:
        quick = executor.submit(fx.square, 21)  # submitted first: one worker takes it first
        gate = gates.new()
        blocked = executor.submit(fx.held, "blocked", gate)
        done, not_done = wait([quick, blocked], timeout=TIMEOUT, return_when=FIRST_COMPLETED)
        assert done == {quick} and not_done == {blocked}
        assert quick.result(timeout=0) == 441

    def test_first_completed_some_already_completed(self, executor: PythagorasExecutor,
                                                    gates: Gates) -> None:
        finished = executor.submit(fx.square, 5)
        finished.result(timeout=TIMEOUT)
        gate = gates.new()
        blocked = executor.submit(fx.held, "blocked", gate)
        done, not_done = wait([finished, blocked], timeout=TIMEOUT, return_when=FIRST_COMPLETED)
        assert done == {finished} and not_done == {blocked}

    def test_first_exception(self, executor: PythagorasExecutor, gates: Gates) -> None:
        failing = executor.submit(fx.refuse, 2)
        gate = gates.new()
        blocked = executor.submit(fx.held, "blocked", gate)
        done, not_done = wait([failing, blocked], timeout=TIMEOUT, return_when=FIRST_EXCEPTION)
        assert done == {failing} and not_done == {blocked}
        assert isinstance(failing.exception(timeout=0), fx.Refused)

    def test_first_exception_some_already_complete(self, executor: PythagorasExecutor,
                                                   gates: Gates) -> None:
        finished = executor.submit(fx.square, 6)
        finished.result(timeout=TIMEOUT)
        failing = executor.submit(fx.refuse, 3)
        gate = gates.new()
        blocked = executor.submit(fx.held, "blocked", gate)
        done, not_done = wait([finished, failing, blocked], timeout=TIMEOUT,
                              return_when=FIRST_EXCEPTION)
        assert done == {finished, failing} and not_done == {blocked}

    def test_first_exception_one_already_failed(self, executor: PythagorasExecutor,
                                                gates: Gates) -> None:
        failing = executor.submit(fx.refuse, 4)
        failing.exception(timeout=TIMEOUT)
        gate = gates.new()
        blocked = executor.submit(fx.held, "blocked", gate)
        done, not_done = wait([failing, blocked], timeout=TIMEOUT, return_when=FIRST_EXCEPTION)
        assert done == {failing} and not_done == {blocked}

    def test_all_completed(self, executor: PythagorasExecutor) -> None:
        hit = executor.submit(fx.square, 8)
        hit.result(timeout=TIMEOUT)
        futures = [hit, executor.submit(fx.square, 9), executor.submit(fx.refuse, 5),
                   executor.submit(divmod, 17, 5)]
        done, not_done = wait(futures, timeout=TIMEOUT, return_when=ALL_COMPLETED)
        assert done == set(futures) and not not_done
        assert [f.exception(timeout=0) is None for f in futures] == [True, True, False, True]

    def test_timeout_leaves_the_running_call_not_done(self, executor: PythagorasExecutor,
                                                      gates: Gates) -> None:
        finished = executor.submit(fx.square, 10)
        finished.result(timeout=TIMEOUT)
        gate = gates.new()
        blocked = executor.submit(fx.held, "blocked", gate)
        gates.wait_started(gate, blocked)
        done, not_done = wait([finished, blocked], timeout=0.05, return_when=ALL_COMPLETED)
        assert done == {finished} and not_done == {blocked}


class AsCompletedSuite(ExecutorMixin):
    """``concurrent.futures.as_completed`` over the executor's futures."""

    def test_yields_every_future_once(self, executor: PythagorasExecutor) -> None:
        hit = executor.submit(fx.square, 2)
        hit.result(timeout=TIMEOUT)
        futures = [hit, *(executor.submit(fx.square, x) for x in range(3, 7))]
        completed = list(as_completed(futures + futures[:2], timeout=TIMEOUT))
        assert len(completed) == len(futures) and set(completed) == set(futures)
        assert sorted(f.result(timeout=0) for f in completed) == [4, 9, 16, 25, 36]

    def test_in_completion_order(self, executor: PythagorasExecutor, gates: Gates) -> None:
        hit = executor.submit(fx.square, 11)
        hit.result(timeout=TIMEOUT)
        gate = gates.new()
        blocked = executor.submit(fx.held, "second", gate)
        hit_again = executor.submit(fx.square, 11)  # submitted after, finished first
        completed = as_completed([blocked, hit_again], timeout=TIMEOUT)
        assert next(completed) is hit_again
        gates.open(gate)
        assert next(completed) is blocked
        assert next(completed, None) is None

    def test_timeout_expires(self, executor: PythagorasExecutor, gates: Gates) -> None:
        finished = executor.submit(fx.square, 12)
        finished.result(timeout=TIMEOUT)
        gate = gates.new()
        blocked = executor.submit(fx.held, "never in time", gate)
        yielded = []
        # as_completed is the standard library's: it raises concurrent.futures.TimeoutError,
        # which is the builtin TimeoutError only from Python 3.11.
        with pytest.raises(FuturesTimeout):
            for future in as_completed([finished, blocked], timeout=0.05):
                yielded.append(future)
        assert yielded == [finished]
        assert not blocked.done()


# -- map -------------------------------------------------------------------------------------


class MapSuite(ExecutorMixin):
    """``Executor.map``: order, several iterables, errors, timeout, buffersize, cancellation."""

    def test_values_in_input_order(self, executor: PythagorasExecutor) -> None:
        assert list(executor.map(fx.square, range(8))) == [x * x for x in range(8)]
        # chunksize is accepted; every call is still its own
        assert list(executor.map(fx.square, range(10), chunksize=3)) == [x * x for x in range(10)]

    def test_input_order_though_later_calls_finish_first(self, executor: PythagorasExecutor) -> None:
        executor.submit(fx.square, 30).result(timeout=TIMEOUT)  # stored: finished at submit
        assert list(executor.map(fx.square, [28, 29, 30])) == [784, 841, 900]

    def test_several_iterables_shortest_wins(self, executor: PythagorasExecutor) -> None:
        assert list(executor.map(fx.power, [2, 3, 4], [5, 6, 7])) == [32, 729, 16384]
        assert list(executor.map(fx.power, [2, 3, 4], [10])) == [1024]
        assert list(executor.map(fx.power, [], [1, 2])) == []

    def test_an_exception_is_raised_at_its_place(self, executor: PythagorasExecutor) -> None:
        results = executor.map(divmod, [1, 1, 1, 1], [2, 2, 0, 5])
        assert next(results) == (0, 1)
        assert next(results) == (0, 1)
        with pytest.raises(ZeroDivisionError):
            next(results)

    def test_timeout_raises_where_a_value_is_not_ready(self, executor: PythagorasExecutor,
                                                      gates: Gates) -> None:
        # The timeout runs over the whole iteration, from the call of map(), as in
        # concurrent.futures; only a duration could tell that from a timeout per value, and no
        # test here measures one. What is checked: the values ready are yielded, then
        # TimeoutError where one is not.
        open_gate, closed_gate = gates.new(), gates.new()
        gates.open(open_gate)
        # Stored before the map, the first value is there whatever the timeout.
        assert executor.submit(fx.held, "a", open_gate).result(timeout=TIMEOUT) == "a"
        results = executor.map(fx.held, ["a", "c"], [open_gate, closed_gate], timeout=0.05)
        got = []
        with pytest.raises(TimeoutError):
            for value in results:
                got.append(value)
        assert got == ["a"]

    def test_buffersize_limits_the_calls_submitted_ahead(self, executor: PythagorasExecutor,
                                                         executions: Callable[[], list[Any]]) -> None:
        pulled: list[int] = []

        def arguments() -> Iterator[int]:
            for x in range(20):
                pulled.append(x)
                yield x

        # buffersize counts chunks, as concurrent.futures' does: of one call each here (an
        # auto-sized chunk after the first calls holds as many as the calls' time says).
        results = executor.map(fx.square, arguments(), buffersize=2, chunksize=1)
        assert pulled == [0, 1]  # two submitted by map() itself
        assert next(results) == 0
        assert pulled == [0, 1, 2]  # one more for the one taken
        executor.shutdown(wait=True)  # every call submitted so far finishes
        assert sorted(call[1] for call in executions()) == [0, 1, 2]
        assert len(keys(executor, "results/")) == 3
        assert keys(executor, "requests/") == []
        results.close()

    def test_buffersize_must_be_positive(self, executor: PythagorasExecutor) -> None:
        for buffersize in (0, -1):
            with pytest.raises(ValueError):
                executor.map(fx.square, [1], buffersize=buffersize)
        assert keys(executor, "requests/") == []

    def test_dropping_the_iterator_cancels_the_calls_not_started(
            self, executor: PythagorasExecutor, gates: Gates,
            executions: Callable[[], list[Any]]) -> None:
        n = self.max_workers
        names = [gates.new() for _ in range(1 + n + 2)]
        gates.open(names[0])
        for later in names[1 + n:]:  # would finish at once, were they ever started
            gates.open(later)
        # One call a request (auto-sized chunks would batch the last calls, the first being quick).
        results = executor.map(fx.held, range(len(names)), names, chunksize=1)
        assert next(results) == 0
        for gate in names[1:1 + n]:  # then the next n occupy every worker
            gates.wait_started(gate)
        assert len(unclaimed_requests(executor)) == 2
        del results
        assert unclaimed_requests(executor) == []  # the two calls not started are withdrawn
        for gate in names[1:1 + n]:
            gates.open(gate)
        executor.shutdown(wait=True)
        assert sorted(call[1] for call in executions()) == list(range(1 + n))
        assert keys(executor, "requests/") == []


# -- shutdown --------------------------------------------------------------------------------


class ShutdownSuite(ExecutorMixin):

    def test_submit_after_shutdown_raises(self, executor: PythagorasExecutor) -> None:
        executor.shutdown()
        with pytest.raises(RuntimeError):
            executor.submit(fx.square, 2)
        with pytest.raises(RuntimeError):
            executor.map(fx.square, [2])
        assert keys(executor, "requests/") == []

    def test_shutdown_twice(self, executor: PythagorasExecutor) -> None:
        future = executor.submit(fx.square, 3)
        executor.shutdown()
        executor.shutdown()
        executor.shutdown(wait=False)
        assert future.result(timeout=0) == 9

    def test_cancel_futures_cancels_the_calls_not_started(
            self, executor: PythagorasExecutor, gates: Gates,
            executions: Callable[[], list[Any]]) -> None:
        held = self.occupy_workers(executor, gates)
        pending = [executor.submit(fx.square, x) for x in range(3)]
        pending_settled = settled(pending)
        assert len(unclaimed_requests(executor)) == 3
        stopper = threading.Thread(target=executor.shutdown,
                                   kwargs={"wait": True, "cancel_futures": True})
        stopper.start()
        try:
            assert pending_settled.wait(TIMEOUT)
            assert all(f.cancelled() for f in pending)
            assert unclaimed_requests(executor) == []  # withdrawn from the folder
            assert stopper.is_alive()  # it waits for the running calls, which are held
            assert not any(f.done() for _, f in held)
        finally:
            gates.open_all()
            stopper.join(TIMEOUT)
        assert not stopper.is_alive()
        assert [f.result(timeout=0) for _, f in held] == [f"busy {i}" for i in range(self.max_workers)]
        for future in pending:
            with pytest.raises(CancelledError):
                future.result(timeout=0)
        assert not any(call[0] == "square" for call in executions())
        assert keys(executor, "requests/") == []

    def test_context_manager_waits_for_results(self, executor: PythagorasExecutor) -> None:
        with executor as entered:
            assert entered is executor
            futures = [executor.submit(fx.nap, x, 0.2) for x in range(self.max_workers + 1)]
        assert all(f.done() for f in futures)  # without asking for a result
        assert [f.result(timeout=0) for f in futures] == list(range(self.max_workers + 1))
        with pytest.raises(RuntimeError):
            executor.submit(fx.square, 2)


# -- exceptions ------------------------------------------------------------------------------


class ExceptionsSuite(ExecutorMixin):

    def test_same_type_with_the_remote_traceback_as_cause(self, executor: PythagorasExecutor) -> None:
        future = executor.submit(fx.refuse, 5)
        with pytest.raises(fx.Refused) as raised:
            future.result(timeout=TIMEOUT)
        error = raised.value
        assert type(error) is fx.Refused and error.args == ("refused 5",)
        assert future.exception(timeout=0) is error
        cause = str(error.__cause__)
        assert "Traceback (most recent call last)" in cause
        assert 'raise Refused(f"refused {x}")' in cause  # the line that raised, on the worker

    def test_a_builtin_exception(self, executor: PythagorasExecutor) -> None:
        future = executor.submit(divmod, 1, 0)
        with pytest.raises(ZeroDivisionError):
            future.result(timeout=TIMEOUT)
        assert "ZeroDivisionError" in str(future.exception(timeout=0).__cause__)

    def test_a_failure_is_stored_and_not_run_again(self, executor: PythagorasExecutor,
                                                   executions: Callable[[], list[Any]]) -> None:
        first = executor.submit(fx.refuse, 6)
        assert isinstance(first.exception(timeout=TIMEOUT), fx.Refused)
        again = executor.submit(fx.refuse, 6)
        assert again.done()  # answered from the folder
        with pytest.raises(fx.Refused, match="refused 6") as raised:
            again.result(timeout=0)
        assert 'raise Refused(f"refused {x}")' in str(raised.value.__cause__)
        assert executions() == [["refuse", 6]]

    def test_equal_failing_calls_submitted_together_run_once(
            self, executor: PythagorasExecutor, executions: Callable[[], list[Any]]) -> None:
        futures = [executor.submit(fx.refuse, 7) for _ in range(3)]
        for future in futures:
            assert isinstance(future.exception(timeout=TIMEOUT), fx.Refused)
        assert executions() == [["refuse", 7]]
