"""The tutorial's cells 1-9: cloud memoization through the decorator."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import child_processes
import execution_log
import pytest

import pythagoras
from pythagoras import *  # noqa: F403 -- cell 2 of the tutorial
from pythagoras import (
    IdentityError,
    PurityError,
    SharedStorage_P2P_Cloud,
    UnhashableArgument,
    kw_args,
)

DEADLINE = 120  # seconds; only a hung subprocess reaches it


@pytest.fixture
def cloud(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> SharedStorage_P2P_Cloud:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(execution_log.VARIABLE, str(tmp_path / "executions.jsonl"))
    return SharedStorage_P2P_Cloud(shared_dir_name="my_project")


def test_star_import_gives_the_tutorial_names() -> None:
    namespace: dict[str, Any] = {}
    exec("from pythagoras import *", namespace)
    assert namespace["SharedStorage_P2P_Cloud"] is SharedStorage_P2P_Cloud
    assert namespace["kw_args"] is kw_args


def test_cells_3_to_9(cloud: SharedStorage_P2P_Cloud, tmp_path: Path) -> None:
    assert cloud.store.location == str(tmp_path / "my_project")

    @cloud.add_pure_function
    def very_slow_function(*, important_parameter: int) -> int:
        """     >>>>>       THIS FUNCTION RUNS FOR ABOUT AN HOUR       <<<<<     """
        execution_log.record(important_parameter)
        return important_parameter**2

    assert very_slow_function(important_parameter=22) == 484
    assert very_slow_function(important_parameter=22) == 484
    assert execution_log.calls() == [22]
    assert very_slow_function(important_parameter=99) == 9801
    results = []
    for i in range(10):
        results.append(very_slow_function(important_parameter=i))
    assert results == [0, 1, 4, 9, 16, 25, 36, 49, 64, 81]
    assert [very_slow_function(important_parameter=i) for i in range(100, 110)] == [
        10000, 10201, 10404, 10609, 10816, 11025, 11236, 11449, 11664, 11881,
    ]
    assert [very_slow_function(important_parameter=i) for i in range(10)] == results
    assert execution_log.calls() == [22, 99, *range(10), *range(100, 110)]


def test_positional_call_is_refused_with_the_fix(cloud: SharedStorage_P2P_Cloud) -> None:
    @cloud.add_pure_function
    def very_slow_function(*, important_parameter: int) -> int:
        return important_parameter**2

    with pytest.raises(TypeError) as caught:
        very_slow_function(22)
    assert isinstance(caught.value, PurityError)
    assert "keyword arguments only" in str(caught.value)
    assert "very_slow_function(important_parameter=22)" in str(caught.value)
    assert not list(cloud.store.list("results"))


def test_bad_keywords_are_refused_before_anything_is_written(cloud: SharedStorage_P2P_Cloud) -> None:
    @cloud.add_pure_function
    def add(*, a: int, b: int = 1) -> int:
        return a + b

    with pytest.raises(TypeError, match="unexpected keyword"):
        add(a=1, c=2)
    with pytest.raises(TypeError, match="missing keyword"):
        add(b=2)
    with pytest.raises(UnhashableArgument, match="'a'"):
        add(a=(i for i in [1]))
    assert not list(cloud.store.list("results"))


def test_defaults_given_or_omitted_are_one_call(cloud: SharedStorage_P2P_Cloud) -> None:

    @cloud.add_pure_function
    def add(*, a: int, b: int = 1) -> int:
        execution_log.record(a)
        return a + b

    assert add(a=1) == 2
    assert add(a=1, b=1) == 2
    assert add(b=1, a=1) == 2
    assert execution_log.calls() == [1]


def test_one_and_one_point_oh_and_true_are_distinct_calls(cloud: SharedStorage_P2P_Cloud) -> None:
    @cloud.add_pure_function
    def kind(*, x: Any) -> str:
        return type(x).__name__

    assert [kind(x=1), kind(x=1.0), kind(x=True)] == ["int", "float", "bool"]
    assert [kind(x=True), kind(x=1.0), kind(x=1)] == ["bool", "float", "int"]


def test_lambda_and_sourceless_functions_are_refused_at_decoration(cloud: SharedStorage_P2P_Cloud) -> None:
    with pytest.raises(IdentityError, match="lambda"):
        cloud.add_pure_function(lambda *, x: x)
    namespace: dict[str, Any] = {}
    exec("def made_by_exec(*, x):\n    return x\n", namespace)
    with pytest.raises(IdentityError, match="no source"):
        cloud.add_pure_function(namespace["made_by_exec"])


def test_generators_and_star_args_are_refused(cloud: SharedStorage_P2P_Cloud) -> None:
    def numbers(*, n: int) -> Any:
        yield from range(n)

    def star(*values: int) -> int:
        return sum(values)

    with pytest.raises(PurityError, match="generator"):
        cloud.add_pure_function(numbers)
    with pytest.raises(PurityError, match=r"\*values"):
        cloud.add_pure_function(star)


def test_exception_propagates_unchanged_and_is_not_cached(cloud: SharedStorage_P2P_Cloud) -> None:

    class Flaky(Exception):
        pass

    @cloud.add_pure_function
    def flaky(*, x: int) -> int:
        execution_log.record(x)
        if len(execution_log.calls()) == 1:
            raise Flaky("first attempt fails")
        return x

    with pytest.raises(Flaky, match="first attempt fails"):
        flaky(x=5)
    assert not flaky.is_stored(x=5)
    assert flaky(x=5) == 5
    assert execution_log.calls() == [5, 5]


def test_is_stored_never_executes(cloud: SharedStorage_P2P_Cloud) -> None:

    @cloud.add_pure_function
    def square(*, x: int) -> int:
        execution_log.record(x)
        return x * x

    assert not square.is_stored(x=3)
    assert execution_log.calls() == []
    square(x=3)
    assert square.is_stored(x=3)
    assert execution_log.calls() == [3]


def test_version_keeps_results_across_edits(cloud: SharedStorage_P2P_Cloud) -> None:
    @cloud.add_pure_function(version="1")
    def f(*, x: int) -> int:
        return x + 1

    assert f(x=1) == 2

    @cloud.add_pure_function(version="1")  # type: ignore[no-redef]
    def f(*, x: int) -> int:
        return x + 1000  # a refactoring the user vouches for: same version, same results

    assert f.is_stored(x=1)

    @cloud.add_pure_function(version="2")  # type: ignore[no-redef]
    def f(*, x: int) -> int:
        return x + 1000

    assert not f.is_stored(x=1)
    assert f(x=1) == 1001


def test_editing_a_global_constant_is_a_new_function(cloud: SharedStorage_P2P_Cloud) -> None:

    @cloud.add_pure_function
    def scaled(*, x: int) -> int:
        execution_log.record(x)
        return x * _SCALE

    global _SCALE
    _SCALE = 2
    assert scaled(x=3) == 6
    _SCALE = 10
    assert scaled(x=3) == 30
    _SCALE = 2
    assert scaled(x=3) == 6
    assert execution_log.calls() == [3, 3]


_SCALE = 2


def test_embedded_default_location(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTHAGORAS_LOCATION", str(tmp_path / "from-env"))
    assert SharedStorage_P2P_Cloud(None).store.location == str(tmp_path / "from-env")
    monkeypatch.delenv("PYTHAGORAS_LOCATION")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    location = pythagoras.default_location()
    assert location.startswith(str(tmp_path / "cache"))
    assert not Path(location).exists()
    SharedStorage_P2P_Cloud(None)
    assert Path(location).is_dir()


MODULE = '''
import sys
from pythagoras import SharedStorage_P2P_Cloud

cloud = SharedStorage_P2P_Cloud(shared_dir_name=sys.argv[1])

@cloud.add_pure_function
def very_slow_function(*, important_parameter: int):
    """{doc}"""
    # {comment}
    return important_parameter{body}

if __name__ == "__main__":
    stored = very_slow_function.is_stored(important_parameter=22)
    print(stored, very_slow_function(important_parameter=22))
'''


def _run_peer(script: Path, folder: Path) -> tuple[bool, int]:
    done = child_processes.run([str(script), str(folder)], env=dict(os.environ), timeout=DEADLINE)
    assert done.returncode == 0, done.stderr
    stored, value = done.stdout.split()
    return stored == "True", int(value)


def test_another_process_hits_even_after_docstring_and_comment_edits(tmp_path: Path) -> None:
    folder = tmp_path / "shared"
    script = tmp_path / "peer.py"
    script.write_text(MODULE.format(doc="runs for an hour", comment="first", body="**2"))
    assert _run_peer(script, folder) == (False, 484)
    assert _run_peer(script, folder) == (True, 484)

    script.write_text(
        "\n\n" + MODULE.format(doc="a new, longer docstring", comment="edited comment", body=" ** 2")
    )
    assert _run_peer(script, folder) == (True, 484)

    script.write_text(MODULE.format(doc="runs for an hour", comment="first", body="**3"))
    assert _run_peer(script, folder) == (False, 10648)


COMPOSED = '''
from pythagoras import SharedStorage_P2P_Cloud
import os
cloud = SharedStorage_P2P_Cloud(os.environ["COMPOSED_LOCATION"], max_workers=0)

@cloud.add_pure_function
def square(*, x):
    return {square_body}

@cloud.add_pure_function
def sum_squares(*, n):
    return sum(square(x=i) for i in range(n))
'''


def test_editing_a_pure_function_gives_the_functions_calling_it_a_new_identity(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib

    monkeypatch.setenv("COMPOSED_LOCATION", str(tmp_path / "swarm"))
    monkeypatch.syspath_prepend(str(tmp_path))
    module = tmp_path / "composed_functions.py"
    module.write_text(COMPOSED.format(square_body="x * x"))
    composed = importlib.import_module("composed_functions")
    try:
        assert composed.sum_squares(n=4) == 14
        before = composed.sum_squares.address(n=4)
        module.write_text(COMPOSED.format(square_body="x * x + 0  # edited"))
        importlib.invalidate_caches()
        importlib.reload(composed)
        assert composed.sum_squares.address(n=4) != before  # square's edit reaches its caller
        assert composed.sum_squares(n=4) == 14
    finally:
        composed.cloud.close()
        sys.modules.pop("composed_functions", None)
