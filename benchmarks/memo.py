"""Memoization latency: pythagoras's decorator and pythagoras.Memory against joblib.Memory (and
diskcache), same disk.

Run from the repository root, either way::

    .venv/bin/python -m benchmarks.memo
    .venv/bin/python benchmarks/memo.py --json /tmp/memo.json

Figures, each the median over ``--repeat`` timed batches of one call style after a warm-up, the
batches of pythagoras and of its peer interleaved; every result is dropped as soon as it returns:

- ``small_hit``  -- a stored call ``square(x=3)``: µs per call;
- ``array_hit``  -- a stored call ``double(a=<1 MiB float64 array>)`` whose result is a 1 MiB array;
- ``small_miss`` -- ``increment(x=<new int>)``: every call has a new argument value, so every call
  computes and stores a new record;
- ``memory_*`` -- the same three through ``pythagoras.memory.Memory(...).cache(f)`` (joblib's API
  over pythagoras's records; a miss also writes the call's small metadata record).

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
import itertools
import shutil
import statistics
import sys
import tempfile
import time
import timeit
from collections.abc import Callable
from pathlib import Path
from typing import Any

try:
    from ._report import loadavg, machine, print_load, version, write_json
except ImportError:  # run as a script: benchmarks/NAME.py
    from _report import loadavg, machine, print_load, version, write_json  # type: ignore[import-not-found,no-redef]

import numpy as np

# -- the memoized functions ---------------------------------------------------------------------
# Plain defs in this file: pythagoras identifies a function by its source. They read no globals,
# so the identity pythagoras takes at each call covers the function's own code only. The same
# function objects are handed to every library.


def square(*, x: int) -> int:
    return x * x


def double(*, a: np.ndarray) -> np.ndarray:
    return a * 2.0


def increment(*, x: int) -> int:
    return x + 1


# -- what is measured ---------------------------------------------------------------------------

ARRAY_BYTES = 1 << 20  # 1 MiB of float64: 131,072 elements
SMALL_ARG = 3
MISS_START = 10**9  # misses count up from here; each library has its own counter and folder

GOALS = {  # pythagoras / peer, at most
    "small_hit": 0.25,
    "array_hit": 0.10,
    "small_miss": 0.50,
    "memory_small_hit": 0.25,
    "memory_array_hit": 0.10,
    "memory_small_miss": 0.50,
}

LABELS = {
    "small_hit": "small hit (int arg)",
    "array_hit": "1 MiB hit (array arg+result)",
    "small_miss": "small miss (new int arg)",
    "memory_small_hit": "Memory: small hit",
    "memory_array_hit": "Memory: 1 MiB hit",
    "memory_small_miss": "Memory: small miss",
}

DEFAULT_JSON = Path(__file__).resolve().parent / "results" / "memo.json"


def _calibrated(timer: timeit.Timer, *, batch_s: float, warmup_s: float) -> int:
    """Warm ``timer`` up for at least ``warmup_s`` and return the calls in a ~``batch_s`` batch."""
    number, spent = 1, 0.0
    while True:
        elapsed = timer.timeit(number)
        spent += elapsed
        if spent >= warmup_s and elapsed > 0.02:
            return max(3, round(batch_s * number / elapsed))
        number *= 2


def _timed_pair(ours: tuple[str, dict[str, Any]], theirs: tuple[str, dict[str, Any]], *,
                repeat: int, batch_s: float, warmup_s: float) -> tuple[dict[str, Any], dict[str, Any]]:
    """Per-call times of two statements, their timed batches interleaved (A B A B ...).

    Interleaving makes a slow spell of the machine or its disk fall on both sides of a ratio.
    timeit turns the garbage collector off during each batch, for both sides alike.
    """
    timers = [timeit.Timer(stmt, globals=env) for stmt, env in (ours, theirs)]
    numbers = [_calibrated(t, batch_s=batch_s, warmup_s=warmup_s) for t in timers]
    per_call: list[list[float]] = [[], []]
    for _ in range(repeat):
        for side, (timer, number) in enumerate(zip(timers, numbers)):
            per_call[side].append(timer.timeit(number) / number)
    return tuple(  # type: ignore[return-value]
        {
            "median_us": statistics.median(times) * 1e6,
            "min_us": min(times) * 1e6,
            "max_us": max(times) * 1e6,
            "calls_per_batch": number,
            "batches": repeat,
        }
        for times, number in zip(per_call, numbers)
    )


def _hash_reference(array: np.ndarray) -> dict[str, float]:
    """µs to hash the 1 MiB argument's buffer: xxh3-128 (what pythagoras uses) and the usual others."""
    import hashlib

    import xxhash

    hashers: dict[str, Callable[[Any], Any]] = {
        "xxh3_128": xxhash.xxh3_128_digest,
        "md5 (joblib's)": lambda b: hashlib.md5(b).digest(),
        "sha256": lambda b: hashlib.sha256(b).digest(),
        "blake2b": lambda b: hashlib.blake2b(b).digest(),
    }
    try:
        import blake3  # type: ignore[import-not-found]
    except ImportError:
        pass
    else:
        hashers["blake3"] = lambda b: blake3.blake3(b).digest()
    buffer = array.data
    result = {}
    for name, hasher in hashers.items():
        number = 20
        times = timeit.repeat(lambda: hasher(buffer), number=number, repeat=5)
        result[name] = round(statistics.median(times) / number * 1e6, 1)
    return result



