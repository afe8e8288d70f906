"""A big store: hit latency with 1,000,000 result records under the function; peer: 1,000.

    python -m benchmarks records [--quick] [--set large=200000] [--set dir='"/path"']

Two stores hold the results of ``square(x=k) = k * k`` for k < ``small`` and k < ``large``,
written directly (through the API it would take an hour): each record's key is
``result_key(CallAddress(fid, hash_kwargs({"x": k})))`` and its bytes
``frame(RESULT, dump_value(k * k))`` -- the library's own key layout, framing and serialization,
checked on a sample against ``PureFunction.address`` and ``is_stored`` -- by ``processes``
processes, one ``open(O_CREAT|O_EXCL)`` each, for at most ``budget`` seconds (the rows say how
many were written). The stores go on /dev/shm where it has room (a million files on ext4 take
minutes to write and delete), else under ``dir`` or the run's folder. Rows: p50 of a hit, each
timed alone, ``hits`` random stored keys per store in ``batches`` interleaved batches, through
the decorator ``f(x=k)`` and through ``PythagorasExecutor(max_workers=0).submit(square, x=k)``,
the large store beside the small; goal <= 1.2x.
"""

from __future__ import annotations

import gc
import multiprocessing
import os
import random
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from .harness import Result, Row
from .harness.timing import each, stats

SETTINGS = {
    "full": {"small": 1000, "large": 1_000_000, "hits": 300, "batches": 6, "processes": 2, "budget": 150.0,
             "dir": None},
    "quick": {"small": 1000, "large": 50_000, "hits": 200, "batches": 4, "processes": 2, "budget": 30.0,
              "dir": None},
}


def square(*, x: int) -> int:
    return x * x


def _key(function: str, k: int) -> str:
    from pythagoras.identity.address import CallAddress
    from pythagoras.identity.values import hash_kwargs
    from pythagoras.records.keys import result_key

    return result_key(CallAddress(function, hash_kwargs({"x": k}).hex()))


def _fill_part(folder: str, function: str, start: int, step: int, stop: int, deadline: float) -> int:
    """Write the records of square(x=k) for k in range(start, stop, step) until ``deadline``."""
    from pythagoras.records.frames import dump_value, frame
    from pythagoras.records.results import RESULT

    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL
    written = 0
    for k in range(start, stop, step):
        if written % 512 == 0 and time.time() > deadline:
            break
        fd = os.open(os.path.join(folder, _key(function, k)), flags, 0o666)
        try:
            os.write(fd, frame(RESULT, dump_value(k * k)))
        finally:
            os.close(fd)
        written += 1
    return written


def fill(folder: Path, function: str, count: int, processes: int,
         budget: float) -> tuple[list[int], dict[str, Any]]:
    """The records of square(x=k), k < count, by ``processes`` processes within ``budget`` s:
    the keys k written, and what the fill cost."""
    for shard in range(256):
        (folder / "results" / function / f"{shard:02x}").mkdir(parents=True, exist_ok=True)
    t0, deadline = time.perf_counter(), time.time() + budget
    with multiprocessing.get_context("spawn").Pool(processes) as pool:
        written = pool.starmap(_fill_part, [(str(folder), function, p, processes, count, deadline)
                                            for p in range(processes)])
    keys = [p + processes * j for p, w in enumerate(written) for j in range(w)]
    seconds = time.perf_counter() - t0
    return keys, {"wanted": count, "records": len(keys), "seconds": round(seconds, 2),
                  "us_per_record": round(seconds / max(len(keys), 1) * 1e6, 1)}


def _base(large: int, chosen: str | None, root: Path) -> Path:
    """/dev/shm where it holds ``large`` records (~5 KB each on tmpfs) twice over, else ``chosen``
    or ``root``."""
    if chosen:
        return Path(chosen)
    try:
        st = os.statvfs("/dev/shm")
        if st.f_bavail * st.f_frsize > 2 * large * 5 * 1024:
            return Path("/dev/shm")
    except OSError:
        pass
    return root


def measure(root: Path, *, small: int, large: int, hits: int, batches: int, processes: int, budget: float,
            dir: str | None) -> Result:
    from pythagoras import SharedStorage_P2P_Cloud
    from pythagoras.executor import PythagorasExecutor
    from pythagoras.records.keys import result_key

    base = Path(tempfile.mkdtemp(prefix="pythagoras-bench-records-", dir=_base(large, dir, root)))
    try:
        rng, fills, calls, keys = random.Random(20251126), {}, {}, {}
        opened: list[Any] = []
        for name, count in (("small", small), ("large", large)):
            cloud = SharedStorage_P2P_Cloud(base / name, max_workers=0)
            f = cloud.add_pure_function(square)
            stored, fills[name] = fill(base / name, f.address(x=0).function, count, processes, budget)
            keys[name] = [rng.choice(stored) for _ in range(hits)]
            if any(result_key(f.address(x=k)) != _key(f.address(x=0).function, k) for k in keys[name][:20]) \
                    or not all(f.is_stored(x=k) for k in keys[name]):  # untimed: no timed miss
                raise SystemExit("the records written are not where the library looks")
            ex = PythagorasExecutor(base / name, max_workers=0)
            opened += [cloud.close, ex.shutdown]
            calls[("decorator", name)] = lambda k, f=f: f(x=k)
            calls[("executor", name)] = lambda k, ex=ex: ex.submit(square, x=k).result(timeout=10)
        times: dict[tuple[str, str], list[float]] = {side: [] for side in calls}
        per = max(1, hits // batches)
        for side, call in calls.items():  # warm the code paths, untimed
            each(call, keys[side[1]][:20], lambda k: k * k)
        gc.disable()
        for b in range(batches):
            for side, call in calls.items():
                times[side] += each(call, keys[side[1]][b * per:(b + 1) * per], lambda k: k * k)
        gc.enable()
        for close in opened:
            close()
    finally:
        t0 = time.perf_counter()
        shutil.rmtree(base, ignore_errors=True)
        removal = round(time.perf_counter() - t0, 2)
    p50 = {side: stats(t, "us") for side, t in times.items()}
    n, m = f"{fills['large']['records']:,}", f"{fills['small']['records']:,}"
    rows = [Row(f"decorator hit p50 at {n} records", p50["decorator", "large"]["p50"], "us", f"at {m}",
                p50["decorator", "small"]["p50"], "ratio<=1.2"),
            Row("  the same, ex.submit(f, x=k).result()", p50["executor", "large"]["p50"], "us", f"at {m}",
                p50["executor", "small"]["p50"], "ratio<=1.2")]
    big = fills["large"]
    notes = [(f"{big['records']:,} of {big['wanted']:,} records written in {big['seconds']} s "
              f"({big['us_per_record']} µs each, {processes} processes) under {base.parent}; "
              f"removed in {removal} s")]
    return Result(rows, notes, {"fill": fills, "hits": {" ".join(k): v for k, v in p50.items()}})
