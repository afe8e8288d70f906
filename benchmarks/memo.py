"""Memoization latency: pythagoras's decorator against joblib.Memory (and diskcache), same disk.

Run from the repository root, either way::

    .venv/bin/python -m benchmarks.memo
    .venv/bin/python benchmarks/memo.py --json /tmp/memo.json

Figures, each the median over ``--repeat`` timed batches of one call style, after a warm-up:

- ``small_hit``  -- a stored call ``square(x=3)``: µs per call;
- ``array_hit``  -- a stored call ``double(a=<1 MiB float64 array>)`` whose result is a 1 MiB array;
- ``small_miss`` -- ``increment(x=<new int>)``: every call has a new argument value, so every call
  computes and stores a new record.

Each library gets its own empty folder under one temporary directory (``--dir`` chooses where it
is made, to measure another disk or a network mount). joblib.Memory runs with ``verbose=0`` and
``mmap_mode=None``, so a hit returns an in-memory array as pythagoras does. diskcache's
``Cache.memoize`` is measured for the small hit when diskcache is installed.

The goals (pythagoras/peer) are printed beside the ratios; they are not asserted: this is a
benchmark, not a test. ``--profile FIGURE`` runs that pythagoras figure under cProfile instead.
"""

from __future__ import annotations

import argparse
import datetime
import gc
import importlib.metadata
import itertools
import json
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
import timeit
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

# -- the memoized functions ---------------------------------------------------------------------
# Plain defs in this file: pythagoras identifies a function by its source. They read no globals,
# so the identity pythagoras takes at each call covers the function's own code only. The same
# function objects are handed to every library.


def square(*, x):
    return x * x


def double(*, a):
    return a * 2.0


def increment(*, x):
    return x + 1


# -- what is measured ---------------------------------------------------------------------------

ARRAY_BYTES = 1 << 20  # 1 MiB of float64: 131,072 elements
SMALL_ARG = 3
MISS_START = 10**9  # misses count up from here; each library has its own counter and folder

GOALS = {  # pythagoras / peer, at most
    "small_hit": 0.25,
    "array_hit": 0.10,
    "small_miss": 0.50,
}

LABELS = {
    "small_hit": "small hit (int arg)",
    "array_hit": "1 MiB hit (array arg+result)",
    "small_miss": "small miss (new int arg)",
}

DEFAULT_JSON = Path(__file__).resolve().parent / "results" / "memo.json"


def _timed(stmt: str, env: dict[str, Any], *, repeat: int, batch_s: float, warmup_s: float) -> dict[str, Any]:
    """Per-call seconds of ``stmt``: warm up, size a batch to ~batch_s, time ``repeat`` batches."""
    timer = timeit.Timer(stmt, globals=env)
    number, spent = 1, 0.0
    while True:  # warm-up, which also estimates the cost of one call
        elapsed = timer.timeit(number)
        spent += elapsed
        if spent >= warmup_s and elapsed > 0.02:
            break
        number *= 2
    number = max(3, round(batch_s * number / elapsed))
    per_call = [t / number for t in timer.repeat(repeat=repeat, number=number)]
    return {
        "median_us": statistics.median(per_call) * 1e6,
        "min_us": min(per_call) * 1e6,
        "max_us": max(per_call) * 1e6,
        "calls_per_batch": number,
        "batches": repeat,
    }


