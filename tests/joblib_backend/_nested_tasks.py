"""Tasks that run Parallel calls of their own, for ``test_nested.py``; importable by the
swarm's worker processes, with ``tests/`` on their path for ``execution_log``."""

from __future__ import annotations

from typing import Any

import execution_log
from joblib import Parallel, delayed
from joblib.parallel import get_active_backend


def logged_square(x: int) -> int:
    """``x * x``, recording that it ran."""
    execution_log.record(["logged_square", x])
    return x * x


def inner_squares(i: int) -> list[int]:
    """A task that runs a Parallel call of its own: the squares of ``3 * i`` to ``3 * i + 2``."""
    execution_log.record(["inner_squares", i])
    return Parallel(n_jobs=2)(delayed(logged_square)(x) for x in range(3 * i, 3 * i + 3))


def nesting_levels(depth: int) -> list[Any]:
    """The backend that runs this task and each task nested below it, ``depth`` levels down:
    ``[[backend's class name, nesting_level], ...]``."""
    backend, _ = get_active_backend()
    here = [type(backend).__name__, backend.nesting_level]
    if depth == 0:
        return [here]
    return [here, *Parallel(n_jobs=2)(delayed(nesting_levels)(depth - 1) for _ in range(1))[0]]
