"""Every front-end on a swarm of mixed Pythons: a client of one minor version, a ``pythagoras
worker`` of another, one folder (``_front_ends_script.py`` is the client).

For each front-end (``PythagorasExecutor``, the joblib backend, the tutorial's decorator,
``Memory``) and each kind of call (a script function, an argument of a class of the script's
own, a result of such a class, a value only one version can load, a lambda, numpy arguments),
the test measures what happens, in both directions:

- first, with the worker up: the call ran on the worker, ran here (``Memory`` computes in the
  caller; it never submits to the swarm), was left to peers of the client's version (the
  caller times out, the worker says why and stores nothing), or its stored value cannot be
  loaded by the client (``UnloadableResult``, at once);
- then with no peer serving, for a client of each version: each stored value is a hit, or is
  computed again (``Memory``, the record kept for the version that loads it), or is missing.

Every value got equals plain Python's. ``MATRIX`` is what is expected; a test that measures
anything else prints what it measured.
"""

from __future__ import annotations

import json
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any, Final

import child_processes
import execution_log
import pytest
import pythons

SCRIPT = str(Path(__file__).with_name("_front_ends_script.py"))
DEADLINE = 300.0
RUNS = 120.0  # a wait for calls that run: only a broken swarm reaches it
LEFT = 3.0  # a wait for calls left to peers of the client's version, or not stored

pytestmark = pytest.mark.timeout(6 * DEADLINE)

FRONT_ENDS = ["executor", "joblib", "decorator", "memory"]
CASES = ["script", "numpy", "class_arg", "class_result", "unloadable", "lambda"]
#: The function each case calls, as the execution log names it.
LOGGED = {"script": "fmt", "numpy": "norm", "class_arg": "dist", "class_result": "shifted",
          "unloadable": "where", "lambda": "lambda"}
BASES = {"executor": 0, "joblib": 100, "decorator": 200, "memory": 300}


# Outcomes: "worker" ran on the worker, "here" ran in the client, "left" left to peers of the
# client's version, "refused" not accepted by the front-end, "unloadable" stored but not
# loadable by this Python, "hit" a stored value, "recompute" computed again here, "missing"
# nothing stored.


def loads(reader: str, maker: str, case: str) -> bool:
    """Whether Python ``reader`` loads the value of ``case`` that Python ``maker`` made: a path
    made by 3.13 refers to ``pathlib._local``, which older Pythons lack; a class of the script
    travels by value, as its maker's bytecode, which no other Python loads (ForeignCode)."""
    if case == "unloadable":
        return not (maker >= "3.13" > reader)
    if case == "class_result":  # its class's code, which only its maker's Python runs
        return reader == maker
    return True


def expected(front_end: str, case: str, client: str, runner: str) -> tuple[str, str, str]:
    """(with the worker up; then, with none, for a client of the client's Python and of the
    worker's)."""
    if front_end == "decorator" and case == "lambda":
        return "refused", "refused", "refused"
    if case == "class_arg" and front_end != "memory" or \
            case == "lambda" and front_end in ("executor", "joblib"):
        # an argument of the script's class goes as its maker's bytecode; so does a lambda:
        # left to the client's Python
        return "left", "missing", "missing"
    if front_end == "memory":  # computed here, by the client; a lambda's identity is its bytecode
        again = case == "lambda" or not loads(runner, client, case)
        return "here", "hit", "recompute" if again else "hit"
    if not loads(client, runner, case) and front_end == "decorator":
        # sync_parallel computes here what the worker stored in a form the client cannot load
        return "worker, then here", "recompute", "hit"
    if not loads(client, runner, case):  # made on the worker
        # joblib withdraws a batch's calls not yet run once one fails: the other may be stored
        return "unloadable", "unloadable", "hit" if front_end != "joblib" else JOBLIB_ABORTED
    return "worker", "hit", "hit"


#: joblib's calls after one that failed: run (a hit later) or withdrawn (missing), by the race.
JOBLIB_ABORTED: Final = "hit|missing"


def agrees(want: tuple[str, str, str], got: tuple[str, str, str]) -> bool:
    return all(g in w.split("|") for w, g in zip(want, got, strict=True))


def script(python: str, location: Path, log: Path, front_ends: list[str], cases: list[str],
           timeout: float) -> dict[str, Any]:
    done = child_processes.run([SCRIPT, str(location), ",".join(front_ends), ",".join(cases), str(timeout)],
                               timeout=DEADLINE, python=python,
                               env=child_processes.environment(**{execution_log.VARIABLE: str(log)}))
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout.splitlines()[-1])["results"]
    return result


