"""What a call is, to the executor: which callables and arguments make one call, and what it
keeps of them in the folder (``cache=True``: the result, for every process; ``cache=False``:
nothing).

Executions are counted in the execution log; a call answered from the folder is done when
``submit`` returns.
"""

from __future__ import annotations

import functools
import json
import math
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import _functions as fx
import child_processes
import pytest
from _executor_contract import TIMEOUT, keys, settled

import pythagoras
from pythagoras import PythagorasExecutor

pytestmark = pytest.mark.timeout(4 * TIMEOUT)

HERE = Path(__file__).resolve().parent


@pytest.fixture
def executor(open_executor: Callable[..., PythagorasExecutor]) -> PythagorasExecutor:
    return open_executor(max_workers=1)


@pytest.fixture
def uncached(open_executor: Callable[..., PythagorasExecutor]) -> PythagorasExecutor:
    return open_executor(max_workers=1, cache=False)


# -- cache=True: one call, one execution ------------------------------------------------------


def test_a_stored_result_is_returned_at_submit(executor: PythagorasExecutor,
                                               executions: Callable[[], list[Any]]) -> None:
    assert executor.submit(fx.square, 12).result(timeout=TIMEOUT) == 144
    again = executor.submit(fx.square, 12)
    assert again.done() and again.result(timeout=0) == 144
    assert executions() == [["square", 12]]


def test_positional_and_keyword_arguments_make_one_call(executor: PythagorasExecutor,
                                                        executions: Callable[[], list[Any]]) -> None:
    assert executor.submit(fx.square, 2).result(timeout=TIMEOUT) == 4
    by_name = executor.submit(fx.square, x=2)
    assert by_name.done() and by_name.result(timeout=0) == 4

    assert executor.submit(fx.add, 2, y=3).result(timeout=TIMEOUT) == 5
    for args, kwargs in [((2, 3), {}), ((), {"x": 2, "y": 3}), ((), {"y": 3, "x": 2})]:
        same = executor.submit(fx.add, *args, **kwargs)
        assert same.done() and same.result(timeout=0) == 5, (args, kwargs)

    assert executor.submit(fx.add, 4).result(timeout=TIMEOUT) == 4
    for args, kwargs in [((4, 0), {}), ((), {"x": 4, "y": 0})]:  # the default, given
        same = executor.submit(fx.add, *args, **kwargs)
        assert same.done() and same.result(timeout=0) == 4, (args, kwargs)

    assert executions() == [["square", 2], ["add", 2, 3], ["add", 4, 0]]


def test_other_arguments_are_other_calls(executor: PythagorasExecutor,
                                         executions: Callable[[], list[Any]]) -> None:
    assert executor.submit(fx.power, 2, 3).result(timeout=TIMEOUT) == 8
    assert executor.submit(fx.power, 3, 2).result(timeout=TIMEOUT) == 9
    assert executor.submit(fx.power, exponent=2, base=3).done()
    assert executions() == [["power", 2, 3], ["power", 3, 2]]


def test_equal_calls_submitted_together_run_once(executor: PythagorasExecutor,
                                                 executions: Callable[[], list[Any]]) -> None:
    futures = [executor.submit(fx.square, 13) for _ in range(3)] + [executor.submit(fx.square, x=13)]
    assert [f.result(timeout=TIMEOUT) for f in futures] == [169] * 4
    assert executions() == [["square", 13]]


# -- callables ------------------------------------------------------------------------------


def test_builtins(executor: PythagorasExecutor) -> None:
    assert executor.submit(math.sqrt, 16.0).result(timeout=TIMEOUT) == 4.0
    assert executor.submit(divmod, 17, 5).result(timeout=TIMEOUT) == (3, 2)
    assert list(executor.map(pow, [2, 3], [5, 2])) == [32, 9]
    assert executor.submit(divmod, 17, 5).done()


def test_lambdas(executor: PythagorasExecutor) -> None:
    assert executor.submit(lambda x: x * 3, 4).result(timeout=TIMEOUT) == 12
    assert executor.submit(lambda x: x * 5, 4).result(timeout=TIMEOUT) == 20  # another function
    assert executor.submit(lambda x: x * 3, x=4).done()  # the first one again


