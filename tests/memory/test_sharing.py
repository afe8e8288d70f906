"""One folder, two front-ends: a call memoized by Memory is a hit for PythagorasExecutor.submit,
and a call the executor computed is a hit for Memory.

Executions are counted in the execution log, which the executor's pool workers append to too;
a call the executor answers from the folder is done when ``submit`` returns.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import _memory_functions as fx
import pytest

from pythagoras import PythagorasExecutor
from pythagoras.memory import Memory

pytestmark = pytest.mark.timeout(120)

#: Only a deadlock reaches this.
TIMEOUT = 30.0


def test_a_call_memoized_by_memory_is_a_hit_for_the_executor(
        folder: Path, executions: Callable[[], list[Any]],
        open_executor: Callable[..., PythagorasExecutor]) -> None:
    memory = Memory(folder, verbose=0)
    assert memory.cache(fx.square)(3) == 9
    assert memory.cache(fx.add)(2, y=5) == 7
    executor = open_executor(max_workers=1)
    hit = executor.submit(fx.square, 3)
    assert hit.done() and hit.result(timeout=0) == 9
    by_name = executor.submit(fx.add, x=2, y=5)
    assert by_name.done() and by_name.result(timeout=0) == 7
    assert executor.submit(fx.square, 4).result(timeout=TIMEOUT) == 16  # a miss runs on a worker
    assert executions() == [["square", 3], ["add", 2, 5], ["square", 4]]


def test_a_call_the_executor_computed_is_a_hit_for_memory(
        folder: Path, executions: Callable[[], list[Any]],
        open_executor: Callable[..., PythagorasExecutor]) -> None:
    executor = open_executor(max_workers=1)
    assert executor.submit(fx.cube, 5).result(timeout=TIMEOUT) == 125
    assert list(executor.map(fx.add, [1, 2], [10, 20], timeout=TIMEOUT)) == [11, 22]
    memory = Memory(folder, verbose=0)
    cube, add = memory.cache(fx.cube), memory.cache(fx.add)
    assert cube.check_call_in_cache(5)
    assert cube(5) == 125
    assert add(1, 10) == 11 and add(x=2, y=20) == 22
    assert sorted(map(tuple, executions())) == [("add", 1, 10), ("add", 2, 20), ("cube", 5)]


def test_ignored_arguments_are_not_shared_with_the_executor(
        folder: Path, executions: Callable[[], list[Any]],
        open_executor: Callable[..., PythagorasExecutor]) -> None:
    # The executor hashes every argument; a call memoized without one is another address.
    Memory(folder, verbose=0).cache(fx.scaled, ignore=["verbose"])(2, factor=3, verbose=1)
    executor = open_executor(max_workers=1)
    assert executor.submit(fx.scaled, 2, factor=3, verbose=1).result(timeout=TIMEOUT) == 6
    assert executions() == [["scaled", 2, 3, 1]] * 2
