"""PythagorasExecutor on a local folder: round trip, map throughput, scaling with the queue, hits.

Run from the repository root, either way::

    .venv/bin/python -m benchmarks.executor
    .venv/bin/python benchmarks/executor.py --json /tmp/executor.json

Every executor has 2 worker processes and runs the trivial ``inc(x) = x + 1``; every argument is
new (a miss) unless a figure says otherwise, so pythagoras stores every call it runs. Figures,
measured in one run against the peers:

- ``round_trip`` -- ``ex.submit(inc, new_x).result()`` one call at a time on an idle swarm:
  p50 and p90 over ``--calls`` calls (after warm-up), against loky's
  ``get_reusable_executor(2)`` (the pythagoras and loky calls interleaved in batches), a dask
  ``LocalCluster`` (2 worker processes, 1 thread each, on 127.0.0.1) ``client.submit(...).result()``
  and ray (``ray.init(num_cpus=2)`` on 127.0.0.1) ``ray.get(f.remote(x))``, each where installed.
  Goal: pythagoras p50 at most 2 ms.
- ``map_misses`` -- ``list(ex.map(inc, new_xs))`` (chunks sized by the calls' round trip, the
  default ``chunksize=None``) over ``--small`` new arguments, calls per
  second (the median of ``--repeat`` runs, interleaved with loky's), against loky
  ``executor.map(inc, xs, chunksize=1)`` (no memoization), dask
  ``client.gather(client.map(inc, xs))`` and ray ``ray.get([f.remote(x) for x in xs])``.
  Goal: at least 0.2x loky.
- ``map_chunked`` -- the same map with ``chunksize=--chunksize`` (default 1: one request per
  call, as ``concurrent.futures`` does; larger: one batch request per chunk, every call still
  memoized under its own address); against the same loky rate, for comparison only.
- ``map_queued`` -- the same over ``--large`` new arguments, all queued by one map; goal: at
  least 0.7x the ``--small`` rate of pythagoras. (If the large run is too slow for a machine,
  ``--large`` and ``--small`` pick another pair; the table names the pair it measured.)
- ``map_hits`` -- the map over the ``--small`` arguments of the first miss run again: every call
  is a hit; calls per second, beside loky's miss rate (loky does not memoize).

Each library runs while the others are closed or idle: pythagoras and loky side by side
(both idle when not measured), then dask (its cluster closed after), then ray (shut down after).
Every figure here is CPU- and file-system-bound: on a 2-core VM with an ext4 ``/tmp`` the
pythagoras figures move by tens of percent between runs (file creation slows down after heavy
create/delete churn by any process on the disk); ``--dir /dev/shm`` measures on tmpfs to tell the
disk's share from the CPU's. Nothing is left behind: executors are shut down, the dask cluster
closed, ray shut down (its session in its own temp folder, its auth token only in this process's
environment), children that outlive a grace period killed by pid, temp folders removed.
Goals are printed beside the ratios; nothing is asserted: this is a benchmark, not a test.
``--profile {round_trip,map}`` runs that pythagoras figure alone under cProfile in every thread
of this process (the submitter, the peer loop, loky's threads, the file watcher) instead.
"""

from __future__ import annotations

import argparse
import datetime
import gc
import itertools
import logging
import os
import secrets
import shutil
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

try:
    from ._report import loadavg, machine, print_load, reap_leftovers, version, write_json
except ImportError:  # run as a script: benchmarks/NAME.py
    from _report import loadavg, machine, print_load, reap_leftovers, version, write_json  # type: ignore[import-not-found,no-redef]

# -- the function --------------------------------------------------------------------------------
# A plain def in this file (which runs as __main__): pythagoras identifies it by its source and
# every library ships it to its workers by value (cloudpickle). It reads no globals.


def inc(x: int) -> int:
    return x + 1


# -- settings ------------------------------------------------------------------------------------

WORKERS = 2
DEFAULT_JSON = Path(__file__).resolve().parent / "results" / "executor.json"
GOALS = {
    "round_trip_p50_ms": 2.0,  # at most, absolute
    "map_misses_vs_loky": 0.2,  # at least
    "map_queued_vs_small": 0.7,  # at least
}
_fresh = itertools.count(10**9)  # every miss argument comes from here: none is ever seen twice


