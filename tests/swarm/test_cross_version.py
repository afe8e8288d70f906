"""A swarm of mixed Pythons: a client of one minor version, a ``pythagoras worker`` of another,
one folder. The script's functions (f-strings, comprehensions, a class of its own, numpy
arguments, a pure function calling others) run on the worker rebuilt from their source, give
plain Python's values, and are hits for a client of either version; a lambda (bytecode only) is
left to peers of its own version, never run by another (its caller is told why), and runs once
one is up.

The other interpreters are named by ``$PYTHAGORAS_TEST_PYTHONS`` (``pythons.py``).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import child_processes
import pytest
import pythons
from pythons import other_pythons, version

SCRIPT = str(Path(__file__).with_name("_cross_version_script.py"))
DEADLINE = 180.0

pytestmark = pytest.mark.timeout(4 * DEADLINE)


def script(python: str, location: Path, mode: str, timeout: float) -> dict[str, Any]:
    done = child_processes.run([SCRIPT, str(location), mode, str(timeout)], timeout=DEADLINE,
                               python=python)
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout.splitlines()[-1])
    return result


def worker(python: str, location: Path, log: Path) -> Any:
    return child_processes.started(["-m", "pythagoras", "worker", str(location), "--max-workers", "1"],
                                   log=log, python=python)


@pytest.fixture(params=pythons.DIRECTIONS)
def pair(request: pytest.FixtureRequest) -> tuple[str, str]:
    """(the client's Python, the worker's Python), for each direction."""
    return pythons.pair(request.param)


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
