"""A big store: hit latency with 1,000,000 result records under the function's prefix, against
the same with 1,000.

Run from the repository root, either way::

    .venv/bin/python -m benchmarks.records
    .venv/bin/python benchmarks/records.py --large 200000 --json /tmp/records.json

Two folders, each a store with the results of ``square(x=k) = k * k`` for k in ``range(N)``:
N = ``--small`` (1,000) in one, ``--large`` (1,000,000) in the other. Both hold exactly the
records that memoizing those calls leaves under ``results/<fid>/<aa>/<args>``, but they are
written directly, not through the API (which would take an hour here): each record's key is
``CallAddress(fid, hash_kwargs({"x": k})).result_key`` and its bytes are
``frame(RESULT, dump_value(k * k))`` -- the library's own identity, argument hash, key layout,
framing and serialization, checked on a sample against ``PureFunction.address`` and
``is_stored`` -- by ``--fill-processes`` processes, each file created with one
``open(O_CREAT|O_EXCL)``, ``write`` and ``close`` (the library writes a temp file and
hard-links it; the files left are the same). Disk and inodes used by the fill are measured
with ``statvfs`` before and after (other processes writing meanwhile count too), and the fill's
seconds are reported. ``--fill-budget`` bounds the fill: where it runs out, the figure is
measured on the records written by then, and says how many.

Figures, after the fill (the page and dentry caches are warm: every record was just written):

- ``decorator`` -- the tutorial decorator's direct call ``f(x=k)`` of a stored call (a hit),
  each call timed alone, ``--hits`` random stored keys per store in ``--batches`` batches, the
  two stores' batches interleaved; p50 per store, and the ratio large/small (goal <= 1.2);
- ``executor`` -- the same hits through ``PythagorasExecutor(FOLDER, max_workers=0)``,
  ``ex.submit(square, x=k).result()``.

Every hit key is checked stored before it is timed, so no timed call is a miss. The folders
are removed at the end (the seconds it took are reported) unless ``--keep``.
"""

from __future__ import annotations

import argparse
import datetime
import functools
import gc
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

try:
    from ._report import loadavg, machine, print_load, version, write_json
except ImportError:  # run as a script: benchmarks/NAME.py
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from benchmarks._report import loadavg, machine, print_load, version, write_json  # type: ignore[no-redef]


def square(*, x: int) -> int:
    return x * x


DEFAULT_JSON = Path(__file__).resolve().parent / "results" / "records.json"
GOAL_RATIO = 1.2  # at most: p50 hit with the large store / with the small one


# -- filling a store ---------------------------------------------------------------------------


def _fill_part(folder: str, function: str, start: int, step: int, stop: int, deadline: float) -> int:
    """Write the result records of square(x=k) for k in range(start, stop, step) into the store
    at ``folder``, until ``deadline`` (time.time()); how many were written (the first ones)."""
    from pythagoras.identity.address import CallAddress
    from pythagoras.identity.values import hash_kwargs
    from pythagoras.records.frames import dump_value, frame
    from pythagoras.records.results import RESULT

    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    root = folder + os.sep
    written = 0
    clock = time.time
    for k in range(start, stop, step):
        if written % 512 == 0 and clock() > deadline:
            break
        key = CallAddress(function, hash_kwargs({"x": k}).hex()).result_key
        fd = os.open(root + key, flags, 0o666)  # the shard folders exist (made before)
        try:
            os.write(fd, frame(RESULT, dump_value(k * k)))
        finally:
            os.close(fd)
        written += 1
    return written


def _disk(path: Path) -> tuple[int, int]:
    """Bytes and inodes in use on the file system that holds ``path``."""
    st = os.statvfs(path)
    return (st.f_blocks - st.f_bfree) * st.f_frsize, st.f_files - st.f_ffree


def fill(folder: Path, function: str, count: int, *, processes: int, budget: float) -> dict[str, Any]:
    """The records of square(x=k), k < count, in ``folder`` (a store), by ``processes``
    processes, for at most ``budget`` seconds. Returns what was written: each process p wrote
    k = p, p + processes, ... for its first ``written[p]`` values."""
    import multiprocessing

    for shard in range(256):
        (folder / "results" / function / f"{shard:02x}").mkdir(parents=True, exist_ok=True)
    bytes_before, inodes_before = _disk(folder)
    t0 = time.perf_counter()
    deadline = time.time() + budget
    args = [(str(folder), function, p, processes, count, deadline) for p in range(processes)]
    if processes == 1:
        written = [_fill_part(*args[0])]
    else:
        with multiprocessing.get_context("spawn").Pool(processes) as pool:
            written = pool.starmap(_fill_part, args)
    seconds = time.perf_counter() - t0
    bytes_after, inodes_after = _disk(folder)
    total = sum(written)
    return {"wanted": count, "records": total, "complete": total == count, "processes": processes,
            "written": written, "seconds": round(seconds, 2),
            "us_per_record": round(seconds / max(total, 1) * 1e6, 1),
            "disk_bytes": bytes_after - bytes_before, "inodes": inodes_after - inodes_before,
            "budget_s": budget}


