"""Processes the tests start: each in a session of its own, so that it and every process it
starts (a loky pool, a peer's workers) is killed with its group, on a timeout and after it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

HERE = Path(__file__).resolve().parent


def environment(**extra: str) -> dict[str, str]:
    """This process's environment, with the test folder importable (``execution_log``)."""
    path = os.pathsep.join(filter(None, [str(HERE), os.environ.get("PYTHONPATH")]))
    return {**os.environ, "PYTHONPATH": path, **extra}


def kill_group(proc: subprocess.Popen[str]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)  # start_new_session: its group is its pid
    except ProcessLookupError:
        pass
    proc.wait()


def run(args: Sequence[str], *, timeout: float, env: dict[str, str] | None = None,
        cwd: Path | None = None, python: str = sys.executable) -> subprocess.CompletedProcess[str]:
    """Run ``python *args`` to its end, or kill its whole group after ``timeout`` seconds
    (``subprocess.run(timeout=)`` alone leaves its pool's processes behind)."""
    proc = subprocess.Popen([python, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env or environment(), cwd=cwd, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        kill_group(proc)
        out, err = proc.communicate()
        raise AssertionError(f"{args} did not finish within {timeout} s\n{out}\n{err}") from None
    finally:
        if proc.poll() is None:
            kill_group(proc)
        else:
            try:  # what it left behind (a pool's workers) goes with it
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


@contextmanager
def started(args: Sequence[str], *, env: dict[str, str] | None = None, log: Path | None = None,
            python: str = sys.executable) -> Iterator[subprocess.Popen[str]]:
    """``python *args`` running for the block's length, then killed with its group."""
    sink = open(log, "w") if log is not None else subprocess.DEVNULL
    proc = subprocess.Popen([python, *args], stdout=sink, stderr=sink, text=True,
                            env=env or environment(), start_new_session=True)
    try:
        yield proc
    finally:
        kill_group(proc)
        if log is not None:
            sink.close()  # type: ignore[union-attr]
