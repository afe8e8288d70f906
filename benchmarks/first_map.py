"""A user's first map, cold and warm: PythagorasExecutor beside loky's map, pool start included.

    python -m benchmarks first_map [--quick] [--set repeat=5]

Both sides have 2 worker processes and map the trivial ``inc(x) = x + 1`` over ``calls`` new
arguments (misses: pythagoras stores every call; loky memoizes nothing). Rows:
- cold first map: from ``PythagorasExecutor(FOLDER, max_workers=2)`` on a fresh folder to the
  end of ``list(ex.map(inc, xs))`` (chunks auto-sized), beside loky from
  ``get_reusable_executor(2)`` after the last one was shut down to the end of
  ``list(ex.map(inc, xs))`` (chunksize 1, its default): each side starts its pool inside the
  figure; calls/s, median of ``repeat`` runs; goal >= 0.4x;
- warm map: a second map of new arguments on the same executors, right after; goal >= 0.5x;
- open and close: ``PythagorasExecutor(...)`` then ``shutdown()`` at once, and until its
  workers are gone; beside loky's executor opened, given one call (it starts its workers
  at the first) and shut down.
Runs are interleaved (pythagoras, loky, pythagoras, ...), each after the workers of the one
before are gone; the 1-minute load average is noted with each run.
"""

from __future__ import annotations

import gc
import os
import statistics
import time
from pathlib import Path
from typing import Any

from .harness import Result, Row
from .harness.processes import descendants
from .harness.report import loadavg
from .harness.timing import fresh

SETTINGS = {"full": {"calls": 2000, "repeat": 3, "opens": 5},
            "quick": {"calls": 500, "repeat": 1, "opens": 2}}
WORKERS = 2
GONE = 30.0  # seconds to wait for a side's workers to exit, at most


def inc(x: int) -> int:
    return x + 1


def _workers() -> set[int]:
    """This process's worker processes (loky's resource tracker, which outlives pools, aside)."""
    return {pid for pid, command in descendants(os.getpid()).items()
            if "resource_tracker" not in command}


def _until_gone(pids: set[int]) -> float:
    """Seconds until none of ``pids`` is alive (at most GONE)."""
    t0 = time.perf_counter()
    while pids & _workers() and time.perf_counter() - t0 < GONE:
        time.sleep(0.002)
    return time.perf_counter() - t0


def _checked(values: list[int], xs: list[int]) -> None:
    if values != [x + 1 for x in xs]:
        raise SystemExit("a map returned wrong values")


def _pythagoras(root: Path, calls: int) -> dict[str, float]:
    """Calls/s of a cold first map (executor opened on a fresh folder) and of a warm one."""
    from pythagoras.executor import PythagorasExecutor

    cold, warm = fresh(calls), fresh(calls)
    gc.collect()
    t0 = time.perf_counter()
    ex = PythagorasExecutor(root / f"swarm-{time.perf_counter_ns()}", max_workers=WORKERS)
    _checked(list(ex.map(inc, cold)), cold)
    t1 = time.perf_counter()
    _checked(list(ex.map(inc, warm)), warm)
    t2 = time.perf_counter()
    ex.shutdown(wait=True)
    return {"cold": calls / (t1 - t0), "warm": calls / (t2 - t1)}


def _loky(calls: int) -> dict[str, float]:
    from joblib.externals.loky import get_reusable_executor  # type: ignore[import-untyped]

    cold, warm = fresh(calls), fresh(calls)
    gc.collect()
    t0 = time.perf_counter()
    ex = get_reusable_executor(max_workers=WORKERS)
    _checked(list(ex.map(inc, cold)), cold)
    t1 = time.perf_counter()
    _checked(list(ex.map(inc, warm)), warm)
    t2 = time.perf_counter()
    ex.shutdown(wait=True, kill_workers=True)
    return {"cold": calls / (t1 - t0), "warm": calls / (t2 - t1)}


def _open_close(root: Path) -> dict[str, float]:
    """Milliseconds to open a pythagoras executor and shut it down at once, and until its
    workers are gone; the same for loky, given one call."""
    from joblib.externals.loky import get_reusable_executor

    from pythagoras.executor import PythagorasExecutor

    before = _workers()
    t0 = time.perf_counter()
    ex = PythagorasExecutor(root / f"swarm-{time.perf_counter_ns()}", max_workers=WORKERS)
    ex.shutdown(wait=True)
    t1 = time.perf_counter()
    gone = _until_gone(_workers() - before)
    t2 = time.perf_counter()
    loky = get_reusable_executor(max_workers=WORKERS)
    loky.submit(inc, 1).result()
    loky.shutdown(wait=True, kill_workers=True)
    t3 = time.perf_counter()
    return {"pythagoras": (t1 - t0) * 1e3, "pythagoras_gone": (t1 - t0 + gone) * 1e3,
            "loky": (t3 - t2) * 1e3}


def measure(root: Path, **p: Any) -> Result:
    # Imported before any clock starts, on both sides.
    from joblib.externals import loky  # type: ignore[import-untyped]  # noqa: F401

    import pythagoras.executor  # noqa: F401

    runs: dict[str, list[dict[str, float]]] = {"pythagoras": [], "loky": []}
    loads: list[float | None] = []
    for _ in range(p["repeat"]):
        for side in ("pythagoras", "loky"):
            _until_gone(_workers())
            loads.append(loadavg())
            runs[side].append(_pythagoras(root, p["calls"]) if side == "pythagoras" else _loky(p["calls"]))
    opens = []
    for _ in range(p["opens"]):
        _until_gone(_workers())
        opens.append(_open_close(root))

    def median(side: str, what: str) -> float:
        return round(statistics.median(r[what] for r in runs[side]), 1)

    def opened(what: str) -> float:
        return round(statistics.median(o[what] for o in opens), 2)

    n = f"{p['calls']:,}"
    rows = [Row(f"cold first map of {n} new", median("pythagoras", "cold"), "/s",
                "loky cold map chunksize=1", median("loky", "cold"), "ratio>=0.4"),
            Row(f"warm map of {n} new", median("pythagoras", "warm"), "/s",
                "loky warm map chunksize=1", median("loky", "warm"), "ratio>=0.5"),
            Row("open + close at once", opened("pythagoras"), "ms", "loky open, 1 call, close",
                opened("loky")),
            Row("  ... until its workers are gone", opened("pythagoras_gone"), "ms",
                "loky open, 1 call, close", opened("loky"))]
    notes = [f"runs (calls/s, cold/warm): pythagoras "
             f"{[(round(r['cold']), round(r['warm'])) for r in runs['pythagoras']]}, loky "
             f"{[(round(r['cold']), round(r['warm'])) for r in runs['loky']]}",
             f"1-min load before each run (pythagoras, loky, ...): {loads}"]
    return Result(rows, notes, {"runs": runs, "opens": opens, "loads": loads})