def executed(log: Path) -> dict[tuple[str, str], set[str]]:
    """The Pythons that executed each front-end's calls of each case, by the execution log."""
    ran: dict[tuple[str, str], set[str]] = defaultdict(set)
    if log.exists():
        for name, argument, python in map(json.loads, log.read_text().splitlines()):
            front_end = next(f for f, base in BASES.items() if base <= argument < base + 100)
            ran[front_end, next(c for c, n in LOGGED.items() if n == name)].add(python)
    return ran


def outcome(got: dict[str, Any], ran: set[str], here: str, worker: str | None) -> str:
    """What one front-end's calls of one case came to, by their values and who executed them:
    with a worker of Python ``worker`` up, or (None) with none."""
    error = got.get("error")
    if error is None:
        assert got["got"] == got["want"], got  # never a wrong value
        if not ran:
            return "hit"
        if ran == {here}:
            return "here" if worker is not None else "recompute"
        if ran == {here, worker}:
            return "worker, then here"
        return "worker" if ran == {worker} else f"ran by {sorted(ran)}"
    assert not ran or error.startswith("UnloadableResult") and ran == {worker}, (error, ran)
    if error.startswith(("CallTimeout", "TimeoutError")):
        return "left" if worker is not None else "missing"
    if error.startswith("UnloadableResult"):
        return "unloadable"
    if error.startswith("TypeError: the decorator takes functions defined with def only"):
        return "refused"
    return error


def measure(tmp_path: Path, client: str, runner: str) -> dict[tuple[str, str], tuple[str, str, str]]:
    """The outcome of each front-end's calls of each case, as :func:`expected` gives them."""
    location = tmp_path / "swarm"
    first_log = tmp_path / "first.jsonl"
    with child_processes.started(["-m", "pythagoras", "worker", str(location), "--max-workers", "1"],
                                 log=tmp_path / "worker.log", python=runner,
                                 env=child_processes.environment(**{execution_log.VARIABLE: str(first_log)})):
        first = {}
        runs = ["script", "numpy", "class_result", "unloadable"]
        rounds = [(FRONT_ENDS, runs, RUNS), (FRONT_ENDS, ["class_arg", "lambda"], LEFT)]
        for front_ends, cases, timeout in rounds:
            got = script(client, location, first_log, front_ends, cases, timeout)
            first.update({(f, c): got[f][c] for f in front_ends for c in cases})
    worker_log = (tmp_path / "worker.log").read_text()
    ran_first = executed(first_log)
    stored = {p: p.read_bytes() for p in location.glob("results/**/*") if p.is_file()}
    later = []
    for python in (client, runner):  # no peer serves now: only stored values come back
        log = tmp_path / f"{pythons.version(python)}.jsonl"
        got = script(python, location, log, FRONT_ENDS, CASES, LEFT)
        ran = executed(log)
        later.append({(f, c): outcome(got[f][c], ran[f, c], pythons.version(python), None)
                      for f in FRONT_ENDS for c in CASES})
    v_client, v_runner = pythons.version(client), pythons.version(runner)
    measured = {}
    for key, got in first.items():
        measured[key] = (outcome(got, ran_first[key], v_client, v_runner), later[0][key], later[1][key])
        if measured[key][0] == "left":
            assert "leaving" in worker_log and "to other peers" in worker_log or \
                f"to peers of Python {v_client}" in worker_log
    assert not [p for p in location.glob("failures/**/*") if p.is_file()], "a failure was stored"
    # What one Python stored, another that cannot load it computes again, and never overwrites.
    assert {p: p.read_bytes() for p in stored} == stored
    return measured


@pytest.mark.parametrize("direction", pythons.DIRECTIONS)
def test_each_front_end_across_versions(tmp_path: Path, direction: str) -> None:
    client, runner = pythons.pair(direction)
    v_client, v_runner = pythons.version(client), pythons.version(runner)
    measured = measure(tmp_path, client, runner)
    want = {(f, c): expected(f, c, v_client, v_runner) for f in FRONT_ENDS for c in CASES}
    table = "\n".join(f"{f:9} {c:13} client {v_client} on worker {v_runner}: " + " / ".join(measured[f, c])
                      for f in FRONT_ENDS for c in CASES)
    print(f"python {sys.version.split()[0]} running the test\n{table}")
    assert measured.keys() == want.keys()
    assert all(agrees(want[key], measured[key]) for key in want), table
