"""The issue's grid search, unchanged, on the swarm: the same scores as ``n_jobs=1``, memoized
for a new process on the same folder, and resumed where it stopped after a SIGKILL.

Each run is a real process (``_grid_search.py``), as a user would start it.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import child_processes
import pytest

SCRIPT = Path(__file__).with_name("_grid_search.py")
DEADLINE = 240.0  # only a hang reaches this
CANDIDATES = 12 * 3  # parameter sets x folds, one memoized call each

pytestmark = pytest.mark.timeout(3 * DEADLINE)


def run(how: str, folder: Path) -> dict[str, Any]:
    done = child_processes.run([str(SCRIPT), how, str(folder)], env=dict(os.environ),
                               timeout=DEADLINE)
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout.splitlines()[-1])
    return result


@pytest.fixture(scope="module")
def sequential(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return run("sequential", tmp_path_factory.mktemp("unused"))


@pytest.mark.parametrize("how", ["backend", "config"])
def test_same_scores_as_n_jobs_1_then_memoized_in_a_new_process(
        how: str, tmp_path: Path, sequential: dict[str, Any]) -> None:
    first = run(how, tmp_path)
    assert first["scores"] == pytest.approx(sequential["scores"], abs=1e-12)
    assert first["best_params"] == sequential["best_params"]
    assert first["executed"] == CANDIDATES
    again = run(how, tmp_path)
    assert again["scores"] == first["scores"] and again["best_params"] == first["best_params"]
    assert again["executed"] == 0  # every fit came from the folder


def _results_stored(folder: Path) -> int:
    return sum(1 for _, _, files in os.walk(folder / "results") for f in files
               if not f.startswith("."))


def test_a_search_killed_half_way_resumes_where_it_stopped(
        tmp_path: Path, sequential: dict[str, Any]) -> None:
    first = child_processes.spawn([sys.executable, str(SCRIPT), "backend", str(tmp_path)],
                                  env=dict(os.environ))
    try:
        deadline = time.monotonic() + DEADLINE
        while _results_stored(tmp_path) < CANDIDATES // 3:
            assert first.poll() is None, first.communicate()[1]
            assert time.monotonic() < deadline, "the first search made no progress"
            time.sleep(0.02)  # polling the folder for a condition, not standing in for one
    finally:
        child_processes.kill_group(first)  # the peer and its workers, mid-search
        first.communicate()
    stored = _results_stored(tmp_path)
    assert stored < CANDIDATES, "the search finished before it could be killed"
    resumed = run("backend", tmp_path)
    assert resumed["scores"] == pytest.approx(sequential["scores"], abs=1e-12)
    assert resumed["best_params"] == sequential["best_params"]
    assert resumed["executed"] <= CANDIDATES - stored  # what was stored is not run again
