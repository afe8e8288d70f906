"""The functions Memory's tests memoize: a module of their own, importable by loky's workers and
by the scripts the tests start.

Each records its execution in the execution log (a file named by an environment variable, see
``tests/execution_log.py``) and reads nothing else, so a test counts executions without the
function's identity changing between calls.
"""

from __future__ import annotations

import threading
from typing import Any

import execution_log


def square(x: int) -> int:
    execution_log.record(["square", x])
    return x * x


def cube(x: int) -> int:
    execution_log.record(["cube", x])
    return x * x * x


def add(x: int, y: int = 0) -> int:
    execution_log.record(["add", x, y])
    return x + y


def scaled(x: int, factor: int = 1, verbose: int = 0) -> int:
    execution_log.record(["scaled", x, factor, verbose])
    return x * factor


def a_lock(x: int) -> Any:
    """A value that cannot be pickled, so it cannot be stored."""
    execution_log.record(["a_lock", x])
    return threading.Lock()


def kilobytes(x: int, n: int = 1) -> bytes:
    execution_log.record(["kilobytes", x])
    return bytes(1024 * n)


async def slow_double(x: int) -> int:
    execution_log.record(["slow_double", x])
    return 2 * x
