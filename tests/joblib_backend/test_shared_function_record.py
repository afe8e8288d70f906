"""The joblib backend, the executor and the decorator store one record per function: the
function itself. joblib's nested config travels with each call, not in the function's record,
so a function run through joblib and through the executor on one folder, in either order, gives
the right values on a peer that loads it from the record (a ``pythagoras worker``)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import _tasks
import child_processes
import pytest
from joblib import Parallel, delayed, parallel_config

from pythagoras import PythagorasExecutor

DEADLINE = 120.0  # seconds when it works; only a hang reaches it

pytestmark = pytest.mark.timeout(3 * DEADLINE)


def by_joblib(folder: str) -> list[int]:
    with parallel_config(backend="pythagoras", location=folder, max_workers=0):
        return list(Parallel(n_jobs=2, timeout=DEADLINE)(delayed(_tasks.square)(i) for i in range(4)))


def by_executor(folder: str) -> list[int]:
    with PythagorasExecutor(folder, max_workers=0) as ex:
        return list(ex.map(_tasks.square, range(4, 8), timeout=DEADLINE))


def announced(folder: Path) -> None:
    deadline = time.monotonic() + DEADLINE
    while not [p for p in (folder / "peers").glob("*") if p.is_file()]:
        assert time.monotonic() < deadline, "the worker did not announce itself"
        time.sleep(0.05)


@pytest.mark.parametrize("first", ["joblib", "executor"])
def test_joblib_and_the_executor_share_a_functions_record_in_either_order(
        folder: str, tmp_path: Path, first: str) -> None:
    tests = Path(__file__).parent
    path = os.pathsep.join([str(tests), str(tests.parent), os.environ.get("PYTHONPATH", "")])
    env = child_processes.environment(PYTHONPATH=path)
    runs = [by_joblib, by_executor] if first == "joblib" else [by_executor, by_joblib]
    with child_processes.started(["-m", "pythagoras", "worker", folder, "--max-workers", "1"],
                                 env=env, log=tmp_path / "worker.log"):
        announced(Path(folder))  # joblib with max_workers=0 wants a live peer at once
        values = [run(folder) for run in runs]
    want = {by_joblib: [i * i for i in range(4)], by_executor: [i * i for i in range(4, 8)]}
    assert values == [want[run] for run in runs]
    assert not [p for p in Path(folder, "failures").rglob("*") if p.is_file()]
