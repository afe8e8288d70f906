"""Tracebacks of functions sent by value name their script and show its lines
(pythagoras.records.tracebacks)."""

from __future__ import annotations

import functools
import json
import os
import sys
import textwrap
import traceback
from pathlib import Path
from typing import Any

import child_processes
import cloudpickle  # type: ignore[import-untyped]
import pytest

from pythagoras.records import tracebacks
from pythagoras.records.tracebacks import DYNAMIC_FILENAME, Origins, format_exception, origins

TIMEOUT = 120.0  # seconds; only a hung child reaches it

SCRIPT = '''\
import sys

import cloudpickle

from pythagoras.records.tracebacks import origins


def inner():
    raise ValueError("inner failed on purpose")


def fail(*, x):
    return inner() + x


if __name__ == "__main__":
    with open(sys.argv[1], "wb") as file:
        cloudpickle.dump((fail, origins(fail)), file)
'''

LOADER = '''\
import os
import pickle
import sys

from pythagoras.records.tracebacks import format_exception

assert not os.path.exists(sys.argv[2]), "the script must be gone"
with open(sys.argv[1], "rb") as file:
    fail, table = pickle.load(file)
try:
    fail(x=1)
except Exception as error:
    print(format_exception(error, table))
    print("=" * 20)
    print(format_exception(error, None))
'''


def _run(args: list[str], cwd: Path) -> str:
    """Run a child in its own process group; kill the group if it outlives TIMEOUT."""
    done = child_processes.run_command(args, cwd=cwd, env=dict(os.environ), timeout=TIMEOUT)
    assert done.returncode == 0, done.stderr
    return done.stdout


def _line_of(source: str, text: str) -> int:
    return next(n for n, line in enumerate(source.splitlines(), 1) if text in line)


def test_worker_traceback_names_the_script_and_its_lines(tmp_path: Path) -> None:
    job, elsewhere = tmp_path / "job", tmp_path / "elsewhere"
    job.mkdir()
    elsewhere.mkdir()
    script, payload = job / "script.py", tmp_path / "payload.pkl"
    script.write_text(SCRIPT)
    _run([sys.executable, str(script), str(payload)], cwd=job)
    script.unlink()  # the lines must travel with the payload

    out = _run([sys.executable, "-c", LOADER, str(payload), str(script)], cwd=elsewhere)
    relocated, plain = out.split("=" * 20)

    raise_line = _line_of(SCRIPT, "raise ValueError")
    call_line = _line_of(SCRIPT, "return inner() + x")
    assert f'File "{script}", line {call_line}, in fail\n    return inner() + x\n' in relocated
    assert (f'File "{script}", line {raise_line}, in inner\n'
            '    raise ValueError("inner failed on purpose")\n') in relocated
    assert DYNAMIC_FILENAME not in relocated
    assert f'File "{DYNAMIC_FILENAME}", line {call_line}, in fail\n' in plain
    assert f'File "{DYNAMIC_FILENAME}", line {raise_line}, in inner\n' in plain
    assert str(script) not in plain
    assert "ValueError: inner failed on purpose" in relocated and "ValueError" in plain


def _script(tmp_path: Path, source: str, name: str = "script.py") -> dict[str, Any]:
    """Run source written to a file as module ``__main__`` (without replacing the real one)."""
    path = tmp_path / name
    path.write_text(textwrap.dedent(source))
    namespace: dict[str, Any] = {"__name__": "__main__"}
    exec(compile(path.read_text(), str(path), "exec"), namespace)  # noqa: S102 -- a test script
    return namespace


def _failure(func: Any, *args: Any) -> BaseException:
    """The exception func raises; called from one place, so two tracebacks can be compared."""
    try:
        func(*args)
    except BaseException as error:  # noqa: BLE001 -- the exception is what the test needs
        return error
    raise AssertionError(f"{func} did not raise")


def _names(table: Origins) -> set[str]:
    return {name for name, _, _ in table.codes}


def test_chained_exception_reads_as_in_the_defining_process(tmp_path: Path) -> None:
    ns = _script(tmp_path, '''
        def parse(text):
            return int(text)


        def load(text):
            try:
                return parse(text)
            except ValueError as error:
                raise LookupError("no such record") from error


        def load_quietly(text):
            try:
                return load(text)
            except LookupError:
                raise RuntimeError("gave up")
    ''')
    table = origins(ns["load_quietly"])
    sent = cloudpickle.loads(cloudpickle.dumps(ns["load_quietly"]))
    error = _failure(sent, "x")
    assert sent.__code__.co_filename == DYNAMIC_FILENAME

    relocated = format_exception(error, table)
    assert relocated == "".join(traceback.format_exception(_failure(ns["load_quietly"], "x")))
    assert "direct cause" in relocated and "During handling" in relocated
    assert format_exception(error, None) == "".join(traceback.format_exception(error))
    assert relocated.count(str(tmp_path / "script.py")) == 5