def _new_args(n: int) -> list[int]:
    start = next(_fresh)
    for _ in range(n - 1):
        next(_fresh)
    return list(range(start, start + n))


def _check(values: list[Any], args: list[int], who: str) -> None:
    if values != [a + 1 for a in args]:
        raise SystemExit(f"{who} returned wrong values")


# -- measuring -----------------------------------------------------------------------------------


def _round_trips(call: Callable[[int], Any], args: list[int], who: str) -> list[float]:
    """Seconds of each ``call(x)``, one after the other."""
    times = []
    clock = time.perf_counter
    for x in args:
        t0 = clock()
        value = call(x)
        times.append(clock() - t0)
        if value != x + 1:
            raise SystemExit(f"{who}: inc({x}) returned {value!r}")
    return times


def _percentiles(times: list[float]) -> dict[str, Any]:
    ms = sorted(t * 1e3 for t in times)
    deciles = statistics.quantiles(ms, n=10, method="inclusive")
    return {"p50_ms": round(statistics.median(ms), 4), "p90_ms": round(deciles[8], 4),
            "min_ms": round(ms[0], 4), "max_ms": round(ms[-1], 4), "mean_ms": round(statistics.fmean(ms), 4),
            "calls": len(ms)}


def _timed_map(run: Callable[[list[int]], list[Any]], args: list[int], who: str) -> float:
    """Calls per second of one ``run(args)``, its values checked."""
    gc.collect()
    t0 = time.perf_counter()
    values = run(args)
    seconds = time.perf_counter() - t0
    _check(values, args, who)
    return len(args) / seconds


def _rate_summary(rates: list[float]) -> dict[str, Any]:
    return {"calls_per_s": round(statistics.median(rates), 1), "runs": [round(r, 1) for r in rates]}


# -- the libraries ---------------------------------------------------------------------------------


class _Pythagoras:
    name = "pythagoras"

    def __init__(self, root: Path) -> None:
        from pythagoras.executor import PythagorasExecutor

        self.folder = root / "swarm"
        self.ex = PythagorasExecutor(self.folder, max_workers=WORKERS)

    def call(self, x: int) -> Any:
        return self.ex.submit(inc, x).result()

    def map(self, args: list[int]) -> list[Any]:
        return list(self.ex.map(inc, args))

    def map_chunked(self, args: list[int], chunksize: int) -> list[Any]:
        return list(self.ex.map(inc, args, chunksize=chunksize))

    def close(self) -> None:
        self.ex.shutdown(wait=True)


class _Loky:
    name = "loky"

    def __init__(self) -> None:
        from joblib.externals.loky import get_reusable_executor  # type: ignore[import-untyped]

        self.ex = get_reusable_executor(max_workers=WORKERS)

    def call(self, x: int) -> Any:
        return self.ex.submit(inc, x).result()

    def map(self, args: list[int]) -> list[Any]:
        return list(self.ex.map(inc, args, chunksize=1))

    def close(self) -> None:
        self.ex.shutdown(wait=True, kill_workers=True)


class _Dask:
    name = "dask"

    def __init__(self, root: Path) -> None:
        import dask
        from dask.distributed import Client, LocalCluster

        scratch = root / "dask"
        scratch.mkdir()
        dask.config.set({"temporary-directory": str(scratch)})  # not /tmp/dask-scratch-space
        self.cluster = LocalCluster(n_workers=WORKERS, threads_per_worker=1, processes=True,
                                    host="127.0.0.1", dashboard_address=None,
                                    local_directory=str(scratch), silence_logs=40)
        self.client = Client(self.cluster)

    def call(self, x: int) -> Any:
        return self.client.submit(inc, x).result()

    def map(self, args: list[int]) -> list[Any]:
        return list(self.client.gather(self.client.map(inc, args)))

    def close(self) -> None:
        try:
            self.client.close()
        finally:
            self.cluster.close()


