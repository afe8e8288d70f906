"""Fixtures for Memory's tests: a fresh folder, an execution log, and executors that are shut down.

``tests/execution_log.py`` lives one level up; pytest puts only this test folder on
``sys.path`` (there is no ``tests/__init__.py``), so the parent is added here. loky's workers
and the scripts these tests start import ``_memory_functions`` and ``execution_log`` from
these two folders too.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent
TESTS = HERE.parent
if str(TESTS) not in sys.path:
    sys.path.append(str(TESTS))


from pythagoras import PythagorasExecutor  # noqa: E402


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """The shared folder: a fresh one for each test."""
    return tmp_path / "swarm"


@pytest.fixture
def open_executor(folder: Path,
                  executions: Callable[[], list[Any]]) -> Iterator[Callable[..., PythagorasExecutor]]:
    """``open_executor(**options)``: a PythagorasExecutor on the test's folder, shut down at the end."""
    opened: list[PythagorasExecutor] = []

    def open_one(**options: Any) -> PythagorasExecutor:
        executor = PythagorasExecutor(folder, **options)
        opened.append(executor)
        return executor

    try:
        yield open_one
    finally:
        for executor in opened:
            executor.shutdown(wait=True, cancel_futures=True)