def test_walk_reaches_nested_code_closures_wrappers_and_methods(tmp_path: Path) -> None:
    ns = _script(tmp_path, '''
        import functools


        def leaf():
            return 1


        def boxed():
            return 2


        def partial_target(a):
            return a


        class Box:
            def __init__(self, func):
                self.func = func


        class Helper:
            @staticmethod
            def twice(v):
                return 2 * v


        def make_adder(n):
            def add(x):
                return x + n + leaf()
            return add


        BOX = Box(boxed)
        PARTIAL = functools.partial(partial_target, 1)
        ADD = make_adder(2)


        def root():
            square = lambda v: v * v
            return [square(v) for v in range(3)] + [BOX.func(), PARTIAL(), ADD(1), Helper.twice(2)]
    ''')
    table = origins(ns["root"])
    assert {"root", "<lambda>", "leaf", "boxed", "partial_target", "add", "twice"} <= _names(table)
    assert "make_adder" not in _names(table)  # not reached from root
    lambda_origin = next(o for (name, _, _), o in table.codes.items() if name == "<lambda>")
    assert lambda_origin[0] == str(tmp_path / "script.py")
    assert "square = lambda v: v * v\n" in "".join(lambda_origin[2]).replace("    ", "")
    assert origins(ns["BOX"]) == origins(ns["boxed"])  # an object's `func` stands for it


def test_function_of_an_importable_module_gets_no_entry(tmp_path: Path) -> None:
    assert len(origins(json.dumps)) == 0
    assert len(origins(_line_of)) == 0  # this test module is importable as test_tracebacks
    ns = _script(tmp_path, '''
        import json


        def dump(value):
            return json.dumps(value)
    ''')
    assert _names(origins(ns["dump"])) == {"dump"}


def test_function_cap_is_honoured(tmp_path: Path) -> None:
    count = tracebacks.MAX_FUNCTIONS + 50
    ns = _script(tmp_path, "".join(f"def f{i}():\n    return f{i + 1}()\n\n" for i in range(count)))
    assert len(origins(ns["f0"])) == tracebacks.MAX_FUNCTIONS


def test_source_cap_is_honoured(tmp_path: Path) -> None:
    body = "x" * 8000
    source = "".join(f'def f{i}():\n    "{body}"\n    return f{i + 1}()\n\n' for i in range(100))
    ns = _script(tmp_path, source)
    kept = {id(origin): origin for origin in origins(ns["f0"]).codes.values()}
    size = sum(len(line) for _, _, lines in kept.values() for line in lines)
    assert 0 < size <= tracebacks.MAX_SOURCE_CHARS
    assert len(kept) < 100


def test_second_call_returns_the_cached_table_until_a_helper_changes(tmp_path: Path) -> None:
    ns = _script(tmp_path, '''
        COUNT = 0


        def inner():
            raise ValueError(COUNT)


        def fail():
            return inner()
    ''')
    first = origins(ns["fail"])
    assert origins(ns["fail"]) is first
    ns["COUNT"] = 7  # a value that carries no code leaves the table valid
    assert origins(ns["fail"]) is first

    redefined = _script(tmp_path, "\n\n\ndef inner():\n    raise KeyError('new')\n", "cell.py")
    ns["inner"] = redefined["inner"]
    second = origins(ns["fail"])
    assert second is not first
    assert tracebacks.code_key(redefined["inner"].__code__) in second.codes
    assert origins(ns["fail"]) is second


def test_merge_combines_tables_and_unknown_frames_stay_dynamic(tmp_path: Path) -> None:
    a = _script(tmp_path, "def first():\n    raise ValueError('a')\n", "a.py")
    b = _script(tmp_path, "def second():\n    raise ValueError('b')\n", "b.py")
    table_a, table_b = origins(a["first"]), origins(b["second"])
    merged = table_a.merge(table_b, Origins())
    assert _names(merged) == {"first", "second"}
    assert table_a.merge(table_a, Origins()) is table_a

    error = _failure(cloudpickle.loads(cloudpickle.dumps(b["second"])))
    assert str(tmp_path / "b.py") in format_exception(error, merged)
    assert f'File "{DYNAMIC_FILENAME}"' in format_exception(error, table_a)  # another script's code


def test_format_exception_never_raises(tmp_path: Path) -> None:
    ns = _script(tmp_path, "def broken():\n    raise ValueError('b')\n")
    sent = cloudpickle.loads(cloudpickle.dumps(ns["broken"]))
    error = _failure(sent)
    key = tracebacks.code_key(sent.__code__)
    bad = Origins({key: ("script.py", "not a line number", ())})  # type: ignore[dict-item]
    assert format_exception(error, bad) == "".join(traceback.format_exception(error))


def test_partial_of_a_script_function_is_unwrapped(tmp_path: Path) -> None:
    ns = _script(tmp_path, "def scaled(a, b):\n    return a * b\n")
    assert _names(origins(functools.partial(ns["scaled"], 2))) == {"scaled"}


@pytest.mark.parametrize("value", [None, 3, "text", print])
def test_origins_of_things_without_code_is_empty(value: object) -> None:
    assert len(origins(value)) == 0
