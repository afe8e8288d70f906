"""The tests' own process helper: a child that hangs is killed with what it started."""

from __future__ import annotations

import os
import time
from pathlib import Path

import child_processes
import pytest

pytestmark = [
    pytest.mark.skipif(not hasattr(os, "killpg"), reason="process groups are POSIX"),
    pytest.mark.timeout(90),
]

#: Seconds for a killed process to be gone (reaped by its new parent); only a leak reaches it.
GONE_WITHIN = 30.0

# Starts a grandchild that sleeps, writes the grandchild's pid, then hangs.
HANGS = """
import subprocess, sys, time
grandchild = subprocess.Popen(["sleep", "600"])
with open(sys.argv[1] + ".tmp", "w") as f:
    f.write(str(grandchild.pid))
import os; os.replace(sys.argv[1] + ".tmp", sys.argv[1])
time.sleep(600)
"""


def _pid_in(path: Path, deadline: float) -> int:
    while not path.exists():
        assert time.monotonic() < deadline, "the child never started its grandchild"
        time.sleep(0.01)  # polling for the file, with a deadline
    return int(path.read_text())


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def _assert_gone(pid: int) -> None:
    deadline = time.monotonic() + GONE_WITHIN
    while not _gone(pid):
        assert time.monotonic() < deadline, f"the grandchild {pid} outlived its group"
        time.sleep(0.01)  # polling for its end, with a deadline


def test_a_child_that_hangs_past_its_timeout_is_killed_with_its_grandchild(tmp_path: Path) -> None:
    pid_file = tmp_path / "grandchild.pid"
    with pytest.raises(AssertionError, match="did not finish after 5 s"):
        # Reading the pid needs the child running, so the timeout must outlast the start-up.
        child_processes.run(["-c", HANGS, str(pid_file)], timeout=5)
    grandchild = _pid_in(pid_file, time.monotonic() + 1)  # written before the timeout
    _assert_gone(grandchild)


def test_a_started_child_is_killed_with_its_grandchild_at_the_blocks_end(tmp_path: Path) -> None:
    pid_file = tmp_path / "grandchild.pid"
    with child_processes.started(["-c", HANGS, str(pid_file)]) as child:
        grandchild = _pid_in(pid_file, time.monotonic() + 60)
        assert child.poll() is None and not _gone(grandchild)
    assert child.returncode is not None
    _assert_gone(grandchild)


def test_a_child_that_exits_leaving_a_process_on_its_output_fails_and_takes_it(
        tmp_path: Path) -> None:
    # The child exits at once, leaving its grandchild behind on its output, as a peer that left
    # its pool's workers would: the run fails at its timeout and the grandchild goes too.
    pid_file = tmp_path / "grandchild.pid"
    leaves = HANGS.replace("time.sleep(600)", "")
    with pytest.raises(AssertionError, match="exited, but what it started still held its output"):
        child_processes.run(["-c", leaves, str(pid_file)], timeout=5)
    _assert_gone(_pid_in(pid_file, time.monotonic()))


def test_run_passes_input_cwd_and_environment(tmp_path: Path) -> None:
    script = "import os, sys; print(sys.stdin.read(), os.getcwd(), os.environ['PROBE'])"
    done = child_processes.run(["-c", script], timeout=60, input="typed", cwd=tmp_path,
                               env=child_processes.environment(PROBE="here"))
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["typed", str(tmp_path), "here"]
