"""Fixtures for the executor tests: a fresh folder, an execution log, gates, and executors that
are always shut down.

``tests/execution_log.py`` lives one level up; pytest puts only this test folder on
``sys.path`` (there is no ``tests/__init__.py``), so the parent is added here. loky's workers
start with this process's ``sys.path``, so they import ``_functions`` and ``execution_log`` too.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

_TESTS = str(Path(__file__).resolve().parents[1])
if _TESTS not in sys.path:
    sys.path.append(_TESTS)

# The suites' asserts live outside a test_*.py module; have pytest rewrite them all the same.
pytest.register_assert_rewrite("_executor_contract")

from _executor_contract import Gates  # noqa: E402

from pythagoras import PythagorasExecutor  # noqa: E402


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """The shared folder: a fresh swarm for each test."""
    return tmp_path / "swarm"


@pytest.fixture
def gates(tmp_path: Path) -> Gates:
    return Gates(tmp_path / "gates")


@pytest.fixture
def open_executor(
    folder: Path, gates: Gates, executions: Callable[[], list[Any]]
) -> Iterator[Callable[..., PythagorasExecutor]]:
    """``open_executor(**options)``: a PythagorasExecutor on the test's folder, shut down at the end.

    At the end every gate is opened first, so held calls finish, and calls not started are
    cancelled. An executor the test shut down itself is left as it is: shutting it down again
    would wait again for what it left behind.
    """
    opened: list[PythagorasExecutor] = []

    def open_one(**options: Any) -> PythagorasExecutor:
        executor = PythagorasExecutor(folder, **options)
        opened.append(executor)
        return executor

    try:
        yield open_one
    finally:
        gates.open_all()
        for executor in opened:
            if not executor._shutdown:
                executor.shutdown(wait=True, cancel_futures=True)
