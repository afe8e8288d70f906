"""Memory across processes: a script's functions have one address wherever the script lives, two
versions of one function keep their records side by side, and scikit-learn's Pipeline reuses the
transformer fits of another process.

Each process is a real interpreter (``_memory_processes``): driven line by line where the order
of calls between processes matters, else run to its end. Executions are counted in the
execution log, which every process appends to.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from _memory_processes import HERE, DrivenScript, run

from pythagoras.storage.local import LocalFolderStore

pytestmark = pytest.mark.timeout(300)

#: A user's script: a function of ``__main__`` memoized by Memory, called with each x read from stdin.
SCRIPT = '''
import json
import sys

import execution_log
from pythagoras.memory import Memory


def shifted(x):
    """{label}: x + {shift}."""
    execution_log.record(["shifted", "{label}", x])
    return x + {shift}


cached = Memory(sys.argv[1], verbose=0).cache(shifted)
for line in sys.stdin:
    x = int(line)
    stored = cached.check_call_in_cache(x)
    print(json.dumps({{"value": cached(x), "stored": stored, "function": cached.func_id}}), flush=True)
'''


@pytest.fixture
def start(tmp_path: Path, folder: Path) -> Iterator[Callable[[Path, str], DrivenScript]]:
    """``start(where, script_text)``: write the script at ``where`` and run it on the test's folder."""
    started: list[DrivenScript] = []

    def start_one(where: Path, text: str) -> DrivenScript:
        where.parent.mkdir(parents=True, exist_ok=True)
        where.write_text(text)
        stderr = tmp_path / f"stderr-{len(started)}.txt"
        script = DrivenScript(where, str(folder), cwd=where.parent, stderr=stderr)
        started.append(script)
        return script

    try:
        yield start_one
    finally:
        for script in started:
            script.close()


def test_a_main_function_has_one_address_wherever_the_script_lives(
        tmp_path: Path, start: Callable[[Path, str], DrivenScript],
        executions: Callable[[], list[Any]]) -> None:
    text = SCRIPT.format(label="shift", shift=1)
    alice = start(tmp_path / "alice" / "project" / "analysis.py", text)
    bob = start(tmp_path / "bob" / "checkouts" / "deeper" / "analysis.py", text)
    first = alice.ask(5)
    assert first["value"] == 6 and not first["stored"]
    second = bob.ask(5)
    assert second == {"value": 6, "stored": True, "function": first["function"]}
    assert bob.ask(7) == {"value": 8, "stored": False, "function": first["function"]}
    assert alice.ask(7) == {"value": 8, "stored": True, "function": first["function"]}
    assert executions() == [["shifted", "shift", 5], ["shifted", "shift", 7]]


def test_two_versions_used_alternately_from_two_processes_keep_both_records(
        tmp_path: Path, folder: Path, start: Callable[[Path, str], DrivenScript],
        executions: Callable[[], list[Any]]) -> None:
    # joblib keeps one version per function name and wipes it when another version is called,
    # so two processes on two versions recompute each other's calls for ever.
    one = start(tmp_path / "one" / "analysis.py", SCRIPT.format(label="one", shift=1))
    two = start(tmp_path / "two" / "analysis.py", SCRIPT.format(label="two", shift=2))
    answers = [one.ask(3), two.ask(3), one.ask(3), two.ask(3), one.ask(3)]
    expected = [(4, False), (5, False), (4, True), (5, True), (4, True)]
    assert [(a["value"], a["stored"]) for a in answers] == expected
    assert answers[0]["function"] != answers[1]["function"]
    assert executions() == [["shifted", "one", 3], ["shifted", "two", 3]]
    functions = {key.split("/")[1] for key in LocalFolderStore(folder).list("results/")}
    assert functions == {answers[0]["function"], answers[1]["function"]}


def test_pipeline_transformer_fits_are_reused_by_another_process(
        tmp_path: Path, folder: Path, executions: Callable[[], list[Any]]) -> None:
    first = run(HERE / "_pipeline_fit.py", str(folder), cwd=tmp_path)
    assert executions() == [["fit", True, False], ["fit", True, True]]
    second = run(HERE / "_pipeline_fit.py", str(folder), cwd=tmp_path)
    assert executions() == [["fit", True, False], ["fit", True, True]]  # both fits loaded
    assert second == first
