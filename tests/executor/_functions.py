"""The callables the executor tests submit: a module of their own, importable by loky's workers.

Each one records its execution in the execution log (a file named by an environment variable,
see ``tests/execution_log.py``) and reads nothing else, so a test counts executions without the
function's identity changing between calls.

A *gate* is a file: ``held`` announces that it is running by creating ``<gate>.started``, then
waits for the test to create ``<gate>``. The wait is bounded by ``GATE_DEADLINE`` so that a
failed test never leaves a worker waiting for ever.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any

import execution_log

#: How long a held call waits for its gate before it gives up; only a failed test reaches it.
GATE_DEADLINE = 60.0


class Refused(ValueError):
    """What ``refuse`` raises: a class of a user module, to be raised again by name at the caller."""


class NeverOpened(RuntimeError):
    """A held call gave up waiting: not a TimeoutError, which a test may be expecting."""


def square(x: int) -> int:
    execution_log.record(["square", x])
    return x * x


def add(x: int, y: int = 0) -> int:
    execution_log.record(["add", x, y])
    return x + y


def power(base: int, exponent: int) -> int:
    execution_log.record(["power", base, exponent])
    return base**exponent


def refuse(x: int) -> int:
    execution_log.record(["refuse", x])
    raise Refused(f"refused {x}")


def time_out(x: int) -> int:
    """Raises a TimeoutError of its own, which is the call's failure and not a wait's timeout."""
    execution_log.record(["time_out", x])
    raise TimeoutError(f"own timeout {x}")


def refuse_if(x: int, refused: bool) -> int:
    """``x * x``, or ``Refused`` where ``refused``: calls of one function that fail one by one."""
    execution_log.record(["refuse_if", x])
    if refused:
        raise Refused(f"refused {x}")
    return x * x


def held(value: Any, gate: str) -> Any:
    """``value``, once the test has opened ``gate``; ``<gate>.started`` says that it runs."""
    execution_log.record(["held", value])
    with open(gate + ".started", "x"):
        pass
    give_up = time.monotonic() + GATE_DEADLINE
    while not os.path.exists(gate):
        if time.monotonic() > give_up:
            raise NeverOpened(f"the gate {gate} was never opened")
        time.sleep(0.002)
    return value


def relay(value: Any, wait_for: str, then_create: str) -> Any:
    """``value``, once the file ``wait_for`` exists (if named), after creating ``then_create``
    (if named): calls that wait on each other's files finish in an order the test chooses."""
    execution_log.record(["relay", value])
    give_up = time.monotonic() + GATE_DEADLINE
    while wait_for and not os.path.exists(wait_for):
        if time.monotonic() > give_up:
            raise NeverOpened(f"{wait_for} never appeared")
        time.sleep(0.002)
    if then_create:
        with open(then_create, "x"):
            pass
    return value


def nap(value: Any, seconds: float) -> Any:
    """``value``, after staying running for ``seconds``."""
    execution_log.record(["nap", value])
    time.sleep(seconds)
    return value


def make_adder(n: int) -> Callable[[int], int]:
    """A closure: its captured ``n`` is part of what it computes."""

    def add_n(x: int) -> int:
        execution_log.record(["add_n", n, x])
        return x + n

    return add_n


def make_locked_identity() -> Callable[[int], int]:
    """A closure over a lock: it can be identified, but not pickled."""
    import threading

    lock = threading.Lock()

    def locked_identity(x: int) -> int:
        with lock:
            return x

    return locked_identity


class Multiplier:
    """Its bound method ``times`` computes with the instance's ``factor``."""

    def __init__(self, factor: int) -> None:
        self.factor = factor

    def times(self, x: int) -> int:
        execution_log.record(["times", self.factor, x])
        return self.factor * x



def crash_once(x: int, marker: str) -> int:
    """Kill its worker process the first time (creating ``marker``), return ``x`` after."""
    execution_log.record(["crash_once", x])
    if not os.path.exists(marker):
        open(marker, "w").close()
        os._exit(1)
    return x


def after_crash(x: int, marker: str, seconds: float) -> int:
    """Run beside a crash: wait (bounded) for ``marker``, then work ``seconds`` longer, so the
    crash is seen by the pool while this call is still running."""
    execution_log.record(["after_crash", x])
    deadline = time.monotonic() + GATE_DEADLINE
    while not os.path.exists(marker) and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(seconds)
    return x


def crash_on(x: int, bad: int) -> int:
    """Kill its worker process whenever ``x == bad``; else ``x * x``."""
    execution_log.record(["crash_on", x])
    if x == bad:
        os._exit(1)
    return x * x


#: The gate a worker pool's start waits for, in the environment its workers inherit.
POOL_GATE = "PYTHAGORAS_TEST_POOL_GATE"


def enter_worker_at_gate(*args: Any) -> None:
    """A worker's initializer that starts the worker once the gate named by ``$POOL_GATE`` is
    open, then as a peer's do: a pool that takes as long to start as the test wants."""
    from pythagoras.swarm.worker import enter_worker

    gate = os.environ[POOL_GATE]
    give_up = time.monotonic() + GATE_DEADLINE
    while not os.path.exists(gate) and time.monotonic() < give_up:
        time.sleep(0.002)
    enter_worker(*args)
