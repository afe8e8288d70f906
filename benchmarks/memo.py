"""Memoization latency: the decorator's and pythagoras.Memory's hits and misses; peer joblib.Memory.

    python -m benchmarks memo [--quick]

Each library memoizes the same functions on a folder of its own under one temporary directory.
Rows, each the median µs per call over interleaved timed batches (``timing.batches``):
a hit of ``square(x=3)``; a hit of ``double(a=<1 MiB float64 array>)`` whose result is a 1 MiB
array; a miss ``increment(x=<new int>)`` (every call computes and stores a new record); each
through the tutorial decorator and through ``pythagoras.memory.Memory(...).cache(f)``, beside
``joblib.Memory(verbose=0, mmap_mode=None)`` (so a hit returns an in-memory array, as
pythagoras does), and diskcache's ``Cache.memoize`` for the small hit where it is installed.
A note gives the µs to hash the 1 MiB argument with xxh3-128 (what pythagoras uses) beside md5
(joblib's), sha256, blake2b and blake3 where installed (cited in ``docs/identity.md``).
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import statistics
import timeit
from pathlib import Path
from typing import Any

import numpy as np

from .harness import Result, Row
from .harness.timing import batches

SETTINGS = {"full": {"repeat": 9, "batch_s": 0.2, "warmup_s": 0.15},
            "quick": {"repeat": 3, "batch_s": 0.05, "warmup_s": 0.05}}
ARRAY_BYTES = 1 << 20
MISS_START = 10**9  # misses count up from here; each library has its own counter and folder
GOALS = {"hit, small int": "ratio<=0.25", "hit, 1 MiB array": "ratio<=0.1", "miss, small int": "ratio<=0.5"}


# Plain defs: pythagoras identifies a function by its source; they read no globals.
def square(*, x: int) -> int:
    return x * x


def double(*, a: np.ndarray) -> np.ndarray:
    return a * 2.0


def increment(*, x: int) -> int:
    return x + 1


def _libraries(root: Path) -> dict[str, dict[str, Any]]:
    """Each library's memoized functions, by name, on a folder of its own."""
    from joblib import Memory  # type: ignore[import-untyped]

    from pythagoras import SharedStorage_P2P_Cloud
    from pythagoras.memory import Memory as PythagorasMemory

    functions = (square, double, increment)
    cloud = SharedStorage_P2P_Cloud(shared_dir_name=root / "pythagoras")
    memory = PythagorasMemory(root / "pythagoras-memory", verbose=0)
    joblib = Memory(location=root / "joblib", verbose=0, mmap_mode=None)
    libs: dict[str, dict[str, Any]] = {
        "decorator": {f.__name__: cloud.add_pure_function(f) for f in functions},
        "Memory": {f.__name__: memory.cache(f) for f in functions},
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
    libs = _libraries(root)
    array = np.random.default_rng(0).random(ARRAY_BYTES // 8)
    _fill_and_check(libs, array)
    rows, raw = [], {}
    cases = [("hit, small int", "f(x=3)", "square", {}),
             ("hit, 1 MiB array", "f(a=a)", "double", {"a": array})]
    for front in ("decorator", "Memory"):
        for label, stmt, name, env in cases:
            peers = [p for p in ("joblib.Memory", "diskcache.memoize") if name in libs.get(p, {})]
            sides = {lib: (stmt, {"f": libs[lib][name], **env}) for lib in (front, *peers)}
            got = batches(sides, repeat=repeat, batch_s=batch_s, warmup_s=warmup_s)
            raw[f"{front} {label}"] = got
            rows += [Row(f"{front} {label}", got[front]["median_us"], "us", p, got[p]["median_us"],
                         GOALS[label] if p == "joblib.Memory" else None) for p in peers]
        # A miss: every call, warm-up included, takes the next value of its side's own counter.
        starts = ((front, MISS_START), ("joblib.Memory", MISS_START + 10**8 * (front == "Memory")))
        sides = {lib: ("f(x=next(it))", {"f": libs[lib]["increment"], "it": itertools.count(start)})
                 for lib, start in starts}
        got = batches(sides, repeat=repeat, batch_s=batch_s, warmup_s=warmup_s)
        raw[f"{front} miss"] = got
        rows.append(Row(f"{front} miss, small int", got[front]["median_us"], "us", "joblib.Memory",
                        got["joblib.Memory"]["median_us"], GOALS["miss, small int"]))
    hashes = _hashes(array)
    notes = ["hashing the 1 MiB argument: " + ", ".join(f"{k} {v:.0f} µs" for k, v in hashes.items())]
    if "diskcache.memoize" not in libs:
        notes.append("diskcache is not installed: its row is left out")
    return Result(rows, notes, {"batches": raw, "hash_1mib_us": hashes, "array_bytes": ARRAY_BYTES})
