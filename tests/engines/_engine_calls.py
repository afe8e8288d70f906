"""The calls the engine tests run: a module of their own, importable wherever they run (this
process's threads, a loky worker, a dask worker, a test's subprocess).

Each records its execution in the execution log (``tests/execution_log.py``: a file named by
an environment variable), so a test counts executions without the function changing. A *gate*
is a file: ``held`` appends a line to ``<gate>.started`` when it starts, then waits for the
test to create ``<gate>``, for at most ``GATE_DEADLINE`` (only a failed test reaches it).
"""

from __future__ import annotations

import os
import time

import execution_log

GATE_DEADLINE = 60.0


def square(x: int) -> int:
    execution_log.record(["square", x])
    return x * x


def work(x: int, seconds: float) -> int:
    """``x * x`` after ``seconds`` of work: long enough for two peers to overlap."""
    execution_log.record(["work", x, os.getpid()])
    time.sleep(seconds)
    return x * x


def held(value: int, gate: str) -> int:
    """``value``, once the test has created ``gate``."""
    execution_log.record(["held", value])
    with open(gate + ".started", "a") as started:
        started.write(f"{os.getpid()}\n")
    give_up = time.monotonic() + GATE_DEADLINE
    while not os.path.exists(gate):
        if time.monotonic() > give_up:
            raise TimeoutError(f"the gate {gate} was never opened")
        time.sleep(0.002)
    return value
