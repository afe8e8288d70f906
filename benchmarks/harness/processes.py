"""Child processes: each in a session of its own, so that it and everything it starts (a loky
pool, a peer's workers, a dask cluster) is killed with its group, at a deadline and after it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any

from .report import REPO


def environment(**extra: str) -> dict[str, str]:
    """This process's environment with the repository first on the path (``benchmarks``)."""
    path = os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))
    return {**os.environ, "PYTHONPATH": path, **extra}


def start(args: Sequence[str], *, env: dict[str, str] | None = None,
          out: IO[Any] | int | None = subprocess.DEVNULL) -> subprocess.Popen[Any]:
    """``python *args`` in a session of its own (its process group is its pid)."""
    return subprocess.Popen([sys.executable, *args], cwd=REPO, env=env or environment(), stdout=out,
                            stderr=subprocess.STDOUT if out is not None else None, start_new_session=True)


def kill_group(proc: subprocess.Popen[Any]) -> bool:
    """SIGKILL ``proc``'s group and wait up to 5 s for it to empty; False if it did not."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    proc.wait()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            os.killpg(proc.pid, 0)
        except (ProcessLookupError, PermissionError):
            return True
        time.sleep(0.01)
    return False


def stop(procs: Sequence[subprocess.Popen[Any]], grace: float = 10.0) -> list[int]:
    """SIGTERM each (a peer releases its claims and leaves), wait up to ``grace``, then kill
    every group; the pids of groups that outlived their SIGKILL (never expected)."""
    for proc in procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + grace
    for proc in procs:
        try:
            proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            pass
    return [proc.pid for proc in procs if not kill_group(proc)]


def run_json(args: Sequence[str], timeout: float, what: str) -> tuple[dict[str, Any], float]:
    """Run ``python *args`` to its end: the JSON object on the last line of its stdout, and its
    wall time. Past ``timeout`` it is killed with its group, and the run ends."""
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, *args], cwd=REPO, env=environment(), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        kill_group(proc)
        raise SystemExit(f"{what} took over {timeout} s") from None
    wall = time.perf_counter() - t0
    kill_group(proc)  # what it left running (its pool's workers) goes with it
    if proc.returncode != 0:
        raise SystemExit(f"{what} failed ({proc.returncode}):\n{err[-3000:]}")
    return last_json(out), wall


def last_json(output: str) -> dict[str, Any]:
    """The last line of ``output`` that is a JSON object (a child's report)."""
    for line in reversed(output.splitlines()):
        if line.startswith("{"):
            try:
                got: dict[str, Any] = json.loads(line)
                return got
            except ValueError:
                continue
    raise SystemExit(f"no report in the output:\n{output[-3000:]}")


def call_args(target: str, *args: Any) -> list[str]:
    """The arguments of ``python`` that call ``module:function(*args)`` and print its JSON."""
    module, function = target.split(":")
    code = (f"import json, sys; from {module} import {function}; "
            f"print(json.dumps({function}(*json.loads(sys.argv[1])), default=str), flush=True)")
    return ["-c", code, json.dumps(args)]


def wait_for(path: Path, *, timeout: float, procs: Sequence[subprocess.Popen[Any]] = (),
             interval: float = 0.002) -> None:
    """Until ``path`` exists; an error when ``timeout`` passes or one of ``procs`` died."""
    deadline = time.monotonic() + timeout
    while not path.exists():
        for index, proc in enumerate(procs):
            if proc.poll() not in (None, 0, -signal.SIGKILL):
                raise RuntimeError(f"process {index} exited with {proc.returncode} before {path.name}")
        if time.monotonic() > deadline:
            raise TimeoutError(f"{path} did not appear within {timeout} s")
        time.sleep(interval)


def descendants(pid: int) -> dict[int, str]:
    """Live descendants of ``pid`` (Linux /proc), by pid, with their command lines."""
    children: dict[int, list[int]] = {}
    for entry in filter(str.isdigit, os.listdir("/proc") if os.path.isdir("/proc") else []):
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                fields = f.read().decode(errors="replace").rpartition(")")[2].split()
        except OSError:
            continue
        if len(fields) > 1 and fields[0] != "Z":
            children.setdefault(int(fields[1]), []).append(int(entry))
    found: dict[int, str] = {}
    stack = list(children.get(pid, []))
    while stack:
        child = stack.pop()
        try:
            with open(f"/proc/{child}/cmdline", "rb") as f:
                found[child] = f.read().replace(b"\0", b" ").decode(errors="replace").strip()[:160]
        except OSError:
            continue
        stack += children.get(child, [])
    return found


def cpu_seconds(pids: Sequence[int]) -> float:
    """CPU seconds (user + system) used so far by ``pids`` and their live descendants."""
    ticks, total = os.sysconf("SC_CLK_TCK"), 0
    for pid in {p for root in pids for p in (root, *descendants(root))}:
        try:
            with open(f"/proc/{pid}/stat", "rb") as f:
                fields = f.read().decode(errors="replace").rpartition(")")[2].split()
            total += int(fields[11]) + int(fields[12])
        except (OSError, IndexError, ValueError):
            continue
    return total / ticks


def reap_leftovers(grace: float = 5.0) -> dict[int, str]:
    """Wait up to ``grace`` for this process's children to exit, then kill the rest by pid
    (loky's resource trackers excepted: each exits with this process); those killed."""
    def alive() -> dict[int, str]:
        return {p: c for p, c in descendants(os.getpid()).items() if "resource_tracker" not in c}

    deadline = time.monotonic() + grace
    while (left := alive()) and time.monotonic() < deadline:
        time.sleep(0.05)
    for pid in left:
        try:
            os.kill(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
    return left
