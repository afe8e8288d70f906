"""Memoization latency: every front-end's hits, the decorator's and Memory's misses; peers
joblib.Memory and the floor.

    python -m benchmarks memo [--quick]

Each library memoizes the same functions on a folder of its own under one temporary directory.
Rows, each the median µs per call over interleaved timed batches (``timing.batches``):
a hit of ``square(x=3)``; a hit of ``double(a=<1 MiB float64 array>)`` whose result is a 1 MiB
array; a miss ``increment(x=<new int>)`` (every call computes and stores a new record). The hits
go through each front-end (``_front_ends.py``): the tutorial decorator, ``pythagoras.memory.Memory``,
``PythagorasExecutor.submit(f, ...).result()`` and ``Parallel(n_jobs=2)`` under the
``"pythagoras"`` joblib backend (µs per task of a run of 50 hits, whose 50 values live
together: its peers and floor then make a list of 50 values too), beside
``joblib.Memory(verbose=0, mmap_mode=None)`` (so a hit returns an in-memory array, as
pythagoras does), diskcache's ``Cache.memoize`` for the small hit where it is installed, and the
floor measured in the same batches: xxh3-128 of the argument, reading the record's file by its
path into a bytearray, checking its frame and loading the value (``_front_ends.floor``).
Goals: a 1 MiB hit on every front-end <= 0.1x joblib.Memory's and <= 1.5x the floor; the
decorator's and Memory's small hits <= 0.25x joblib.Memory's.
A note gives the µs to hash the 1 MiB argument with xxh3-128 (what pythagoras uses) beside md5
(joblib's), sha256, blake2b and blake3 where installed (cited in ``docs/identity.md``).
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import os
import statistics
import timeit
from pathlib import Path
from typing import Any

import numpy as np

from ._front_ends import TASKS, close_front_ends, executor_caller, floor, joblib_caller, record_path
from .harness import Result, Row
from .harness.timing import batches

SETTINGS = {"full": {"repeat": 9, "batch_s": 0.2, "warmup_s": 0.15},
            "quick": {"repeat": 3, "batch_s": 0.05, "warmup_s": 0.05}}
ARRAY_BYTES = 1 << 20
MISS_START = 10**9  # misses count up from here; each library has its own counter and folder
GOALS = {"hit, small int": "ratio<=0.25", "hit, 1 MiB array": "ratio<=0.1", "miss, small int": "ratio<=0.5",
         "floor": "ratio<=1.5"}
FRONT_ENDS = ("decorator", "Memory", "executor", "joblib backend")


# Plain defs: pythagoras identifies a function by its source; they read no globals.
def square(*, x: int) -> int:
    return x * x


def double(*, a: np.ndarray) -> np.ndarray:
    return a * 2.0


def increment(*, x: int) -> int:
    return x + 1


def _libraries(root: Path) -> dict[str, dict[str, Any]]:
    """Each library's memoized functions (each front-end's hit callers), by name, on a folder
    of its own."""
    from joblib import Memory  # type: ignore[import-untyped]

    from pythagoras import SharedStorage_P2P_Cloud
    from pythagoras.memory import Memory as PythagorasMemory

    functions, hits = (square, double, increment), (square, double)
    cloud = SharedStorage_P2P_Cloud(shared_dir_name=root / "pythagoras")
    memory = PythagorasMemory(root / "pythagoras-memory", verbose=0)
    joblib = Memory(location=root / "joblib", verbose=0, mmap_mode=None)
    libs: dict[str, dict[str, Any]] = {
        "decorator": {f.__name__: cloud.add_pure_function(f) for f in functions},
        "Memory": {f.__name__: memory.cache(f) for f in functions},
        "executor": {f.__name__: executor_caller(root / "pythagoras-executor", f) for f in hits},
        "joblib backend": {f.__name__: joblib_caller(root / "pythagoras-joblib", f) for f in hits},
        "joblib.Memory": {f.__name__: joblib.cache(f) for f in functions}}
    try:
        import diskcache  # type: ignore[import-untyped,import-not-found,unused-ignore]
    except ImportError:
        pass
    else:
        libs["diskcache.memoize"] = {"square": diskcache.Cache(str(root / "diskcache")).memoize()(square)}
    return libs


def _fill_and_check(libs: dict[str, dict[str, Any]], array: np.ndarray) -> None:
    """Store the hits' records and check every library returns the right values."""
    for name, f in libs.items():
        if f["square"](x=3) != 9 or ("double" in f and not np.array_equal(f["double"](a=array), array * 2.0)):
            raise SystemExit(f"{name} returned a wrong value")
    if not (libs["decorator"]["square"].is_stored(x=3) and libs["decorator"]["double"].is_stored(a=array)):
        raise SystemExit("the decorator's hit calls are not stored: the hit rows would be misses")


def _floor_env(libs: dict[str, dict[str, Any]], name: str, argument: Any) -> dict[str, Any]:
    """The floor's statement globals for the hit of ``name``: its record in Memory's folder."""
    memorized = libs["Memory"][name]
    kwargs = {"x": argument} if name == "square" else {"a": argument}
    path = record_path(memorized.store_backend.location, memorized._address((), kwargs))
    if not os.path.isfile(path):
        raise SystemExit(f"no record at {path}: the floor would measure nothing")
    return {"f": floor, "path": path, "arg": argument}


