"""Tasks for the joblib backend's tests, importable by the swarm's worker processes."""

from __future__ import annotations

import os
import threading
import time
from typing import Any


def square(x: int) -> int:
    return x * x


def total(values: Any, offset: int) -> float:
    return float(values.sum()) + offset


def slow(seconds: float) -> float:
    time.sleep(seconds)
    return seconds


def pid_of(x: int) -> int:  # impure on purpose: tells which process ran the call
    return os.getpid() + 0 * x


def gate_then(path: str, x: int) -> int:
    """Wait (bounded) until ``path`` exists, then return ``x``: a call the test releases."""
    deadline = time.monotonic() + 60
    while not os.path.exists(path) and time.monotonic() < deadline:
        threading.Event().wait(0.01)
    return x


class Boom(ValueError):
    pass


def explode(x: int) -> int:
    raise Boom(f"boom {x}")


def nested_loky(n: int) -> list[int]:
    """A task that starts a joblib loky pool of its own inside a swarm worker."""
    from joblib import Parallel, delayed

    return Parallel(n_jobs=2, backend="loky")(delayed(square)(i) for i in range(n))
