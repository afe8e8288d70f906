"""``pythagoras demo``, the README's main job: run as a user runs it, on the default location
(here ``$PYTHAGORAS_LOCATION``, a temp folder), with short calls so that it takes seconds.

It must share the first run's calls among its three peers, read every value back on the
second run, print both timings, and leave no peer running.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import child_processes
import pytest

pytestmark = pytest.mark.timeout(180)


def processes_mentioning(text: str) -> list[str]:
    """Command lines of this machine's processes that contain ``text`` (Linux: /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if text in cmdline:
            found.append(f"{entry.name}: {cmdline}")
    return found


@pytest.mark.skipif(not Path("/proc/self/cmdline").exists(), reason="reads /proc")
def test_the_demo_shares_the_work_reads_it_back_and_stops_its_peers(tmp_path: Path) -> None:
    location = tmp_path / "default-swarm"
    env = {**os.environ, "PYTHAGORAS_LOCATION": str(location)}
    done = child_processes.run(["-m", "pythagoras", "demo", "--calls", "6", "--seconds", "0.5"],
                               env=env, timeout=150)
    out = done.stdout
    assert done.returncode == 0, out + done.stderr
    assert f"the swarm at {location}" in out
    assert "ready: 3 peers on this machine, 3 worker processes" in out
    assert "values: [0, 1, 4, 9, 16, 25]" in out
    assert re.search(r"\d+\.\d\d s for 3 s of work: \d+\.\dx faster than one worker", out), out
    assert re.search(r"ms: every value read back from the swarm, \d+x faster", out), out
    ran = re.search(r"calls run by each peer: this process (\d+), worker 1 (\d+), worker 2 (\d+)", out)
    assert ran, out
    counts = [int(n) for n in ran.groups()]
    assert 6 <= sum(counts) <= 7, counts  # every call ran; at most one twice
    assert sum(1 for n in counts if n > 0) >= 2, f"the work was not shared: {counts}"
    # The progress bars went to stderr: the second ends with every call a hit.
    assert "hits=6" in done.stderr.rpartition("\r")[2] or "hits=6" in done.stderr
    assert processes_mentioning(str(location)) == []  # the peers (and their pools) are gone
    assert location.is_dir()


def test_a_second_demo_computes_its_own_calls_again(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHAGORAS_LOCATION": str(tmp_path / "swarm")}
    for _ in range(2):
        done = child_processes.run(["-m", "pythagoras", "demo", "--calls", "2",
                                    "--seconds", "0.1"], env=env, timeout=150)
        assert done.returncode == 0, done.stdout + done.stderr
        assert "values: [0, 1]" in done.stdout
        ran = re.search(r"this process (\d+), worker 1 (\d+), worker 2 (\d+)", done.stdout)
        assert ran, done.stdout
        # Each demo's first run has calls of its own to share, however often it has run.
        assert sum(int(n) for n in ran.groups()) >= 2, done.stdout