class _Ray:
    name = "ray"

    def __init__(self, root: Path) -> None:
        # A token for this run only, in the environment (ray's children inherit it): nothing is
        # written to ~/.ray. No usage report is sent. Sessions live under the temp folder.
        os.environ["RAY_AUTH_MODE"] = "token"
        os.environ["RAY_AUTH_TOKEN"] = secrets.token_hex(32)
        os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
        import ray  # type: ignore[import-not-found]

        self.ray = ray
        # Its own short folder in the system temp dir: ray makes unix sockets deep inside it,
        # and their paths must stay under 108 bytes.
        self.session = tempfile.mkdtemp(prefix="pyt-ray-")
        try:
            ray.init(address="local", num_cpus=WORKERS, include_dashboard=False, log_to_driver=False,
                     logging_level=logging.ERROR, _node_ip_address="127.0.0.1", _temp_dir=self.session)
        except BaseException:
            self.close()
            raise
        self.remote = ray.remote(inc)

    def call(self, x: int) -> Any:
        return self.ray.get(self.remote.remote(x))

    def map(self, args: list[int]) -> list[Any]:
        return list(self.ray.get([self.remote.remote(x) for x in args]))

    def close(self) -> None:
        try:
            self.ray.shutdown()
        finally:
            shutil.rmtree(self.session, ignore_errors=True)


# -- the runs ------------------------------------------------------------------------------------


def _warm(lib: Any, calls: int) -> None:
    """Start the workers and the code paths: a few round trips and a short map."""
    _round_trips(lib.call, _new_args(calls), lib.name)
    _timed_map(lib.map, _new_args(50), lib.name)


