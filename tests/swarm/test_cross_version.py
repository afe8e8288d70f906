"""A swarm of mixed Pythons: a client of one minor version, a ``pythagoras worker`` of another,
one folder. The script's functions (f-strings, comprehensions, a class of its own, numpy
arguments, a pure function calling others) run on the worker rebuilt from their source, give
plain Python's values, and are hits for a client of either version; a lambda (bytecode only) is
left to peers of its own version, never run by another (its caller is told why), and runs once
one is up.

The other interpreters, each with pythagoras installed, are named by
``$PYTHAGORAS_TEST_PYTHONS`` (comma-separated; ``.ci/run`` makes them). Without it the test is
skipped on a developer's machine and fails in CI.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import child_processes
import pytest

SCRIPT = str(Path(__file__).with_name("_cross_version_script.py"))
DEADLINE = 180.0

pytestmark = pytest.mark.timeout(4 * DEADLINE)


def other_pythons() -> list[str]:
    """The interpreters named, less those of this one's version (CI names the same list to
    every run)."""
    mine = "%d.%d" % sys.version_info[:2]
    named = [p for p in os.environ.get("PYTHAGORAS_TEST_PYTHONS", "").split(",")
             if p.strip() and version(p) != mine]
    if not named:
        if os.environ.get("CI"):
            pytest.fail("$PYTHAGORAS_TEST_PYTHONS names no other Python: .ci/run must make them")
        pytest.skip("$PYTHAGORAS_TEST_PYTHONS names no other Python with pythagoras installed")
    return named


def version(python: str) -> str:
    done = subprocess.run([python, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def script(python: str, location: Path, mode: str, timeout: float) -> dict[str, Any]:
    done = child_processes.run([SCRIPT, str(location), mode, str(timeout)], timeout=DEADLINE,
                               python=python)
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout.splitlines()[-1])
    return result


def worker(python: str, location: Path, log: Path) -> Any:
    return child_processes.started(["-m", "pythagoras", "worker", str(location), "--max-workers", "1"],
                                   log=log, python=python)


@pytest.fixture(params=["theirs on our worker", "ours on their worker"])
def pair(request: pytest.FixtureRequest) -> tuple[str, str]:
    """(the client's Python, the worker's Python), for each other Python named."""
    other = other_pythons()[0]
    return (other, sys.executable) if request.param == "theirs on our worker" else (sys.executable, other)


def test_a_scripts_calls_run_on_a_worker_of_another_version_and_are_hits_for_both(
        tmp_path: Path, pair: tuple[str, str]) -> None:
    client, runner = pair
    assert version(client) != version(runner)
    location = tmp_path / "swarm"
    with worker(runner, location, tmp_path / "worker.log"):
        ran = script(client, location, "run", 120)
    assert ran["got"] == ran["want"]
    for python in (client, runner):  # no peer serves now: every value must be a stored result
        hits = script(python, location, "run", 5)
        assert hits["got"] == hits["want"] == ran["want"]


def test_more_versions_share_the_results(tmp_path: Path) -> None:
    location = tmp_path / "swarm"
    with worker(sys.executable, location, tmp_path / "worker.log"):
        first = script(sys.executable, location, "run", 120)
    for python in other_pythons():
        assert script(python, location, "run", 5)["got"] == first["want"]


def test_a_lambda_of_another_version_is_left_to_peers_of_its_version(tmp_path: Path) -> None:
    other = other_pythons()[0]
    location = tmp_path / "swarm"
    log = tmp_path / "worker.log"
    with worker(sys.executable, location, log):
        left = script(other, location, "lambda", 5)
        assert left["error"] == "TimeoutError"  # our worker never ran it, nor failed it
        assert f"only a peer of Python {version(other)} runs" in left["message"]  # and it says why
        assert f"to peers of Python {version(other)}" in log.read_text()
        assert not [p for p in location.glob("failures/**/*") if p.is_file()]
        shown = child_processes.run(["-m", "pythagoras", "status", str(location), "--json"], timeout=60)
        assert json.loads(shown.stdout)["calls"]["pending_only_for_python"] == {version(other): 1}
        with worker(other, location, tmp_path / "their-worker.log"):
            assert script(other, location, "lambda", 120) == {"value": 8}
