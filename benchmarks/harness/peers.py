"""The peers: real peer processes on one location, and the sleeping calls they share.

The machine may have 2 cores, so the calls *sleep* (:func:`nap`): many peers fit. Every
execution appends a line to the file named by ``PYTHAGORAS_BENCH_EXECUTIONS`` (a pure function
must not read state it mutates, so the count lives outside it): duplicates, who ran what, and
the gaps between one peer's calls come from that log.

Two kinds of peer:
- :class:`PeerRun`: ``count`` processes, each with its own ``PythagorasExecutor(max_workers=1)``,
  warmed one at a time (one call of its own, so each has started its pool), released together
  by a start file; each maps the same calls and reports when its map returned.
- :func:`workers`: ``count`` ``pythagoras worker LOCATION --max-workers 1`` processes that serve
  a client of this process.
Each is in a session of its own and is killed with its group at the end.
"""

from __future__ import annotations

import itertools
import os
import secrets
import signal
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Self

from . import processes
from .timing import stats

LOG_VARIABLE = "PYTHAGORAS_BENCH_EXECUTIONS"
TIMEOUT = 120.0  # seconds any one wait may take before a figure gives up


def nap(i: int, seconds: float, salt: str = "") -> int:
    """A call that sleeps; it logs ``salt i group pid start`` where the environment says."""
    path = os.environ.get("PYTHAGORAS_BENCH_EXECUTIONS")
    if path:
        with open(path, "a") as log:  # one short O_APPEND write per execution
            log.write(f"{salt or '-'} {i} {os.getpgrp()} {os.getpid()} {time.time():.6f}\n")
    time.sleep(seconds)
    return i


def executions(log: Path, salt: str | None = None) -> list[tuple[int, int, float]]:
    """(call, process group, start time) of every execution logged (of one salt's calls)."""
    try:
        lines = log.read_text().splitlines()
    except FileNotFoundError:
        return []
    return [(int(p[1]), int(p[2]), float(p[4])) for p in map(str.split, lines)
            if len(p) == 5 and (salt is None or p[0] == salt)]


def tally(runs: list[tuple[int, int, float]], seconds: float, started: float) -> dict[str, Any]:
    """Duplicates, executions per group, the last execution's end and the gaps between one
    group's consecutive calls (settling one call, picking the next), from the log."""
    runs = [r for r in runs if r[0] >= 0]  # warm-up calls are negative
    counts, groups = Counter(i for i, _, _ in runs), Counter(g for _, g, _ in runs)
    gaps = []
    for group in groups:
        starts = sorted(at for _, g, at in runs if g == group)
        gaps += [later - (earlier + seconds) for earlier, later in itertools.pairwise(starts)]
    ended = round(max(at for _, _, at in runs) + seconds - started, 4) if runs else None
    return {"executions": len(runs), "executed_calls": len(counts),
            "duplicates": sum(n - 1 for n in counts.values()),
            "repeated_calls": sorted(i for i, n in counts.items() if n > 1),
            "executed_per_peer": sorted(groups.values(), reverse=True),
            "last_execution_ended_s": ended,
            "gap_between_calls": stats(gaps) if gaps else None}


def peer_main(config: dict[str, Any]) -> dict[str, Any]:
    """One peer process: its executor; a warm-up call when told; the map at the start file."""
    from pythagoras.executor import PythagorasExecutor

    control, index = Path(config["control"]), config["index"]
    ex = PythagorasExecutor(config["location"], max_workers=1, lease_timeout=config["lease_timeout"],
                            storage_options=config["options"])
    try:
        (control / f"loaded-{index}").touch()
        processes.wait_for(control / f"warm-{index}", timeout=TIMEOUT)
        ex.submit(nap, -1 - index, 0.0, f"warm-{config['salt']}").result(timeout=TIMEOUT)
        (control / f"ready-{index}").touch()
        processes.wait_for(control / "start", timeout=TIMEOUT, interval=0.0005)
        started = time.time()
        xs, n = list(range(config["calls"])), config["calls"]
        values = list(ex.map(nap, xs, [config["seconds"]] * n, [config["salt"]] * n, timeout=TIMEOUT))
        return {"index": index, "started": started, "ended": time.time(), "values_ok": values == xs}
    finally:
        ex.shutdown(wait=True, cancel_futures=True)