def memory_folder(count: int) -> Path | None:
    """/dev/shm if it can hold ``count`` records comfortably (tmpfs: a page per file, ~5 KB with
    its inode and dentry) with memory to spare; None otherwise."""
    shm = Path("/dev/shm")
    need = count * 5 * 1024
    try:
        st = os.statvfs(shm)
        with open("/proc/meminfo") as f:
            info = {line.split(":")[0]: int(line.split()[1]) * 1024 for line in f if line.split()}
    except (OSError, ValueError, IndexError):
        return None
    if st.f_bavail * st.f_frsize < 2 * need or info.get("MemAvailable", 0) < 3 * need:
        return None
    return shm


def file_system(path: Path) -> str:
    """The type of the file system that holds ``path`` (Linux: /proc/mounts), or "?"."""
    best, kind = "", "?"
    try:
        with open("/proc/mounts") as f:
            for line in f:
                parts = line.split()
                if len(parts) > 2 and str(path).startswith(parts[1]) and len(parts[1]) > len(best):
                    best, kind = parts[1], parts[2]
    except OSError:
        pass
    return kind


def stored_keys(info: dict[str, Any]) -> range | list[int]:
    """The arguments k whose records a fill wrote."""
    n, written = info["processes"], info["written"]
    if info["complete"]:
        return range(info["wanted"])
    return [p + n * j for p, w in enumerate(written) for j in range(w)]


# -- timing hits -------------------------------------------------------------------------------


def _timed_hits(call: Any, keys: list[int]) -> list[float]:
    clock = time.perf_counter_ns
    times = []
    gc_was = gc.isenabled()
    gc.disable()
    try:
        for k in keys:
            t0 = clock()
            value = call(k)
            times.append((clock() - t0) / 1e3)
            if value != k * k:
                raise SystemExit(f"square(x={k}) returned {value!r}")
    finally:
        if gc_was:
            gc.enable()
    return times


def _us(times: list[float]) -> dict[str, Any]:
    us = sorted(times)
    deciles = statistics.quantiles(us, n=10, method="inclusive")
    return {"p50_us": round(statistics.median(us), 2), "p90_us": round(deciles[8], 2),
            "min_us": round(us[0], 2), "mean_us": round(statistics.fmean(us), 2), "hits": len(us)}


