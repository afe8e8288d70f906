"""Fixtures for the engine tests: a fresh folder, executors that are always shut down, engines
that count what reaches them, and a real dask.distributed cluster on loopback.

``tests/execution_log.py`` lives one level up; pytest puts only this test folder on
``sys.path`` (there is no ``tests/__init__.py``), so the parent is added here. Processes the
tests start get both folders through ``PYTHONPATH``.
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

from _counting import Counting  # noqa: E402

from pythagoras import PythagorasExecutor  # noqa: E402
from pythagoras.joblib_backend import executors as executors_module  # noqa: E402


@pytest.fixture
def folder(tmp_path: Path) -> Iterator[Path]:
    """A fresh swarm folder; the joblib backend's shared executors on it are shut down after."""
    yield tmp_path / "swarm"
    with executors_module._executors_lock:
        stale = [key for key in executors_module._executors if key[0] == str(tmp_path / "swarm")]
        executors = [executors_module._executors.pop(key) for key in stale]
    for executor in executors:
        executor.shutdown(wait=True, cancel_futures=True)


@pytest.fixture
def engines() -> Iterator[Callable[..., Counting]]:
    """``engines(workers, lose=...)``: counting engines, shut down at the end (by the test:
    the peers never shut them down)."""
    made: list[Counting] = []

    def make(workers: int = 2, **options: Any) -> Counting:
        engine = Counting(workers, **options)
        made.append(engine)
        return engine

    yield make
    for engine in made:
        engine.shutdown(wait=True, cancel_futures=True)


@pytest.fixture
def open_executor(folder: Path) -> Iterator[Callable[..., PythagorasExecutor]]:
    """``open_executor(**options)``: a PythagorasExecutor on the test's folder, shut down at the
    end with its calls not started cancelled."""
    opened: list[PythagorasExecutor] = []

    def open_one(**options: Any) -> PythagorasExecutor:
        executor = PythagorasExecutor(folder, **options)
        opened.append(executor)
        return executor

    yield open_one
    for executor in opened:
        if not executor._shutdown:
            executor.shutdown(wait=True, cancel_futures=True)


@pytest.fixture
def dask_client() -> Iterator[Any]:
    """A dask.distributed client of a LocalCluster on 127.0.0.1: one worker of two threads, in
    this process (the 2-core machine runs the tests and the swarm beside it); closed after."""
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=False,
                                  protocol="tcp", host="127.0.0.1",
                                  dashboard_address="127.0.0.1:0") as cluster:
        with distributed.Client(cluster) as client:
            yield client