def _version(dist: str) -> str | None:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def _make_array() -> np.ndarray:
    a = np.random.default_rng(0).random(ARRAY_BYTES // 8)
    assert a.nbytes == ARRAY_BYTES
    return a


class _Libraries:
    """The memoized functions of each library, each library on its own folder under ``root``."""

    def __init__(self, root: Path) -> None:
        from joblib import Memory

        from pythagoras import SharedStorage_P2P_Cloud

        self.cloud = SharedStorage_P2P_Cloud(shared_dir_name=root / "pythagoras")
        self.py = {f.__name__: self.cloud.add_pure_function(f) for f in (square, double, increment)}
        self.memory = Memory(location=root / "joblib", verbose=0, mmap_mode=None)
        self.jl = {f.__name__: self.memory.cache(f) for f in (square, double, increment)}
        try:
            import diskcache
        except ImportError:
            self.dc_cache = None
            self.dc_square = None
        else:
            self.dc_cache = diskcache.Cache(str(root / "diskcache"))
            self.dc_square = self.dc_cache.memoize()(square)

    def close(self) -> None:
        if self.dc_cache is not None:
            self.dc_cache.close()


def _check(libs: _Libraries, array: np.ndarray) -> None:
    """Fill the stores with the hits' records and check they are hits; never about timings."""
    expected = array * 2.0
    for lib, f in (("pythagoras", libs.py), ("joblib", libs.jl)):
        if f["square"](x=SMALL_ARG) != SMALL_ARG * SMALL_ARG:
            raise SystemExit(f"{lib}: square(x={SMALL_ARG}) returned a wrong value")
        if not np.array_equal(f["double"](a=array), expected):
            raise SystemExit(f"{lib}: double(a=...) returned a wrong value")
    if not (libs.py["square"].is_stored(x=SMALL_ARG) and libs.py["double"].is_stored(a=array)):
        raise SystemExit("pythagoras: the hit calls are not stored; the hit figures would be misses")
    if not (libs.jl["square"].check_call_in_cache(x=SMALL_ARG) and libs.jl["double"].check_call_in_cache(a=array)):
        raise SystemExit("joblib: the hit calls are not cached; the hit figures would be misses")
    if libs.py["increment"].is_stored(x=MISS_START) or libs.jl["increment"].check_call_in_cache(x=MISS_START):
        raise SystemExit("the miss arguments are already stored; use an empty folder")
    if libs.dc_square is not None:
        libs.dc_square(x=SMALL_ARG)
        if libs.dc_square.__cache_key__(x=SMALL_ARG) not in libs.dc_cache:
            raise SystemExit("diskcache: square(x=3) is not cached")


def _rows(libs: _Libraries, array: np.ndarray, timing: dict[str, float]) -> list[dict[str, Any]]:
    def measure(stmt: str, **env: Any) -> dict[str, Any]:
        return _timed(stmt, env, **timing)

    rows = []
    specs: list[tuple[str, str, str, Callable[..., Any], Callable[..., Any], dict[str, Any]]] = [
        ("small_hit", "joblib.Memory", "f(x=x)", libs.py["square"], libs.jl["square"], {"x": SMALL_ARG}),
        ("array_hit", "joblib.Memory", "f(a=a)", libs.py["double"], libs.jl["double"], {"a": array}),
    ]
    if libs.dc_square is not None:
        specs.append(("small_hit", "diskcache.Cache.memoize", "f(x=x)", libs.py["square"], libs.dc_square,
                      {"x": SMALL_ARG}))
    for figure, peer, stmt, py_f, peer_f, env in specs:
        rows.append(_row(figure, peer, measure(stmt, f=py_f, **env), measure(stmt, f=peer_f, **env)))
    # Misses: every call takes the next value of its own counter, warm-up included.
    py_miss = measure("f(x=next(it))", f=libs.py["increment"], it=itertools.count(MISS_START))
    jl_miss = measure("f(x=next(it))", f=libs.jl["increment"], it=itertools.count(MISS_START))
    rows.append(_row("small_miss", "joblib.Memory", py_miss, jl_miss))
    return rows


def _row(figure: str, peer: str, ours: dict[str, Any], theirs: dict[str, Any]) -> dict[str, Any]:
    ratio = ours["median_us"] / theirs["median_us"]
    goal = GOALS[figure] if peer == "joblib.Memory" else None
    return {
        "figure": figure,
        "description": LABELS[figure],
        "peer": peer,
        "pythagoras_us": round(ours["median_us"], 3),
        "peer_us": round(theirs["median_us"], 3),
        "ratio": round(ratio, 4),
        "goal_ratio_at_most": goal,
        "meets_goal": None if goal is None else ratio <= goal,
        "pythagoras_detail": ours,
        "peer_detail": theirs,
    }


def _print_table(rows: list[dict[str, Any]], root: Path) -> None:
    print(f"memoization latency, median µs per call, folders under {root}")
    head = f"{'figure':<30} {'pythagoras':>11}  {'peer':<24} {'peer':>11}  {'ratio':>8}  {'goal':>8}  met"
    print(head)
    print("-" * len(head))
    for r in rows:
        goal = f"<={r['goal_ratio_at_most']:.2f}x" if r["goal_ratio_at_most"] is not None else "-"
        met = {True: "yes", False: "NO", None: "-"}[r["meets_goal"]]
        print(f"{r['description']:<30} {r['pythagoras_us']:>8.1f} µs  {r['peer']:<24} "
              f"{r['peer_us']:>8.1f} µs  {r['ratio']:>7.3f}x  {goal:>8}  {met}")


def _profile(libs: _Libraries, array: np.ndarray, figure: str, seconds: float) -> None:
    """Run one pythagoras figure under cProfile for about ``seconds`` and print the top entries."""
    import cProfile
    import pstats

    stmt, env = {
        "small_hit": ("f(x=x)", {"f": libs.py["square"], "x": SMALL_ARG}),
        "array_hit": ("f(a=a)", {"f": libs.py["double"], "a": array}),
        "small_miss": ("f(x=next(it))", {"f": libs.py["increment"], "it": itertools.count(MISS_START)}),
    }[figure]
    timer = timeit.Timer(stmt, globals=env)
    per_call = timer.timeit(50) / 50
    number = max(50, int(seconds / per_call))
    profiler = cProfile.Profile()
    profiler.enable()
    timer.timeit(number)
    profiler.disable()
    print(f"cProfile of pythagoras {figure}: {number} calls (~{per_call * 1e6:.1f} µs each unprofiled)")
    pstats.Stats(profiler).strip_dirs().sort_stats("tottime").print_stats(25)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.memo", description=__doc__.split("\n")[0])
    parser.add_argument("--json", type=Path, default=DEFAULT_JSON, metavar="PATH",
                        help=f"where to write the results (default: {DEFAULT_JSON})")
    parser.add_argument("--dir", type=Path, default=None,
                        help="make the temporary folder under this directory (default: the system temp dir)")
    parser.add_argument("--repeat", type=int, default=7, help="timed batches per figure (default: 7)")
    parser.add_argument("--batch-seconds", type=float, default=0.25,
                        help="approximate length of one timed batch (default: 0.25)")
    parser.add_argument("--warmup-seconds", type=float, default=0.15,
                        help="minimum warm-up per figure (default: 0.15)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    parser.add_argument("--profile", choices=sorted(GOALS), default=None,
                        help="profile this pythagoras figure with cProfile instead of benchmarking")
    args = parser.parse_args(argv)

    if args.dir is not None:
        args.dir.mkdir(parents=True, exist_ok=True)
    root = Path(tempfile.mkdtemp(prefix="pythagoras-bench-memo-", dir=args.dir))
    started = time.perf_counter()
    try:
        libs = _Libraries(root)
        try:
            array = _make_array()
            _check(libs, array)
            if args.profile:
                _profile(libs, array, args.profile, seconds=3.0)
                return 0
            gc.collect()
            timing = {"repeat": args.repeat, "batch_s": args.batch_seconds, "warmup_s": args.warmup_seconds}
            rows = _rows(libs, array, timing)
        finally:
            libs.close()
    finally:
        if args.keep:
            print(f"kept {root}", file=sys.stderr)
        else:
            shutil.rmtree(root, ignore_errors=True)
    wall = time.perf_counter() - started

    _print_table(rows, root)
    if _version("diskcache") is None:
        print("diskcache is not installed: its row is skipped (pip install diskcache to add it)")
    print(f"total {wall:.1f} s; {args.repeat} batches of ~{args.batch_seconds} s per figure, medians")

    result = {
        "benchmark": "memo",
        "unit": "microseconds per call (median over batches)",
        "when": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": {
            "python": platform.python_version(),
            "implementation": platform.python_implementation(),
            "platform": platform.platform(),
            "cpu_count": os.cpu_count(),
        },
        "versions": {d: _version(d) for d in ("pythagoras", "joblib", "numpy", "cloudpickle", "xxhash", "diskcache")},
        "settings": {"folder": str(root), "array_bytes": ARRAY_BYTES, "wall_seconds": round(wall, 2), **timing},
        "goals": GOALS,
        "rows": rows,
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