def _measure_pythagoras_and_loky(root: Path, opts: argparse.Namespace) -> dict[str, Any]:
    py, lk = _Pythagoras(root), None
    try:
        lk = _Loky()
        for lib in (py, lk):
            _warm(lib, opts.warmup)
        # Round trips: batches interleaved, so a slow spell falls on both sides.
        times: dict[str, list[float]] = {"pythagoras": [], "loky": []}
        batches = 5
        per_batch = max(1, opts.calls // batches)
        for _ in range(batches):
            for lib in (py, lk):
                gc.collect()
                times[lib.name] += _round_trips(lib.call, _new_args(per_batch), lib.name)
        # Map throughput over new arguments, runs interleaved; the first pythagoras run's
        # arguments are kept for the hits.
        rates: dict[str, list[float]] = {"pythagoras": [], "loky": [], "chunked": []}
        hit_args: list[int] | None = None
        for _ in range(opts.repeat):
            for lib in (py, lk):
                args = _new_args(opts.small)
                if lib is py and hit_args is None:
                    hit_args = args
                rates[lib.name].append(_timed_map(lib.map, args, lib.name))
            rates["chunked"].append(_timed_map(
                lambda a: py.map_chunked(a, opts.chunksize), _new_args(opts.small), "pythagoras (chunked)"))
        assert hit_args is not None
        hits = [_timed_map(py.map, hit_args, "pythagoras (hits)") for _ in range(opts.repeat)]
        print(f"  map of {opts.large:,} new arguments (pythagoras) ...", file=sys.stderr, flush=True)
        queued_started = time.perf_counter()
        queued = _timed_map(py.map, _new_args(opts.large), "pythagoras (queued)")
        queued_s = time.perf_counter() - queued_started
        loky_queued = _timed_map(lk.map, _new_args(opts.large), "loky (queued)")
        stored, executed = _swarm_counts(py)
        return {
            "round_trip": {name: _percentiles(t) for name, t in times.items()},
            "map_misses": {name: _rate_summary(r) for name, r in rates.items() if name != "chunked"},
            "map_chunked": {"chunksize": opts.chunksize, **_rate_summary(rates["chunked"])},
            "map_hits": _rate_summary(hits),
            "map_queued": {"pythagoras": {"calls_per_s": round(queued, 1), "seconds": round(queued_s, 2)},
                           "loky": {"calls_per_s": round(loky_queued, 1)}},
            "pythagoras_results_stored": stored,  # a sanity check: every miss once, no duplicates
            "pythagoras_executed": executed,
        }
    finally:
        if lk is not None:
            lk.close()
        py.close()


def _swarm_counts(py: _Pythagoras) -> tuple[int | None, int | None]:
    """Results in the folder and calls this peer executed (internals: None if they moved)."""
    try:
        stored = sum(1 for _ in py.ex._peer.swarm.store.list("results/"))
        executed = int(py.ex._peer.executed)
    except (AttributeError, OSError):
        return None, None
    return stored, executed


def _measure_other(make: Callable[[], Any], opts: argparse.Namespace) -> dict[str, Any]:
    lib = make()
    try:
        _warm(lib, opts.warmup)
        gc.collect()
        times = _round_trips(lib.call, _new_args(opts.calls), lib.name)
        rates = [_timed_map(lib.map, _new_args(opts.small), lib.name) for _ in range(opts.repeat)]
        return {"round_trip": _percentiles(times), "map_misses": _rate_summary(rates)}
    finally:
        lib.close()


def _installed(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None


# -- the table -----------------------------------------------------------------------------------


def _rows(m: dict[str, Any], others: dict[str, dict[str, Any]], opts: argparse.Namespace) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    rt = m["round_trip"]
    for q in ("p50", "p90"):
        ours = rt["pythagoras"][f"{q}_ms"]
        peers = [("loky reusable 2w", rt["loky"][f"{q}_ms"])]
        peers += [(f"{name} {'LocalCluster' if name == 'dask' else 'local'} 2w", o["round_trip"][f"{q}_ms"])
                  for name, o in others.items()]
        for i, (peer, theirs) in enumerate(peers):
            goal = GOALS["round_trip_p50_ms"] if (q == "p50" and i == 0) else None
            rows.append({"figure": f"round trip {q}, idle (ms)", "pythagoras": ours, "peer": peer,
                         "peer_value": theirs, "ratio": ours / theirs, "unit": "ms",
                         "goal": None if goal is None else f"<={goal:g} ms",
                         "met": None if goal is None else ours <= goal})
    ours = m["map_misses"]["pythagoras"]["calls_per_s"]
    peers = [("loky map chunksize=1", m["map_misses"]["loky"]["calls_per_s"])]
    peers += [(f"{name} {'client.map' if name == 'dask' else '.remote'}", o["map_misses"]["calls_per_s"])
              for name, o in others.items()]
    for i, (peer, theirs) in enumerate(peers):
        goal = GOALS["map_misses_vs_loky"] if i == 0 else None
        ratio = ours / theirs
        rows.append({"figure": f"map {opts.small:,} misses (calls/s)", "pythagoras": ours, "peer": peer,
                     "peer_value": theirs, "ratio": ratio, "unit": "/s",
                     "goal": None if goal is None else f">={goal:g}x", "met": None if goal is None else ratio >= goal})
    chunked = m["map_chunked"]["calls_per_s"]
    loky = m["map_misses"]["loky"]["calls_per_s"]
    rows.append({"figure": f"map {opts.small:,} misses, chunksize={opts.chunksize} (calls/s)",
                 "pythagoras": chunked, "peer": "loky map chunksize=1", "peer_value": loky,
                 "ratio": chunked / loky, "unit": "/s", "goal": None, "met": None})
    queued = m["map_queued"]["pythagoras"]["calls_per_s"]
    goal = GOALS["map_queued_vs_small"]
    rows.append({"figure": f"map {opts.large:,} misses (calls/s)", "pythagoras": queued,
                 "peer": f"pythagoras map {opts.small:,}", "peer_value": ours, "ratio": queued / ours,
                 "unit": "/s", "goal": f">={goal:g}x", "met": queued / ours >= goal})
    loky_small, loky_large = m["map_misses"]["loky"]["calls_per_s"], m["map_queued"]["loky"]["calls_per_s"]
    rows.append({"figure": f"map {opts.large:,} misses (calls/s)", "pythagoras": queued,
                 "peer": f"loky map {opts.large:,}", "peer_value": loky_large, "ratio": queued / loky_large,
                 "unit": "/s", "goal": None, "met": None,
                 "note": f"loky {opts.large:,}/{opts.small:,}: {loky_large / loky_small:.2f}x"})
    hits = m["map_hits"]["calls_per_s"]
    rows.append({"figure": f"map {opts.small:,} hits (calls/s)", "pythagoras": hits,
                 "peer": "loky map (no memo)", "peer_value": loky_small, "ratio": hits / loky_small,
                 "unit": "/s", "goal": None, "met": None})
    for r in rows:
        r["ratio"] = round(r["ratio"], 4)
    return rows


def _fmt(value: float, unit: str) -> str:
    return f"{value:.2f} ms" if unit == "ms" else f"{value:,.0f}/s"


def _print_table(rows: list[dict[str, Any]]) -> None:
    head = (f"{'figure':<30} {'pythagoras':>11}  {'peer':<24} {'peer':>11}  {'ratio':>7}  "
            f"{'goal':>9}  met")
    print(head)
    print("-" * len(head))
    for r in rows:
        met = {True: "yes", False: "NO", None: "-"}[r["met"]]
        print(f"{r['figure']:<30} {_fmt(r['pythagoras'], r['unit']):>11}  {r['peer']:<24} "
              f"{_fmt(r['peer_value'], r['unit']):>11}  {r['ratio']:>6.3f}x  {r['goal'] or '-':>9}  {met}")


# -- profiling -----------------------------------------------------------------------------------


def _profile(root: Path, figure: str, opts: argparse.Namespace) -> None:
    """The pythagoras side of one figure under cProfile, one profiler per thread, CPU time.

    ``threading.setprofile`` gives every thread the executor starts (the peer loop, the file
    watcher, loky's manager thread that runs the completion callbacks) a hook; once the warm-up
    is over, the hook's next call in each thread starts a cProfile.Profile there, whose
    ``enable()`` replaces the hook. Times are each thread's CPU time (``time.thread_time``):
    on 2 cores the submitter, the peer loop, the watcher, loky's threads and 2 workers compete.
    """
    import cProfile
    import pstats
    import resource

    profilers: dict[str, cProfile.Profile] = {}
    lock = threading.Lock()
    armed = threading.Event()

    def hook(*_: Any) -> None:
        if armed.is_set():
            profiler = cProfile.Profile(time.thread_time)
            with lock:
                profilers[threading.current_thread().name] = profiler
            profiler.enable()

    threading.setprofile(hook)
    py = _Pythagoras(root)
    main = cProfile.Profile(time.thread_time)
    try:
        _warm(py, opts.warmup)
        args = _new_args(opts.calls * 5 if figure == "round_trip" else opts.small)
        usage = resource.getrusage(resource.RUSAGE_SELF)
        t0 = time.perf_counter()
        armed.set()
        main.enable()
        if figure == "round_trip":
            _round_trips(py.call, args, "pythagoras")
        else:
            _timed_map(py.map, args, "pythagoras")
        main.disable()
        wall = time.perf_counter() - t0
        armed.clear()
        after = resource.getrusage(resource.RUSAGE_SELF)
    finally:
        threading.setprofile(None)  # type: ignore[arg-type]
        py.close()
    cpu = (after.ru_utime - usage.ru_utime) + (after.ru_stime - usage.ru_stime)
    print(f"cProfile (CPU time per thread) of pythagoras {figure}: {len(args)} calls in {wall:.2f} s "
          f"wall under the profiler; this process used {cpu:.2f} s of CPU "
          f"({after.ru_utime - usage.ru_utime:.2f} user, {after.ru_stime - usage.ru_stime:.2f} system)")
    for name, profiler in [("MainThread (submitter)", main), *profilers.items()]:
        stats = pstats.Stats(profiler)
        if not stats.stats:  # type: ignore[attr-defined]
            continue
        print(f"\n=== thread {name}: {stats.total_tt:.3f} s of CPU in profiled code ===")  # type: ignore[attr-defined]
        stats.strip_dirs().sort_stats("tottime").print_stats(opts.profile_lines)
        stats.sort_stats("cumulative").print_stats(opts.profile_lines)


# -- main ----------------------------------------------------------------------------------------



def _git_state() -> dict[str, Any]:
    """The commit measured, and whether pythagoras/ had uncommitted changes (it changes often)."""
    import subprocess

    repo = Path(__file__).resolve().parent.parent
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True,
                              text=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "pythagoras"], cwd=repo,
                               capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return {"commit": None, "pythagoras_dirty": None}
    return {"commit": head or None, "pythagoras_dirty": bool(dirty)}



def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.executor", description=__doc__.split("\n")[0])
    parser.add_argument("--json", type=Path, default=DEFAULT_JSON, metavar="PATH",
                        help=f"where to write the results (default: {DEFAULT_JSON})")
    parser.add_argument("--dir", type=Path, default=None,
                        help="make the temporary folder under this directory (default: the system temp dir)")
    parser.add_argument("--calls", type=int, default=200, help="timed round trips per library (default: 200)")
    parser.add_argument("--warmup", type=int, default=30, help="warm-up round trips per library (default: 30)")
    parser.add_argument("--small", type=int, default=2000, help="calls in a map (default: 2000)")
    parser.add_argument("--large", type=int, default=20000, help="calls in the queued map (default: 20000)")
    parser.add_argument("--chunksize", type=int, default=1,
                        help="chunksize of the second pythagoras map (default: 1)")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each small map (default: 3)")
    parser.add_argument("--no-dask", action="store_true", help="skip dask even if installed")
    parser.add_argument("--no-ray", action="store_true", help="skip ray even if installed")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    parser.add_argument("--profile", choices=("round_trip", "map"), default=None,
                        help="profile this pythagoras figure with cProfile (all threads) instead")
    parser.add_argument("--profile-lines", type=int, default=20, help=argparse.SUPPRESS)
    opts = parser.parse_args(argv)

    if opts.dir is not None:
        opts.dir.mkdir(parents=True, exist_ok=True)
    root = Path(tempfile.mkdtemp(prefix="pythagoras-bench-executor-", dir=opts.dir))
    load_before = loadavg()
    began = time.perf_counter()
    others: dict[str, dict[str, Any]] = {}
    skipped: dict[str, str] = {}
    try:
        if opts.profile:
            _profile(root, opts.profile, opts)
            return 0
        print("pythagoras and loky ...", file=sys.stderr, flush=True)
        ours = _measure_pythagoras_and_loky(root, opts)
        for name, make, flag in (("dask", lambda: _Dask(root), opts.no_dask),
                                 ("ray", lambda: _Ray(root), opts.no_ray)):
            module = "distributed" if name == "dask" else "ray"
            if flag:
                skipped[name] = "--no-" + name
            elif not _installed(module):
                skipped[name] = "not installed"
            else:
                print(f"{name} ...", file=sys.stderr, flush=True)
                started = time.perf_counter()
                try:
                    others[name] = _measure_other(make, opts)
                except Exception as e:  # a peer that cannot start here is reported, not fatal
                    skipped[name] = f"failed: {type(e).__name__}: {e}"[:300]
                    continue
                others[name]["seconds_with_startup"] = round(time.perf_counter() - started, 2)
    finally:
        processes = reap_leftovers()
        if opts.keep:
            print(f"kept {root}", file=sys.stderr)
        else:
            shutil.rmtree(root, ignore_errors=True)
    wall = time.perf_counter() - began
    load_after = loadavg()

    rows = _rows(ours, others, opts)
    print(f"PythagorasExecutor(max_workers={WORKERS}) on a local folder ({root}, "
          f"{'kept' if opts.keep else 'removed'}); trivial inc(x), every argument new unless 'hits'")
    print("ratio = pythagoras / peer (round trips: lower is better; calls/s: higher is better)")
    _print_table(rows)
    for name, why in skipped.items():
        print(f"  {name}: skipped ({why})")
    print(f"  round trips: {opts.calls} per library after {opts.warmup} warm-up calls; maps: median of "
          f"{opts.repeat} runs of {opts.small:,} (pythagoras and loky interleaved); the {opts.large:,} map "
          f"took {ours['map_queued']['pythagoras']['seconds']} s")
    for r in rows:
        if r.get("note"):
            print(f"  {r['note']}")
    if processes["killed_after_grace"]:
        print(f"  WARNING: child processes outlived their shutdown and were killed: "
              f"{processes['killed_after_grace']}")
    print_load(wall, load_before, load_after, "every figure here is CPU-bound and suffers from it")

    result = {
        "benchmark": "executor",
        "when": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": machine(load_before, load_after),
        "versions": {d: version(d) for d in ("pythagoras", "loky", "cloudpickle", "watchdog",
                                               "dask", "distributed", "ray")},
        "git": _git_state(),
        "settings": {"folder": str(root), "workers": WORKERS, "calls": opts.calls, "warmup": opts.warmup,
                     "small": opts.small, "large": opts.large, "repeat": opts.repeat,
                     "wall_seconds": round(wall, 2)},
        "goals": GOALS,
        "rows": rows,
        "pythagoras_and_loky": ours,
        "others": others,
        "skipped": skipped,
        "processes": processes,
    }
    write_json(opts.json, result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