def measure(root: Path, *, small: int = 1000, large: int = 1_000_000, hits: int = 300, batches: int = 6,
            processes: int = 2, budget: float = 150.0, keep: bool = False,
            progress: Any = None) -> dict[str, Any]:
    """Fill the two stores under ``root``, time hits on both, remove them (unless ``keep``)."""
    from pythagoras import SharedStorage_P2P_Cloud
    from pythagoras.executor import PythagorasExecutor

    say = progress or (lambda text: None)
    folders = {"small": root / "small", "large": root / "large"}
    say(f"stores in {root} ({file_system(root.resolve())})")
    clouds = {name: SharedStorage_P2P_Cloud(folder, max_workers=0) for name, folder in folders.items()}
    funcs = {name: cloud.add_pure_function(square) for name, cloud in clouds.items()}
    function = funcs["small"].address(x=0).function
    out: dict[str, Any] = {"function": function, "folder": str(root), "file_system": file_system(root.resolve())}
    executors: dict[str, Any] = {}
    try:
        fills = {}
        for name, count in (("small", small), ("large", large)):
            say(f"filling a store with {count:,} records ...")
            fills[name] = fill(folders[name], function, count, processes=processes, budget=budget)
        out["fill"] = fills
        rng = random.Random(20251126)
        keys = {}
        for name in ("small", "large"):
            stored = stored_keys(fills[name])
            keys[name] = [stored[rng.randrange(len(stored))] for _ in range(hits)]
            for k in keys[name][:20]:  # the records are where the library looks
                if funcs[name].address(x=k).result_key != _key(function, k):
                    raise SystemExit("the records' keys are not the library's")
            if not all(funcs[name].is_stored(x=k) for k in keys[name]):  # untimed: no timed miss
                raise SystemExit(f"{name}: a hit key is not stored")
            executors[name] = PythagorasExecutor(folders[name], max_workers=0)
        say(f"timing {hits} hits per store and front-end ...")
        timings: dict[str, dict[str, list[float]]] = {"decorator": {"small": [], "large": []},
                                                      "executor": {"small": [], "large": []}}
        calls = {"decorator": {name: functools.partial(_direct, funcs[name]) for name in folders},
                 "executor": {name: functools.partial(_submitted, executors[name]) for name in folders}}
        for front in calls:  # warm the code paths, untimed
            for name in folders:
                _timed_hits(calls[front][name], keys[name][:20])
        per = max(1, hits // batches)
        for b in range(batches):
            for front in calls:
                for name in ("small", "large") if b % 2 == 0 else ("large", "small"):
                    timings[front][name] += _timed_hits(calls[front][name], keys[name][b * per:(b + 1) * per])
        out["hits"] = {front: {name: _us(t) for name, t in by.items()} for front, by in timings.items()}
        for front in out["hits"]:
            h = out["hits"][front]
            h["ratio"] = round(h["large"]["p50_us"] / h["small"]["p50_us"], 4)
    finally:
        for ex in executors.values():
            ex.shutdown(wait=True)
        for cloud in clouds.values():
            cloud.close()
        if not keep:
            say("removing the stores ...")
            t0 = time.perf_counter()
            for folder in folders.values():
                shutil.rmtree(folder, ignore_errors=True)
            out["removal_s"] = round(time.perf_counter() - t0, 2)
    return out


def _direct(f: Any, k: int) -> Any:
    return f(x=k)


def _submitted(ex: Any, k: int) -> Any:
    return ex.submit(square, x=k).result(timeout=10)


def _key(function: str, k: int) -> str:
    from pythagoras.identity.address import CallAddress
    from pythagoras.identity.values import hash_kwargs

    return CallAddress(function, hash_kwargs({"x": k}).hex()).result_key


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.records", description=__doc__.split("\n")[0])
    parser.add_argument("--json", type=Path, default=DEFAULT_JSON, metavar="PATH")
    parser.add_argument("--dir", type=Path, default=None, help="make the temporary folder under this directory")
    parser.add_argument("--small", type=int, default=1000)
    parser.add_argument("--large", type=int, default=1_000_000)
    parser.add_argument("--hits", type=int, default=300)
    parser.add_argument("--fill-processes", type=int, default=2)
    parser.add_argument("--fill-budget", type=float, default=150.0, help="seconds the fill may take (default 150)")
    parser.add_argument("--in-memory", action="store_true",
                        help="make the stores on /dev/shm (tmpfs) where it has room, not under --dir")
    parser.add_argument("--keep", action="store_true")
    opts = parser.parse_args(argv)
    if opts.dir is not None:
        opts.dir.mkdir(parents=True, exist_ok=True)
    base = (memory_folder(opts.large) if opts.in_memory else None) or opts.dir
    root = Path(tempfile.mkdtemp(prefix="pythagoras-bench-records-", dir=base))
    load_before = loadavg()
    began = time.perf_counter()
    try:
        result = measure(root, small=opts.small, large=opts.large, hits=opts.hits,
                         processes=opts.fill_processes, budget=opts.fill_budget, keep=opts.keep,
                         progress=lambda text: print(text, file=sys.stderr, flush=True))
    finally:
        if not opts.keep:
            shutil.rmtree(root, ignore_errors=True)
    wall = time.perf_counter() - began
    load_after = loadavg()
    large = result["fill"]["large"]
    print(f"large store: {large['records']:,} records in {large['seconds']} s ({large['us_per_record']} µs "
          f"each), {large['disk_bytes'] / 2**30:.2f} GiB and {large['inodes']:,} inodes; removed in "
          f"{result.get('removal_s')} s")
    for front, h in result["hits"].items():
        print(f"{front:<10} hit p50 {h['small']['p50_us']:.1f} µs at {result['fill']['small']['records']:,} "
              f"records, {h['large']['p50_us']:.1f} µs at {large['records']:,}: {h['ratio']:.3f}x "
              f"(goal <= {GOAL_RATIO})")
    print_load(wall, load_before, load_after, "the fill's seconds suffer most")
    write_json(opts.json, {
        "benchmark": "records",
        "when": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": machine(load_before, load_after),
        "versions": {d: version(d) for d in ("pythagoras", "cloudpickle", "xxhash")},
        "settings": {"small": opts.small, "large": opts.large, "hits": opts.hits,
                     "fill_processes": opts.fill_processes, "fill_budget": opts.fill_budget,
                     "folder": str(root), "wall_seconds": round(wall, 2)},
        **result,
    })
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
