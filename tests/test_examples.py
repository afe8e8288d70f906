"""The README's main job: the tutorial example prints the tutorial's values and memoizes."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def _run(script: str, location: Path) -> str:
    env = {**os.environ, "PYTHAGORAS_LOCATION": str(location), "PYTHAGORAS_EXAMPLE_SLEEP": "0.05"}
    done = subprocess.run([sys.executable, str(EXAMPLES / script)], env=env, capture_output=True,
                          text=True, timeout=120, check=True)
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