def _make_array() -> np.ndarray:
    a = np.random.default_rng(0).random(ARRAY_BYTES // 8)
    assert a.nbytes == ARRAY_BYTES
    return a


class _Libraries:
    """The memoized functions of each library, each library on its own folder under ``root``."""

    def __init__(self, root: Path) -> None:
        from joblib import Memory  # type: ignore[import-untyped]

        from pythagoras import SharedStorage_P2P_Cloud
        from pythagoras.memory import Memory as PythagorasMemory

        self.cloud = SharedStorage_P2P_Cloud(shared_dir_name=root / "pythagoras")
        self.py = {f.__name__: self.cloud.add_pure_function(f) for f in (square, double, increment)}
        self.pm = {f.__name__: PythagorasMemory(root / "pythagoras-memory", verbose=0).cache(f)
                   for f in (square, double, increment)}
        self.memory = Memory(location=root / "joblib", verbose=0, mmap_mode=None)
        self.jl = {f.__name__: self.memory.cache(f) for f in (square, double, increment)}
        try:
            import diskcache  # type: ignore[import-untyped]
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
    for lib, f in (("pythagoras", libs.py), ("pythagoras.Memory", libs.pm), ("joblib", libs.jl)):
        if f["square"](x=SMALL_ARG) != SMALL_ARG * SMALL_ARG:
            raise SystemExit(f"{lib}: square(x={SMALL_ARG}) returned a wrong value")
        if not np.array_equal(f["double"](a=array), expected):
            raise SystemExit(f"{lib}: double(a=...) returned a wrong value")
    if not (libs.py["square"].is_stored(x=SMALL_ARG) and libs.py["double"].is_stored(a=array)):
        raise SystemExit("pythagoras: the hit calls are not stored; the hit figures would be misses")
    for lib, f in (("pythagoras.Memory", libs.pm), ("joblib", libs.jl)):
        if not (f["square"].check_call_in_cache(x=SMALL_ARG) and f["double"].check_call_in_cache(a=array)):
            raise SystemExit(f"{lib}: the hit calls are not cached; the hit figures would be misses")
    if (libs.py["increment"].is_stored(x=MISS_START) or libs.pm["increment"].check_call_in_cache(x=MISS_START)
            or libs.jl["increment"].check_call_in_cache(x=MISS_START)):
        raise SystemExit("the miss arguments are already stored; use an empty folder")
    if libs.dc_square is not None and libs.dc_cache is not None:
        libs.dc_square(x=SMALL_ARG)
        if libs.dc_square.__cache_key__(x=SMALL_ARG) not in libs.dc_cache:
            raise SystemExit("diskcache: square(x=3) is not cached")


def _rows(libs: _Libraries, array: np.ndarray, timing: dict[str, Any]) -> list[dict[str, Any]]:
    small, big = {"x": SMALL_ARG}, {"a": array}
    specs: list[tuple[str, str, str, Callable[..., Any], Callable[..., Any], dict[str, Any]]] = [
        ("small_hit", "joblib.Memory", "f(x=x)", libs.py["square"], libs.jl["square"], small),
        ("array_hit", "joblib.Memory", "f(a=a)", libs.py["double"], libs.jl["double"], big),
        ("memory_small_hit", "joblib.Memory", "f(x=x)", libs.pm["square"], libs.jl["square"], small),
        ("memory_array_hit", "joblib.Memory", "f(a=a)", libs.pm["double"], libs.jl["double"], big),
    ]
    if libs.dc_square is not None:
        specs.append(("small_hit", "diskcache.Cache.memoize", "f(x=x)", libs.py["square"], libs.dc_square, small))
    rows = []
    for figure, peer, stmt, py_f, peer_f, env in specs:
        ours, theirs = _timed_pair((stmt, {"f": py_f, **env}), (stmt, {"f": peer_f, **env}), **timing)
        rows.append(_row(figure, peer, ours, theirs))
    # Misses: every call, warm-up included, takes the next value of its library's own counter.
    miss = "f(x=next(it))"
    joblib_next = itertools.count(MISS_START)
    ours, theirs = _timed_pair((miss, {"f": libs.py["increment"], "it": itertools.count(MISS_START)}),
                               (miss, {"f": libs.jl["increment"], "it": joblib_next}), **timing)
    rows.append(_row("small_miss", "joblib.Memory", ours, theirs))
    # joblib's counter goes on from where the decorator's row left it: each call is still new.
    ours, theirs = _timed_pair((miss, {"f": libs.pm["increment"], "it": itertools.count(MISS_START)}),
                               (miss, {"f": libs.jl["increment"], "it": joblib_next}), **timing)
    rows.append(_row("memory_small_miss", "joblib.Memory", ours, theirs))
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


def _print_table(rows: list[dict[str, Any]], root: Path, *, kept: bool) -> None:
    print(f"memoization latency, median µs per call; stores in {root} ({'kept' if kept else 'removed'})")
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
        "memory_small_hit": ("f(x=x)", {"f": libs.pm["square"], "x": SMALL_ARG}),
        "memory_array_hit": ("f(a=a)", {"f": libs.pm["double"], "a": array}),
        "memory_small_miss": ("f(x=next(it))", {"f": libs.pm["increment"], "it": itertools.count(MISS_START)}),
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
    parser.add_argument("--repeat", type=int, default=9, help="timed batches per side of a figure (default: 9)")
    parser.add_argument("--batch-seconds", type=float, default=0.2,
                        help="approximate length of one timed batch (default: 0.2)")
    parser.add_argument("--warmup-seconds", type=float, default=0.15,
                        help="minimum warm-up per figure (default: 0.15)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    parser.add_argument("--profile", choices=sorted(GOALS), default=None,
                        help="profile this pythagoras figure with cProfile instead of benchmarking")
    args = parser.parse_args(argv)

    if args.dir is not None:
        args.dir.mkdir(parents=True, exist_ok=True)
    root = Path(tempfile.mkdtemp(prefix="pythagoras-bench-memo-", dir=args.dir))
    load_before = loadavg()
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
            timing: dict[str, Any] = {
                "repeat": args.repeat, "batch_s": args.batch_seconds, "warmup_s": args.warmup_seconds,
            }
            rows = _rows(libs, array, timing)
            hashes = _hash_reference(array)
        finally:
            libs.close()
    finally:
        if args.keep:
            print(f"kept {root}", file=sys.stderr)
        else:
            shutil.rmtree(root, ignore_errors=True)
    wall = time.perf_counter() - started
    load_after = loadavg()

    _print_table(rows, root, kept=args.keep)
    print("hashing the 1 MiB argument: " + ", ".join(f"{k} {v:.0f} µs" for k, v in hashes.items()))
    if not any(r["peer"].startswith("diskcache") for r in rows):
        print("diskcache is not installed: its row is skipped (pip install diskcache to add it)")
    print(f"{args.repeat} interleaved batches of ~{args.batch_seconds} s per side, medians")
    print_load(wall, load_before, load_after, "the disk-bound miss figures are the first to suffer")

    result = {
        "benchmark": "memo",
        "unit": "microseconds per call (median over batches)",
        "when": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": machine(load_before, load_after),
        "versions": {d: version(d) for d in ("pythagoras", "joblib", "numpy", "cloudpickle", "xxhash", "diskcache")},
        "settings": {"folder": str(root), "array_bytes": ARRAY_BYTES, "wall_seconds": round(wall, 2), **timing},
        "goals": GOALS,
        "rows": rows,
        "hash_1mib_us": hashes,
    }
    write_json(args.json, result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