def test_closures_with_other_captured_values_are_other_calls(
        executor: PythagorasExecutor, executions: Callable[[], list[Any]]) -> None:
    add_one, add_two = fx.make_adder(1), fx.make_adder(2)
    assert executor.submit(add_one, 10).result(timeout=TIMEOUT) == 11
    assert executor.submit(add_two, 10).result(timeout=TIMEOUT) == 12
    assert executor.submit(fx.make_adder(1), 10).done()  # an equal closure: the same call
    assert executions() == [["add_n", 1, 10], ["add_n", 2, 10]]


def test_bound_methods(executor: PythagorasExecutor, executions: Callable[[], list[Any]]) -> None:
    assert executor.submit(fx.Multiplier(2).times, 5).result(timeout=TIMEOUT) == 10
    assert executor.submit(fx.Multiplier(3).times, 5).result(timeout=TIMEOUT) == 15
    assert executor.submit(fx.Multiplier(2).times, x=5).done()  # an equal instance
    assert executions() == [["times", 2, 5], ["times", 3, 5]]


def test_partials(executor: PythagorasExecutor, executions: Callable[[], list[Any]]) -> None:
    assert executor.submit(functools.partial(fx.power, 2), 10).result(timeout=TIMEOUT) == 1024
    assert executor.submit(functools.partial(fx.power, 3), 10).result(timeout=TIMEOUT) == 59049
    assert executor.submit(functools.partial(fx.power, exponent=2), 7).result(timeout=TIMEOUT) == 49
    assert executor.submit(functools.partial(fx.power, 2), exponent=10).done()
    assert executions() == [["power", 2, 10], ["power", 3, 10], ["power", 7, 2]]


# -- cache=False: every submit is a call of its own, and leaves nothing -----------------------


def test_uncached_every_submit_runs(uncached: PythagorasExecutor,
                                    executions: Callable[[], list[Any]]) -> None:
    assert uncached.submit(fx.square, 5).result(timeout=TIMEOUT) == 25
    assert uncached.submit(fx.square, 5).result(timeout=TIMEOUT) == 25
    together = [uncached.submit(fx.square, 6), uncached.submit(fx.square, x=6)]
    assert [f.result(timeout=TIMEOUT) for f in together] == [36, 36]
    assert executions() == [["square", 5]] * 2 + [["square", 6]] * 2


def test_uncached_ignores_a_stored_result(open_executor: Callable[..., PythagorasExecutor],
                                          executions: Callable[[], list[Any]]) -> None:
    cached = open_executor(max_workers=1)
    assert cached.submit(fx.square, 7).result(timeout=TIMEOUT) == 49
    cached.shutdown()
    uncached = open_executor(max_workers=1, cache=False)
    assert uncached.submit(fx.square, 7).result(timeout=TIMEOUT) == 49
    assert executions() == [["square", 7]] * 2


def test_uncached_leaves_no_result_record(uncached: PythagorasExecutor) -> None:
    futures = [uncached.submit(fx.square, 8), uncached.submit(fx.square, 8)]
    assert settled(futures).wait(TIMEOUT)
    assert [f.result(timeout=0) for f in futures] == [64, 64]
    assert keys(uncached, "results/") == []
    assert keys(uncached, "requests/") == [] and keys(uncached, "claims/") == []


def test_uncached_leaves_no_failure_record(uncached: PythagorasExecutor) -> None:
    future = uncached.submit(fx.refuse, 9)
    assert settled([future]).wait(TIMEOUT)
    assert isinstance(future.exception(timeout=0), fx.Refused)
    # Its address is unique: nobody will ever read the record again.
    assert keys(uncached, "failures/") == []


# -- another process on the folder -------------------------------------------------------------


def test_a_second_process_gets_the_result_this_one_stored(
        executor: PythagorasExecutor, folder: Path, tmp_path: Path,
        executions: Callable[[], list[Any]]) -> None:
    assert executor.submit(fx.square, 21).result(timeout=TIMEOUT) == 441
    env = dict(os.environ)  # the execution log's variable included
    paths = [str(HERE), str(HERE.parent), str(Path(pythagoras.__file__).resolve().parents[1])]
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [*paths, env.get("PYTHONPATH")]))
    done = child_processes.run([str(HERE / "_second_process.py"), str(folder), "21"], env=env,
                               cwd=tmp_path, timeout=TIMEOUT)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"done_at_submit": True, "value": 441}
    assert executions() == [["square", 21]]