def _hit_rows(libs: dict[str, dict[str, Any]], array: np.ndarray, settings: dict[str, Any],
              raw: dict[str, Any]) -> list[Row]:
    """Each front-end's hits beside joblib.Memory's (and diskcache's) and beside the floor."""
    rows = []
    cases = [("hit, small int", "f(x=3)", "square", 3), ("hit, 1 MiB array", "f(a=a)", "double", array)]
    for label, stmt, name, argument in cases:
        floor_env = _floor_env(libs, name, argument)
        for front in FRONT_ENDS:
            peers = [p for p in ("joblib.Memory", "diskcache.memoize") if name in libs.get(p, {})]
            sides = {lib: (stmt, {"f": libs[lib][name], "a": array}) for lib in (front, *peers)}
            sides["floor"] = ("f(path, arg)", floor_env)
            if front == "joblib backend":
                got = _per_task(sides, settings)
            else:
                got = batches(sides, **settings)
            raw[f"{front} {label}"] = got
            goal = GOALS[label] if name == "double" or front in ("decorator", "Memory") else None
            rows += [Row(f"{front} {label}", got[front]["median_us"], "us", p, got[p]["median_us"],
                         goal if p == "joblib.Memory" else None) for p in peers]
            rows.append(Row(f"{front} {label}", got[front]["median_us"], "us", "floor",
                            got["floor"]["median_us"], GOALS["floor"] if name == "double" else None))
    return rows


def _per_task(sides: dict[str, tuple[str, dict[str, Any]]], settings: dict[str, Any]) -> dict[str, Any]:
    """The joblib backend's row: a ``Parallel`` call returns the values of its TASKS tasks
    together, so each peer (and the floor) keeps TASKS values too (fresh memory for each 1 MiB
    array, as the backend's), and every side is timed per task."""
    sides = {lib: (stmt if lib == "joblib backend" else f"[{stmt} for _ in range({TASKS})]", env)
             for lib, (stmt, env) in sides.items()}
    got = batches(sides, **settings)
    return {lib: {**got[lib], "median_us": round(got[lib]["median_us"] / TASKS, 3),
                  "min_us": round(got[lib]["min_us"] / TASKS, 3)} for lib in got}


def _hashes(array: np.ndarray) -> dict[str, float]:
    """µs to hash the 1 MiB argument's buffer, by hash."""
    import xxhash

    hashers: dict[str, Any] = {"xxh3_128": xxhash.xxh3_128_digest, "md5 (joblib's)": hashlib.md5,
                               "sha256": hashlib.sha256, "blake2b": hashlib.blake2b}
    try:
        import blake3  # type: ignore[import-not-found]
    except ImportError:
        pass
    else:
        hashers["blake3"] = blake3.blake3
    buffer = array.data
    micros: dict[str, float] = {}
    for name, h in hashers.items():
        times = timeit.repeat(functools.partial(h, buffer), number=20, repeat=5)
        micros[name] = round(statistics.median(times) / 20 * 1e6, 1)
    return micros


def measure(root: Path, *, repeat: int, batch_s: float, warmup_s: float) -> Result:
    try:
        return _measure(root, repeat=repeat, batch_s=batch_s, warmup_s=warmup_s)
    finally:
        close_front_ends()


def _measure(root: Path, *, repeat: int, batch_s: float, warmup_s: float) -> Result:
    libs = _libraries(root)
    array = np.random.default_rng(0).random(ARRAY_BYTES // 8)
    _fill_and_check(libs, array)
    settings = {"repeat": repeat, "batch_s": batch_s, "warmup_s": warmup_s}
    raw: dict[str, Any] = {}
    rows = _hit_rows(libs, array, settings, raw)
    for front in ("decorator", "Memory"):
        # A miss: every call, warm-up included, takes the next value of its side's own counter.
        starts = ((front, MISS_START), ("joblib.Memory", MISS_START + 10**8 * (front == "Memory")))
        sides = {lib: ("f(x=next(it))", {"f": libs[lib]["increment"], "it": itertools.count(start)})
                 for lib, start in starts}
        got = batches(sides, **settings)
        raw[f"{front} miss"] = got
        rows.append(Row(f"{front} miss, small int", got[front]["median_us"], "us", "joblib.Memory",
                        got["joblib.Memory"]["median_us"], GOALS["miss, small int"]))
    hashes = _hashes(array)
    notes = ["hashing the 1 MiB argument: " + ", ".join(f"{k} {v:.0f} µs" for k, v in hashes.items()),
             f"joblib backend: µs per task of Parallel(n_jobs=2) running {TASKS} hits, beside a list of "
             f"{TASKS} values from each peer and the floor; floor: xxh3 of the argument + reading its "
             "record's file + checking and loading it"]
    if "diskcache.memoize" not in libs:
        notes.append("diskcache is not installed: its row is left out")
    return Result(rows, notes, {"batches": raw, "hash_1mib_us": hashes, "array_bytes": ARRAY_BYTES})
