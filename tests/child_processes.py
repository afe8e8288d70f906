"""Processes the tests start: each in a session of its own, so that it and every process it
starts (a loky pool, a peer's workers) is killed with its group, on a timeout and after it.

``run`` runs a process to its end; ``started`` keeps one running for a block; ``spawn`` and
``kill_group`` are the two halves, for harnesses that manage their processes themselves.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import IO, Any

HERE = Path(__file__).resolve().parent

PIPE = subprocess.PIPE
DEVNULL = subprocess.DEVNULL


def environment(**extra: str) -> dict[str, str]:
    """This process's environment, with the test folder importable (``execution_log``)."""
    path = os.pathsep.join(filter(None, [str(HERE), os.environ.get("PYTHONPATH")]))
    return {**os.environ, "PYTHONPATH": path, **extra}


def spawn(command: Sequence[str], *, env: dict[str, str] | None = None,
          cwd: Path | str | None = None, stdin: int | IO[Any] | None = DEVNULL,
          stdout: int | IO[Any] | None = PIPE,
          stderr: int | IO[Any] | None = PIPE) -> subprocess.Popen[str]:
    """Start ``command`` (a whole argv) in a session of its own: its group's id is its pid."""
    return subprocess.Popen(list(command), stdin=stdin, stdout=stdout, stderr=stderr, text=True,
                            env=env or environment(), cwd=cwd, start_new_session=True)


def signal_group(proc: subprocess.Popen[str], sig: int = signal.SIGKILL) -> None:
    """Send ``sig`` to ``proc``'s group (itself and what it started), if any of it is left."""
    try:
        os.killpg(proc.pid, sig)  # start_new_session: its group is its pid
    except ProcessLookupError:
        pass


def kill_group(proc: subprocess.Popen[str]) -> None:
    """SIGKILL ``proc`` and every process of its group, and reap ``proc``.

    Also after ``proc`` exited on its own: what it left behind (a pool's workers) goes too."""
    signal_group(proc)
    proc.wait()


def finish(proc: subprocess.Popen[str], *, timeout: float,
           input: str | None = None) -> subprocess.CompletedProcess[str]:
    """Wait for a spawned ``proc`` to end and collect its output; after ``timeout`` seconds
    fail, its whole group killed. Its group is killed on the way out in any case.

    The output ends when every process holding its pipes has exited: one that ``proc`` left
    behind (a pool's worker that outlives its peer) fails the run like a hang, named as such."""
    try:
        out, err = proc.communicate(input, timeout=timeout)
    except subprocess.TimeoutExpired:
        exited = proc.poll() is not None
        signal_group(proc)
        out, err = proc.communicate()
        what = ("exited, but what it started still held its output" if exited
                else "did not finish")
        raise AssertionError(f"{proc.args!r} {what} after {timeout} s\n{out}\n{err}") from None
    finally:
        kill_group(proc)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def run_command(command: Sequence[str], *, timeout: float, env: dict[str, str] | None = None,
                cwd: Path | str | None = None, input: str | None = None,
                stdin: int | IO[Any] | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``command`` (a whole argv, say ``[setpriv, ..., python, script]``) as ``run`` does."""
    if stdin is None:
        stdin = PIPE if input is not None else DEVNULL
    return finish(spawn(command, env=env, cwd=cwd, stdin=stdin), timeout=timeout, input=input)


def run(args: Sequence[str], *, timeout: float, env: dict[str, str] | None = None,
        cwd: Path | str | None = None, input: str | None = None,
        stdin: int | IO[Any] | None = None,
        python: str = sys.executable) -> subprocess.CompletedProcess[str]:
    """Run ``python *args`` to its end, or kill its whole group after ``timeout`` seconds
    (``subprocess.run(timeout=)`` alone leaves its pool's processes behind). ``env`` is the
    whole environment (``environment()`` if not given)."""
    return run_command([python, *args], timeout=timeout, env=env, cwd=cwd, input=input,
                       stdin=stdin)


@contextmanager
def started(args: Sequence[str], *, env: dict[str, str] | None = None, log: Path | None = None,
            cwd: Path | str | None = None,
            python: str = sys.executable) -> Iterator[subprocess.Popen[str]]:
    """``python *args`` running for the block's length, then killed with its group."""
    with ExitStack() as files:
        sink = files.enter_context(open(log, "w")) if log is not None else DEVNULL
        proc = spawn([python, *args], env=env, cwd=cwd, stdout=sink, stderr=sink)
        try:
            yield proc
        finally:
            kill_group(proc)


def exited_pid() -> int:
    """The pid of a process of this machine that has exited and been reaped."""
    done = run(["-c", "import os; print(os.getpid())"], timeout=60)
    assert done.returncode == 0, done.stderr
    return int(done.stdout)


def pool_processes(besides: frozenset[int] = frozenset()) -> list[str]:
    """This process's descendants that are pools' workers or peers (loky, pythagoras), but not
    the resource trackers, which live as long as this process; ``besides`` are left out."""
    import psutil  # type: ignore[import-untyped]  # through dask.distributed and ipykernel

    found = []
    for child in psutil.Process().children(recursive=True):
        try:
            if child.pid in besides or child.status() == psutil.STATUS_ZOMBIE:
                continue  # a zombie has exited; its parent reaps it when it next looks
            command = " ".join(child.cmdline())
        except psutil.Error:  # gone meanwhile
            continue
        if ("loky" in command or "pythagoras" in command) and "resource_tracker" not in command:
            found.append(f"{child.pid}: {command}")
    return found
