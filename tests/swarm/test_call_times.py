"""The seconds a call takes in a worker: measured around the call there (not the queues nor the
pool's start-up around it), reported with its outcome, and noted by the runner per function
before any future waiting on the call settles, for ``map`` to size its chunks by. In-process:
the worker's function called directly on a fake clock (the runner's part: ``test_runner.py``)."""

from __future__ import annotations

import pytest

from pythagoras.identity.address import CallAddress
from pythagoras.identity.values import hash_value
from pythagoras.swarm import worker
from pythagoras.swarm.outcomes import CallTimes
from pythagoras.swarm.protocol import Call
from pythagoras.swarm.worker import pack, run_packed


class Clock:
    """``time`` for the worker module: ``perf_counter`` moves only when a call says so."""

    def __init__(self) -> None:
        self.now = 50.0

    def perf_counter(self) -> float:
        return self.now


CLOCK = Clock()


def takes(seconds: float, fails: bool = False) -> float:
    CLOCK.now += seconds
    if fails:
        raise ValueError("refused")
    return seconds


def test_each_outcome_reports_the_seconds_its_call_took_in_the_worker(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(worker, "time", CLOCK)
    outcomes = run_packed(pack([(takes, (0.25,), {}), (takes, (1.5, True), {})]), 2, None)
    assert isinstance(outcomes, list)
    (ok, _, _, ran), (failed, error, _, raised) = outcomes
    assert ok and ran == 0.25
    assert not failed and isinstance(error, ValueError) and raised == 1.5  # a failure's too


def call(x: int, function: str) -> Call:
    return Call(CallAddress(function, hash_value(x).hex()), takes, "takes", (x,), {})


def test_call_times_follow_each_function_s_latest_run() -> None:
    times = CallTimes()
    f, g = "f" * 32, "a" * 32
    times.note([call(1, f), call(2, g), call(3, f)],
               [(True, None, "", 0.2), (True, None, "", 5.0), (True, None, "", 0.4)])
    assert times.per_call(f) == pytest.approx(0.3) and times.per_call(g) == 5.0
    times.note([call(4, f)], [(True, None, "", 2e-6)])  # its calls turn quicker
    assert times.per_call(f) == 2e-6 and times.per_call(g) == 5.0
    assert times.per_call("b" * 32) is None
