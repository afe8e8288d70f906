"""What every benchmark reports beside its figures: versions, load, the JSON file, and the child
processes it left behind (killed)."""

from __future__ import annotations

import importlib.metadata
import json
import os
import platform
import signal
import time
from pathlib import Path
from typing import Any

__all__ = ["descendants", "loadavg", "machine", "print_load", "kill_groups", "reap_leftovers", "run_child", "version",
           "write_json"]


def version(dist: str) -> str | None:
    """The installed version of a distribution, or None."""
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def loadavg() -> float | None:
    """The 1-minute load average, where the OS has one: other work skews every figure."""
    try:
        return round(os.getloadavg()[0], 2)
    except (AttributeError, OSError):
        return None


def machine(load_before: float | None, load_after: float | None) -> dict[str, Any]:
    """The machine a run measured, for its JSON: Python, platform, CPUs, load around the run."""
    return {
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "loadavg_1min_before": load_before,
        "loadavg_1min_after": load_after,
    }


def print_load(wall: float, load_before: float | None, load_after: float | None, suffers: str) -> None:
    """The run's last lines: its length and the load around it, and a note if others were busy."""
    print(f"total {wall:.1f} s; 1-min load average {load_before} before, {load_after} after "
          f"on {os.cpu_count()} CPUs")
    if load_before is not None and load_before > 0.5:
        print(f"note: other work was running; {suffers}")


def write_json(path: Path, result: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {path}")


def descendants(pid: int) -> dict[int, str]:
    """Live descendants of ``pid`` (Linux /proc), by pid, with their command lines."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc") if os.path.isdir("/proc") else []:
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                stat = f.read().decode(errors="replace")
        except OSError:
            continue
        fields = stat.rpartition(")")[2].split()
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


def reap_leftovers(grace: float = 5.0) -> dict[str, Any]:
    """Wait for this process's children to exit; kill (by pid) any that outlive ``grace``.

    loky's resource trackers are excepted: each exits when this process does (its pipe closes).
    """
    def leftovers() -> dict[int, str]:
        return {pid: cmd for pid, cmd in descendants(os.getpid()).items() if "resource_tracker" not in cmd}

    deadline = time.monotonic() + grace
    alive = leftovers()
    while alive and time.monotonic() < deadline:
        time.sleep(0.05)
        alive = leftovers()
    for pid in alive:
        try:
            os.kill(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
    return {"killed_after_grace": {str(p): c for p, c in alive.items()}}


def run_child(command: list[str], timeout: float, what: str) -> tuple[dict[str, Any], float]:
    """Run a benchmark's child interpreter in a session of its own: the JSON object its last
    line of stdout prints, and the wall time. A child over ``timeout`` is killed, with its
    process group (its workers), and so is whatever it leaves running; a failure ends the run."""
    import subprocess

    t0 = time.perf_counter()
    child = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             start_new_session=True)
    try:
        out, err = child.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(child.pid, signal.SIGKILL)
        child.communicate()
        raise SystemExit(f"{what} took over {timeout} s") from None
    total = time.perf_counter() - t0
    try:  # the child's workers, if any were started, leave with it
        os.killpg(child.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    if child.returncode != 0:
        raise SystemExit(f"{what} failed ({child.returncode}):\n{err[-3000:]}")
    got: dict[str, Any] = json.loads(out.splitlines()[-1])
    return got, total


def kill_groups(procs: list[Any], leftovers: list[int]) -> None:
    """SIGKILL the process group of each of ``procs`` (started with ``start_new_session``: a
    peer that exited may leave its pool's workers), then wait up to 5 s for each group to
    empty; the pid of a group that does not is appended to ``leftovers``."""
    import subprocess

    for proc in procs:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
    deadline = time.monotonic() + 5
    for proc in procs:  # wait until each group is empty (killed workers get reaped)
        while time.monotonic() < deadline:
            try:
                os.killpg(proc.pid, 0)
            except (ProcessLookupError, PermissionError):
                break
            time.sleep(0.01)
        else:
            leftovers.append(proc.pid)
