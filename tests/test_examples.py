"""The examples: the tutorial example prints the tutorial's values and memoizes."""

from __future__ import annotations

import os
import re
from pathlib import Path

import child_processes

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def _run(script: str, location: Path) -> str:
    env = {**os.environ, "PYTHAGORAS_LOCATION": str(location), "PYTHAGORAS_EXAMPLE_SLEEP": "0.05"}
    done = child_processes.run([str(EXAMPLES / script)], env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout


def _values(output: str) -> list[str]:
    return [m.group(1) for m in re.finditer(r"ms   (.+)$", output, re.MULTILINE)]


def test_tutorial_example_prints_the_tutorials_values_then_hits(tmp_path: Path) -> None:
    first = _run("tutorial_memoization.py", tmp_path / "swarm")
    assert f"swarm folder: {tmp_path / 'swarm'}" in first
    expected = [
        "484", "484", "9801", "[0, 1, 4, 9, 16, 25, 36, 49, 64, 81]",
        "[10000, 10201, 10404, 10609, 10816, 11025, 11236, 11449, 11664, 11881]",
    ]
    assert _values(first) == expected
    records = _records(tmp_path / "swarm")
    assert len(records) == 22  # 22, 99, range(10), range(100, 110)
    second = _run("tutorial_memoization.py", tmp_path / "swarm")
    assert _values(second) == expected
    assert _records(tmp_path / "swarm") == records  # all hits: no record was written again


def _records(location: Path) -> dict[str, int]:
    """Each result record's path and inode: a rewrite (temp then rename) changes the inode."""
    return {str(p): p.stat().st_ino for p in (location / "results").rglob("*") if p.is_file()}


def _lines(output: str, pattern: str) -> list[re.Match[str]]:
    return [m for m in (re.search(pattern, line) for line in output.splitlines()) if m]


def test_executor_example_maps_then_reads_back(tmp_path: Path) -> None:
    location = tmp_path / "swarm"
    squares = str([x * x for x in range(12)])
    counts = r"(\w+ pass) +[\d.]+ s   sent to the swarm: +(\d+), read back: +(\d+)   (.+)$"
    first = _run("executor_map.py", location)
    assert f"swarm folder: {location}" in first
    passes = [m.groups() for m in _lines(first, counts)]
    assert passes == [("first pass", "12", "0", squares), ("second pass", "0", "12", squares)]
    records = _records(location)
    assert len(records) == 12
    second = _run("executor_map.py", location)  # a new process: every call is in the folder
    passes = [m.groups() for m in _lines(second, counts)]
    assert passes == [("first pass", "0", "12", squares), ("second pass", "0", "12", squares)]
    assert _records(location) == records


def test_grid_search_example_searches_then_reads_back(tmp_path: Path) -> None:
    location = tmp_path / "swarm"
    fits = 9 * 3  # 9 candidates, 3 folds
    counts = (r"(\w+ search) +[\d.]+ s   fits sent to the swarm: +(\d+), read back: +(\d+)"
              r"   best (.+) score (\d\.\d+)$")
    first = _run("grid_search.py", location)
    assert f"swarm folder: {location}" in first
    searches = [m.groups() for m in _lines(first, counts)]
    assert [s[:3] for s in searches] == [("first search", str(fits), "0"),
                                         ("same search", "0", str(fits))]
    best = searches[0][3:]  # the best parameters and their score, the same in every search
    assert best[0] == "{'C': 10, 'gamma': 0.001}" and float(best[1]) > 0.95
    assert searches[1][3:] == best
    records = _records(location)
    assert len(records) == fits
    second = _run("grid_search.py", location)
    searches = [m.groups() for m in _lines(second, counts)]
    assert searches == [("first search", "0", str(fits), *best), ("same search", "0", str(fits), *best)]
    assert _records(location) == records


def test_memory_example_computes_once_then_reads_back(tmp_path: Path) -> None:
    location = tmp_path / "swarm"
    fits = r"pipeline: (\w+ fit) +[\d.]+ s   training accuracy (\d\.\d+)$"
    calls = r"mem.cache: (\w+ call) +[\d.]+ s   stored before: (\w+) +slow_sum_of_squares\(1000\) = (\d+)$"
    first = _run("memory_pipeline.py", location)
    assert f"swarm folder: {location}" in first
    # Memory prints joblib's banner before each call it computes: the pipeline's three
    # transformers and the cached function, once each.
    assert first.count("[Memory] Calling") == 4
    accuracy = _lines(first, fits)[0].group(2)
    assert [m.groups() for m in _lines(first, fits)] == [("first fit", accuracy), ("second fit", accuracy)]
    assert float(accuracy) > 0.95
    assert [m.groups() for m in _lines(first, calls)] == [("first call", "False", "332833500"),
                                                         ("second call", "True", "332833500")]
    records = _records(location)
    assert len(records) == 4
    second = _run("memory_pipeline.py", location)
    assert "[Memory] Calling" not in second  # nothing computed
    assert [m.groups() for m in _lines(second, fits)] == [("first fit", accuracy), ("second fit", accuracy)]
    assert [m.groups() for m in _lines(second, calls)] == [("first call", "True", "332833500"),
                                                          ("second call", "True", "332833500")]
    assert _records(location) == records