class PeerRun:
    """``count`` peer processes (:func:`peer_main`) that map the same ``calls`` on ``location``."""

    def __init__(self, folder: Path, location: str, *, count: int, calls: int, seconds: float,
                 options: dict[str, Any] | None = None, lease_timeout: float = 30.0) -> None:
        self.control, self.log = folder / "control", folder / "executions.log"
        self.control.mkdir(parents=True)
        self.calls, self.seconds, self.salt = calls, seconds, secrets.token_hex(4)
        self.config = {"location": location, "options": options, "calls": calls, "seconds": seconds,
                       "lease_timeout": lease_timeout, "salt": self.salt, "control": str(self.control)}
        self.procs: list[subprocess.Popen[Any]] = []
        self.outputs = [folder / f"peer-{i}.out" for i in range(count)]
        self.started = 0.0

    def __enter__(self) -> Self:
        env = processes.environment(**{LOG_VARIABLE: str(self.log)})
        for index, path in enumerate(self.outputs):
            args = processes.call_args("benchmarks.harness.peers:peer_main", {**self.config, "index": index})
            with open(path, "w") as out:
                self.procs.append(processes.start(args, env=env, out=out))
        for index in range(len(self.procs)):  # each starts its pool alone, one after the other
            processes.wait_for(self.control / f"loaded-{index}", timeout=TIMEOUT, procs=self.procs)
            (self.control / f"warm-{index}").touch()
            processes.wait_for(self.control / f"ready-{index}", timeout=TIMEOUT, procs=self.procs)
        return self

    def __exit__(self, *exc: object) -> None:
        for proc in self.procs:
            processes.kill_group(proc)

    def start(self) -> float:
        self.started = time.time()
        (self.control / "start").touch()
        return self.started

    def kill(self, index: int) -> float:
        """SIGKILL a peer's group (the peer and its pool); the moment it returned."""
        os.killpg(self.procs[index].pid, signal.SIGKILL)
        return time.time()

    def reports(self, indices: list[int] | None = None) -> list[dict[str, Any]]:
        """Each peer's report (its last line of output), once it exited."""
        got = []
        for index in range(len(self.procs)) if indices is None else indices:
            self.procs[index].wait(timeout=TIMEOUT)
            text = self.outputs[index].read_text(errors="replace")
            if self.procs[index].returncode != 0:
                raise RuntimeError(f"peer {index} exited with {self.procs[index].returncode}:\n"
                                   f"{text[-3000:]}")
            got.append(processes.last_json(text))
        return got

    def executions(self) -> list[tuple[int, int, float]]:
        return executions(self.log, self.salt)

    def outcome(self, reports: list[dict[str, Any]]) -> dict[str, Any]:
        """Wall time from the start file until the last map returned, the ideal, the efficiency
        and the log's tally."""
        wall = max(r["ended"] for r in reports) - self.started
        ideal = self.calls * self.seconds / len(self.procs)
        return {"peers": len(self.procs), "calls": self.calls, "seconds_per_call": self.seconds,
                "ideal_s": ideal, "wall_s": round(wall, 4), "efficiency": round(ideal / wall, 4),
                "first_peer_done_s": round(min(r["ended"] for r in reports) - self.started, 4),
                "values_ok": all(r["values_ok"] for r in reports),
                **tally(self.executions(), self.seconds, self.started)}


def shared(folder: Path, location: str, *, peers: int, calls: int, seconds: float,
           options: dict[str, Any] | None = None) -> dict[str, Any]:
    """``peers`` peer processes map the same sleeping calls, released together: the outcome."""
    with PeerRun(folder, location, count=peers, calls=calls, seconds=seconds, options=options) as run:
        run.start()
        return run.outcome(run.reports())


@contextmanager
def workers(store: Path, count: int, log: Path) -> Iterator[list[subprocess.Popen[Any]]]:
    """``count`` ``pythagoras worker`` processes serving ``store``, each announced (its peer
    record written); stopped (SIGTERM, then their groups killed) after the block."""
    env = processes.environment(**{LOG_VARIABLE: str(log)})
    procs = [processes.start(["-m", "pythagoras", "worker", str(store), "--max-workers", "1"], env=env)
             for _ in range(count)]
    try:
        deadline = time.monotonic() + TIMEOUT
        while _announced(store) < count:
            if any(p.poll() is not None for p in procs):
                raise RuntimeError("a pythagoras worker exited before it announced itself")
            if time.monotonic() > deadline:
                raise TimeoutError(f"only {_announced(store)} of {count} workers announced themselves")
            time.sleep(0.01)
        yield procs
    finally:
        processes.stop(procs)


def _announced(store: Path) -> int:
    try:
        return sum(1 for name in os.listdir(store / "peers") if not name.startswith("."))
    except FileNotFoundError:
        return 0
