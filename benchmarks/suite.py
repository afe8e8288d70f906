"""The suite of issue 9: every figure, pythagoras beside the peer measured in the same run.

Run from the repository root, either way::

    .venv/bin/python -m benchmarks                    # the full suite: a few minutes on 2 cores
    .venv/bin/python benchmarks/run.py --quick        # a smoke run of about a minute
    .venv/bin/python -m benchmarks --only round_trip --only records
    .venv/bin/python -m benchmarks --list             # the figures and what measures them

Each figure's measurement is the existing benchmark module's, called with fewer samples
(``benchmarks.memo``, ``benchmarks.executor``, ``benchmarks.joblib_backend``,
``benchmarks.swarm`` through ``benchmarks.peers``), or a module of its own (``benchmarks.peers``,
``benchmarks.records``). The figures are measured in groups, each group in a fresh interpreter
(``python -m benchmarks --child GROUP``, in a session of its own), one group after the other,
so that no group's threads, pools or page cache habits reach the next one, and a group that
hangs is killed (``--group-timeout``) without losing the others:

    memo      hit_small, hit_array, miss_small   decorator vs joblib.Memory (and diskcache)
    executor  round_trip, map_rate, map_queued   PythagorasExecutor vs loky, interleaved
    dask      round_trip, map_rate               dask LocalCluster (2 processes x 1 thread)
    ray       round_trip                         ray.init(num_cpus=2)
    grid      grid_first                         GridSearchCV fit, backend pythagoras vs loky
    peers     peers8                             8 ``pythagoras worker`` processes, 1 worker each
    records   records                            hit p50 with 1,000,000 records vs 1,000

The table has one line per figure and peer: pythagoras, the peer's value measured in this run,
the ratio pythagoras/peer (an efficiency for ``peers8``), the issue's goal and whether it is met.
The figures the issue quotes for its machines are orientation only: the peers of this run are
the reference. The JSON (``--json``; default ``benchmarks/results/suite.json`` for a full run,
``suite-partial.json`` for ``--quick`` or ``--only``) holds the rows, every group's raw
measurements, the load average around each group, versions and the commit measured.

``--profile DIR`` runs every group under ``py-spy record --subprocesses`` and leaves in DIR, per
group, its collapsed stacks (``GROUP.txt``: speedscope and flamegraph.pl read them) and their
top functions by samples on top of the stack and anywhere in it (``GROUP-top.txt``, made by
``python -m benchmarks._profile``); figures measured so are slower, and the table says so.
Nothing is asserted: this is a benchmark, not a test. Every temporary folder is removed
(unless ``--keep``), every process started is stopped.
"""

from __future__ import annotations

import argparse
import datetime
import gc
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any

from ._report import loadavg, machine, print_load, reap_leftovers, version, write_json

REPO = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "results"

# -- the figures ---------------------------------------------------------------------------------

#: figure -> (the groups that measure it, what it is)
FIGURES: dict[str, tuple[tuple[str, ...], str]] = {
    "hit_small": (("memo",), "decorator hit, small int argument; vs joblib.Memory, diskcache.memoize"),
    "hit_array": (("memo",), "decorator hit, 1 MiB numpy argument and result; vs joblib.Memory"),
    "miss_small": (("memo",), "decorator miss, small argument (computes and stores); vs joblib.Memory"),
    "round_trip": (("executor", "ray", "dask"), ("PythagorasExecutor submit().result() of one new call, idle "
                                                 "swarm, p50; vs loky, ray, dask")),
    "map_rate": (("executor", "dask"), ("memoized trivial calls per second, 2 workers, ex.map over new "
                                        "arguments (chunksize auto, the default, and 1); vs loky map chunksize=1, "
                                        "dask client.map")),
    "map_queued": (("executor",), "the same map with 20,000 calls queued; vs itself with 2,000"),
    "peers8": (("peers",), "8 peers with 1 worker each, 400 calls of 50 ms; efficiency vs ideal 2.5 s"),
    "records": (("records",), ("hit latency with 1,000,000 result records under the function's prefix; "
                               "vs itself with 1,000")),
    "grid_first": (("grid",), "GridSearchCV(SVC) on digits, first run, backend pythagoras; vs loky n_jobs=2"),
}
GROUPS = ("memo", "executor", "dask", "ray", "grid", "peers", "records")

GOALS = {
    "hit_small": ("ratio_at_most", 0.25),
    "hit_array": ("ratio_at_most", 0.10),
    "miss_small": ("ratio_at_most", 0.50),
    "round_trip": ("p50_ms_at_most", 2.0),
    "map_rate": ("ratio_at_least", 0.2),
    "map_queued": ("ratio_at_least", 0.7),
    "peers8": ("efficiency_at_least", 0.9),
    "records": ("ratio_at_most", 1.2),
    "grid_first": ("ratio_at_most", 1.15),
}

#: Per group, the samples of a full run (a few minutes on 2 cores) and of --quick (a minute).
SETTINGS: dict[str, dict[str, dict[str, Any]]] = {
    "full": {
        "memo": {"repeat": 9, "batch_s": 0.15, "warmup_s": 0.1},
        "executor": {"warmup": 30, "calls": 200, "small": 2000, "large": 20000, "chunksize": 1, "repeat": 3},
        "dask": {"warmup": 20, "calls": 100, "small": 2000, "repeat": 2},
        "ray": {"warmup": 20, "calls": 100, "small": 2000, "repeat": 1},
        "grid": {"repeat": 3},
        "peers": {"peers": 8, "calls": 400, "seconds": 0.05, "all_submit": True},
        "records": {"small": 1000, "large": 1_000_000, "hits": 300, "batches": 6, "processes": 2,
                    "budget": 150.0},
    },
    "quick": {
        "memo": {"repeat": 3, "batch_s": 0.05, "warmup_s": 0.05},
        "executor": {"warmup": 10, "calls": 50, "small": 500, "large": 5000, "chunksize": 1, "repeat": 1},
        "dask": {"warmup": 5, "calls": 30, "small": 500, "repeat": 1},
        "ray": {"warmup": 5, "calls": 30, "small": 200, "repeat": 1},
        "grid": {"repeat": 1},
        "peers": {"peers": 8, "calls": 160, "seconds": 0.05, "all_submit": False},
        "records": {"small": 1000, "large": 50_000, "hits": 200, "batches": 4, "processes": 2,
                    "budget": 30.0},
    },
}


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


# -- the groups (each runs in a child interpreter) ---------------------------------------------


def _group_memo(root: Path, p: dict[str, Any], figures: set[str]) -> dict[str, Any]:
    """benchmarks.memo's libraries and interleaved timed batches, for the decorator's rows."""
    from . import memo

    libs = memo._Libraries(root)
    try:
        array = memo._make_array()
        memo._check(libs, array)  # fills the hits' records; checks hits are hits
        timing = {"repeat": p["repeat"], "batch_s": p["batch_s"], "warmup_s": p["warmup_s"]}
        gc.collect()
        small, big = {"x": memo.SMALL_ARG}, {"a": array}
        specs: list[tuple[str, str, str, Any, Any, dict[str, Any]]] = []
        if "hit_small" in figures:
            specs.append(("hit_small", "joblib.Memory", "f(x=x)", libs.py["square"], libs.jl["square"], small))
            if libs.dc_square is not None:
                specs.append(("hit_small", "diskcache.memoize", "f(x=x)", libs.py["square"], libs.dc_square, small))
        if "hit_array" in figures:
            specs.append(("hit_array", "joblib.Memory", "f(a=a)", libs.py["double"], libs.jl["double"], big))
        rows = []
        for figure, peer, stmt, ours_f, peer_f, env in specs:
            _say(f"  {figure} vs {peer} ...")
            ours, theirs = memo._timed_pair((stmt, {"f": ours_f, **env}), (stmt, {"f": peer_f, **env}), **timing)
            rows.append({"figure": figure, "peer": peer, "pythagoras": ours, "peer_value": theirs})
        if "miss_small" in figures:
            import itertools

            _say("  miss_small vs joblib.Memory ...")
            miss = "f(x=next(it))"  # every call, warm-up included, a new argument
            ours, theirs = memo._timed_pair(
                (miss, {"f": libs.py["increment"], "it": itertools.count(memo.MISS_START)}),
                (miss, {"f": libs.jl["increment"], "it": itertools.count(memo.MISS_START)}), **timing)
            rows.append({"figure": "miss_small", "peer": "joblib.Memory", "pythagoras": ours, "peer_value": theirs})
        return {"rows": rows, "timing": timing, "array_bytes": memo.ARRAY_BYTES}
    finally:
        libs.close()


def _group_executor(root: Path, p: dict[str, Any], figures: set[str]) -> dict[str, Any]:
    """benchmarks.executor's pythagoras and loky sides, interleaved, for the figures asked."""
    from . import executor as E

    py, lk = E._Pythagoras(root), None
    out: dict[str, Any] = {}
    try:
        lk = E._Loky()
        for lib in (py, lk):
            E._warm(lib, p["warmup"])
        if "round_trip" in figures:
            _say("  round trips, pythagoras and loky interleaved ...")
            times: dict[str, list[float]] = {"pythagoras": [], "loky": []}
            batches = 5
            for _ in range(batches):
                for lib in (py, lk):
                    gc.collect()
                    times[lib.name] += E._round_trips(lib.call, E._new_args(max(1, p["calls"] // batches)), lib.name)
            out["round_trip"] = {name: E._percentiles(t) for name, t in times.items()}
        if figures & {"map_rate", "map_queued"}:
            _say(f"  maps of {p['small']:,} new arguments, interleaved, {p['repeat']} runs ...")
            rates: dict[str, list[float]] = {"pythagoras": [], "loky": [], "pythagoras_chunked": []}
            for _ in range(p["repeat"]):
                for lib in (py, lk):
                    rates[lib.name].append(E._timed_map(lib.map, E._new_args(p["small"]), lib.name))
                rates["pythagoras_chunked"].append(E._timed_map(
                    lambda a: py.map_chunked(a, p["chunksize"]), E._new_args(p["small"]), "pythagoras (chunked)"))
            out["map"] = {"calls": p["small"], "chunksize": p["chunksize"],
                          **{name: E._rate_summary(r) for name, r in rates.items()}}
        if "map_queued" in figures:
            _say(f"  map of {p['large']:,} new arguments (pythagoras) ...")
            t0 = time.perf_counter()
            rate = E._timed_map(py.map, E._new_args(p["large"]), "pythagoras (queued)")
            out["map_queued"] = {"calls": p["large"], "calls_per_s": round(rate, 1),
                                 "seconds": round(time.perf_counter() - t0, 2)}
        out["results_stored"], out["executed"] = E._swarm_counts(py)
    finally:
        if lk is not None:
            lk.close()
        py.close()
    return out


def _group_other(name: str) -> Any:
    def group(root: Path, p: dict[str, Any], figures: set[str]) -> dict[str, Any]:
        from . import executor as E

        module = "distributed" if name == "dask" else "ray"
        if not E._installed(module):
            return {"skipped": f"{module} is not installed"}
        make = (lambda: E._Dask(root)) if name == "dask" else (lambda: E._Ray(root))
        _say(f"  {name}: start, round trips, maps ...")
        started = time.perf_counter()
        result = E._measure_other(make, argparse.Namespace(**p))
        result["seconds_with_startup"] = round(time.perf_counter() - started, 2)
        return result

    return group


def _group_grid(root: Path, p: dict[str, Any], figures: set[str]) -> dict[str, Any]:
    """benchmarks.joblib_backend's first runs, loky and pythagoras interleaved."""
    from . import joblib_backend as J

    try:
        grid = J._grid_first(root, J._tasks(), argparse.Namespace(repeat=p["repeat"]))
    finally:
        J._close_pythagoras()
        J._close_loky()
    for run in grid["pythagoras"]["runs"]:
        run.pop("scores", None)
    return grid


def _group_peers(root: Path, p: dict[str, Any], figures: set[str]) -> dict[str, Any]:
    from . import peers

    _say(f"  {p['peers']} pythagoras workers, {p['calls']} calls of {p['seconds']} s ...")
    out = {"workers": peers.workers_run(root, peers=p["peers"], calls=p["calls"], seconds=p["seconds"])}
    if p["all_submit"]:
        _say(f"  {p['peers']} peers each submitting the same calls ...")
        run = peers.all_submit_run(root, peers=p["peers"], calls=p["calls"], seconds=p["seconds"])
        run.pop("peer_output", None)
        out["all_submit"] = run
    return out


def _group_records(root: Path, p: dict[str, Any], figures: set[str]) -> dict[str, Any]:
    from . import records

    # tmpfs where it has room (the default): a million files on this VM's ext4 take ~2 min to
    # write and ~3 min to delete, and churn the disk under every other process; on a warm cache
    # a hit reads the same dentry and page caches on either (--records-dir DIR chooses).
    base = Path(p["dir"]) if p.get("dir") else records.memory_folder(p["large"])
    folder = Path(tempfile.mkdtemp(prefix="pythagoras-bench-records-", dir=base)) if base else root
    try:
        return records.measure(folder, small=p["small"], large=p["large"], hits=p["hits"],
                               batches=p["batches"], processes=p["processes"], budget=p["budget"],
                               progress=lambda t: _say(f"  {t}"))
    finally:
        if folder != root:
            shutil.rmtree(folder, ignore_errors=True)


RUNNERS = {
    "memo": _group_memo,
    "executor": _group_executor,
    "dask": _group_other("dask"),
    "ray": _group_other("ray"),
    "grid": _group_grid,
    "peers": _group_peers,
    "records": _group_records,
}


def _child(group: str, params: dict[str, Any], figures: set[str], out: Path) -> int:
    """Run one group in this (fresh) interpreter and write its result as JSON to ``out``."""
    root = Path(params.pop("root"))
    root.mkdir(parents=True, exist_ok=True)
    began = time.perf_counter()
    try:
        result: dict[str, Any] = {"result": RUNNERS[group](root, params, figures)}
    except (Exception, SystemExit) as e:  # noqa: BLE001 -- reported in the table, not fatal to the suite
        result = {"error": f"{type(e).__name__}: {e}", "traceback": traceback.format_exc()[-4000:]}
    result["processes"] = reap_leftovers()
    result["seconds"] = round(time.perf_counter() - began, 2)
    out.write_text(json.dumps(result, default=str))
    return 0


# -- running the groups --------------------------------------------------------------------------


def _run_group(group: str, params: dict[str, Any], figures: set[str], root: Path, timeout: float,
               profile: Path | None) -> dict[str, Any]:
    out = root / f"{group}.json"
    params = {**params, "root": str(root / group)}
    command = [sys.executable, "-m", "benchmarks", "--child", group, "--child-params", json.dumps(params),
               "--child-figures", ",".join(sorted(figures)), "--child-out", str(out)]
    if profile is not None:
        py_spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
        command = [py_spy, "record", "--subprocesses", "--rate", "200", "--nonblocking", "--format", "raw",
                   "-o", str(profile / f"{group}.txt"), "--", *command]
    path = os.environ.get("PYTHONPATH")
    env = {**os.environ, "PYTHONPATH": str(REPO) + (os.pathsep + path if path else "")}
    load_before = loadavg()
    t0 = time.perf_counter()
    child = subprocess.Popen(command, cwd=REPO, env=env, start_new_session=True)
    try:
        child.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(child.pid, signal.SIGKILL)
        child.wait()
        return {"error": f"timed out after {timeout:.0f} s (killed)", "seconds": round(time.perf_counter() - t0, 2),
                "load_before": load_before, "load_after": loadavg()}
    finally:
        try:  # whatever the group left in its session
            os.killpg(child.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
    wall = time.perf_counter() - t0
    try:
        result = json.loads(out.read_text())
    except (OSError, ValueError):
        result = {"error": f"the group's process exited with {child.returncode} and wrote no result"}
    result["wall_s"] = round(wall, 2)
    result["load_before"], result["load_after"] = load_before, loadavg()
    if profile is not None and (profile / f"{group}.txt").exists():
        from ._profile import format_top, top

        summary = format_top(top(profile / f"{group}.txt", 30))
        (profile / f"{group}-top.txt").write_text(summary + "\n")
        result["profile"] = str(profile / f"{group}.txt")
    return result


# -- the table -----------------------------------------------------------------------------------


def _row(figure: str, label: str, ours: float, unit: str, peer: str, theirs: float | None,
         *, ratio: float | None = None, ratio_is: str = "pythagoras/peer", goal: bool = True,
         note: str | None = None) -> dict[str, Any]:
    if ratio is None and theirs:
        ratio = ours / theirs
    kind, target = GOALS[figure]
    met: bool | None = None
    text: str | None = None
    if goal:
        if kind == "ratio_at_most":
            text, met = f"<={target:g}x", None if ratio is None else ratio <= target
        elif kind == "ratio_at_least":
            text, met = f">={target:g}x", None if ratio is None else ratio >= target
        elif kind == "efficiency_at_least":
            text, met = f">={target:g}", None if ratio is None else ratio >= target
        elif kind == "p50_ms_at_most":
            text, met = f"p50<={target:g} ms", ours <= target
    return {"figure": figure, "label": label, "pythagoras": ours, "unit": unit, "peer": peer,
            "peer_value": theirs, "ratio": None if ratio is None else round(ratio, 4), "ratio_is": ratio_is,
            "goal": text, "met": met, "note": note}


def _rows(groups: dict[str, dict[str, Any]], figures: list[str]) -> tuple[list[dict[str, Any]], list[str]]:
    """The table's rows from the groups' results, and notes (errors, skips, details)."""
    rows: list[dict[str, Any]] = []
    notes: list[str] = []

    def result(group: str) -> dict[str, Any] | None:
        g = groups.get(group)
        if g is None:
            return None
        if "error" in g:
            notes.append(f"{group}: ERROR {g['error']}")
            return None
        r = g["result"]
        if r.get("skipped"):
            notes.append(f"{group}: skipped ({r['skipped']})")
            return None
        return r

    memo = result("memo") if {"hit_small", "hit_array", "miss_small"} & set(figures) else None
    if memo is not None:
        labels = {"hit_small": "hit, small int argument", "hit_array": "hit, 1 MiB numpy arg+result",
                  "miss_small": "miss, small argument"}
        for r in memo["rows"]:
            goal = r["peer"] == "joblib.Memory"
            rows.append(_row(r["figure"], labels[r["figure"]], r["pythagoras"]["median_us"], "us", r["peer"],
                             r["peer_value"]["median_us"], goal=goal))
    ex = result("executor") if {"round_trip", "map_rate", "map_queued"} & set(figures) else None
    ray = result("ray") if "round_trip" in figures else None
    dask = result("dask") if {"round_trip", "map_rate"} & set(figures) else None
    if "round_trip" in figures and ex is not None and "round_trip" in ex:
        rt = ex["round_trip"]
        ours = rt["pythagoras"]["p50_ms"]
        label = "round trip of one call, idle swarm, p50"
        rows.append(_row("round_trip", label, ours, "ms", "loky reusable 2w", rt["loky"]["p50_ms"]))
        for name, other in (("ray", ray), ("dask", dask)):
            if other is not None:
                peer = "ray local 2 CPUs" if name == "ray" else "dask LocalCluster 2w"
                rows.append(_row("round_trip", label, ours, "ms", peer, other["round_trip"]["p50_ms"], goal=False))
        notes.append(f"round trip p90: pythagoras {rt['pythagoras']['p90_ms']:.2f} ms, loky "
                     f"{rt['loky']['p90_ms']:.2f} ms ({rt['pythagoras']['calls']} calls each)")
    if "map_rate" in figures and ex is not None and "map" in ex:
        m = ex["map"]
        loky = m["loky"]["calls_per_s"]
        n = f"{m['calls']:,}"
        rows.append(_row("map_rate", f"memoized calls/s, 2w, map of {n} (chunksize auto)",
                         m["pythagoras"]["calls_per_s"], "/s", "loky map chunksize=1", loky))
        rows.append(_row("map_rate", f"  the same, map chunksize={m['chunksize']}",
                         m["pythagoras_chunked"]["calls_per_s"], "/s", "loky map chunksize=1", loky, goal=False))
        if dask is not None:
            rows.append(_row("map_rate", f"memoized calls/s, 2w, map of {n} (chunksize auto)",
                             m["pythagoras"]["calls_per_s"], "/s", "dask client.map", dask["map_misses"]["calls_per_s"], goal=False))
        notes.append(f"map runs (calls/s): pythagoras {m['pythagoras']['runs']}, chunksize={m['chunksize']} "
                     f"{m['pythagoras_chunked']['runs']}, loky {m['loky']['runs']}")
    if "map_queued" in figures and ex is not None and "map_queued" in ex and "map" in ex:
        q, m = ex["map_queued"], ex["map"]
        rows.append(_row("map_queued", f"the map with {q['calls']:,} queued", q["calls_per_s"], "/s",
                         f"itself with {m['calls']:,}", m["pythagoras"]["calls_per_s"]))
        notes.append(f"map of {q['calls']:,}: {q['seconds']} s; results stored in the executor's folder "
                     f"{ex.get('results_stored')}, executed {ex.get('executed')}")
    peers = result("peers") if "peers8" in figures else None
    if peers is not None:
        for variant in ("workers", "all_submit"):
            run = peers.get(variant)
            if run is None:
                continue
            label = (f"{run['peers']} workers x 1, {run['calls']} x {run['seconds_per_call'] * 1000:g} ms: wall"
                     if variant == "workers" else f"  {run['peers']} peers all submitting: wall")
            rows.append(_row("peers8", label, run["wall_s"], "s", "ideal", run["ideal_s"],
                             ratio=run["efficiency"], ratio_is="ideal/pythagoras (efficiency)"))
            dup = run["duplicates"] if isinstance(run["duplicates"], int) else run["duplicates"]["duplicates"]
            detail = (f"peers8 {variant}: efficiency {run['efficiency']:.3f}, duplicates {dup}, calls per peer "
                      f"{run.get('executed_per_worker') or run.get('executed_per_peer')}")
            if variant == "workers":
                gap = run["gap_between_calls"] or {}
                detail += (f"; submitting took {run['submit_s']:.3f} s, the last execution ended at "
                           f"{run['last_execution_ended_s']} s, a worker's gap between calls p50 "
                           f"{gap.get('p50_ms')} ms; CPU during the run: workers {run.get('cpu_s_workers')} s, "
                           f"client {run.get('cpu_s_client')} s ({run.get('cpu_ms_per_call')} ms a call)")
            notes.append(detail)
    recs = result("records") if "records" in figures else None
    if recs is not None:
        small, large = recs["fill"]["small"], recs["fill"]["large"]
        for front, label in (("decorator", "hit p50 at {n} records, f(x=k)"),
                             ("executor", "  the same, ex.submit(f, x=k).result()")):
            h = recs["hits"][front]
            rows.append(_row("records", label.format(n=f"{large['records']:,}"), h["large"]["p50_us"], "us",
                             f"itself at {small['records']:,}", h["small"]["p50_us"]))
        notes.append(f"records: on {recs.get('file_system')} ({recs.get('folder')}); "
                     f"{large['records']:,} records written in {large['seconds']} s "
                     f"({large['us_per_record']} µs each, {large['processes']} processes), "
                     f"{large['disk_bytes'] / 2**30:.2f} GiB and {large['inodes']:,} inodes used; removed in "
                     f"{recs.get('removal_s')} s" + ("" if large["complete"] else
                                                     f"; the fill budget ran out: {large['wanted']:,} wanted"))
    grid = result("grid") if "grid_first" in figures else None
    if grid is not None:
        rows.append(_row("grid_first", "GridSearchCV first run (fit s)", grid["pythagoras"]["seconds"], "s",
                         "loky n_jobs=2", grid["loky"]["seconds"]))
        notes.append(f"grid_first runs (s): pythagoras {[r['seconds'] for r in grid['pythagoras']['runs']]}, "
                     f"loky {[r['seconds'] for r in grid['loky']['runs']]}; same scores as loky "
                     f"{all(r['same_scores_as_loky'] for r in grid['pythagoras']['runs'])}")
    for group, g in groups.items():
        killed = (g.get("processes") or {}).get("killed_after_grace")
        if killed:
            notes.append(f"{group}: child processes outlived their shutdown and were killed: {killed}")
    return rows, notes


def _fmt(value: float | None, unit: str) -> str:
    if value is None:
        return "-"
    if unit == "us":
        return f"{value:.1f} µs" if value < 1000 else f"{value / 1000:.2f} ms"
    if unit == "ms":
        return f"{value:.2f} ms"
    if unit == "/s":
        return f"{value:,.0f}/s"
    return f"{value:.3f} s"


def _print_table(rows: list[dict[str, Any]]) -> None:
    head = (f"{'figure':<40} {'pythagoras':>11}  {'peer measured':<22} {'peer':>11}  {'ratio':>7}  "
            f"{'goal':>12}  met?")
    print(head)
    print("-" * len(head))
    for r in rows:
        ratio = "-" if r["ratio"] is None else f"{r['ratio']:.3f}"
        met = {True: "yes", False: "NO", None: "-"}[r["met"]]
        print(f"{r['label']:<40} {_fmt(r['pythagoras'], r['unit']):>11}  {r['peer']:<22} "
              f"{_fmt(r['peer_value'], r['unit']):>11}  {ratio:>7}  {r['goal'] or '-':>12}  {met}")


# -- main ----------------------------------------------------------------------------------------


def _selected(only: list[str] | None) -> list[str]:
    if not only:
        return list(FIGURES)
    chosen: list[str] = []
    for name in only:
        for part in name.split(","):
            if part in FIGURES:
                chosen.append(part)
            elif part in GROUPS:
                chosen += [f for f, (groups, _) in FIGURES.items() if groups[0] == part or part in groups]
            else:
                raise SystemExit(f"--only {part}: not a figure or group; see --list")
    return list(dict.fromkeys(chosen))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="a smoke run of about a minute (fewer samples)")
    parser.add_argument("--only", action="append", metavar="NAME",
                        help="run only this figure (or group); repeat or comma-separate for several")
    parser.add_argument("--list", action="store_true", help="list the figures and exit")
    parser.add_argument("--json", type=Path, default=None, metavar="PATH",
                        help="where to write the results (default: benchmarks/results/suite.json for a full "
                             "run, suite-partial.json otherwise)")
    parser.add_argument("--dir", type=Path, default=None,
                        help="make the temporary folder under this directory (default: the system temp dir)")
    parser.add_argument("--records", type=int, default=None, metavar="N",
                        help="records in the big store (default 1,000,000; --quick 50,000)")
    parser.add_argument("--fill-budget", type=float, default=None, metavar="SECONDS",
                        help="seconds the big store's fill may take (default 150; --quick 30)")
    parser.add_argument("--records-dir", type=Path, default=None, metavar="DIR",
                        help="make the records figure's stores under DIR (default: /dev/shm where it has "
                             "room, else the temporary folder)")
    parser.add_argument("--no-ray", action="store_true", help="skip ray")
    parser.add_argument("--no-dask", action="store_true", help="skip dask")
    parser.add_argument("--group-timeout", type=float, default=600.0, metavar="SECONDS",
                        help="kill a group that runs longer (default 600)")
    parser.add_argument("--profile", type=Path, default=None, metavar="DIR",
                        help="run each group under py-spy record; collapsed stacks and top functions in DIR")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--child-params", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--child-figures", default="", help=argparse.SUPPRESS)
    parser.add_argument("--child-out", type=Path, default=None, help=argparse.SUPPRESS)
    opts = parser.parse_args(argv)
    if opts.child is not None:
        return _child(opts.child, json.loads(opts.child_params), set(filter(None, opts.child_figures.split(","))),
                      opts.child_out)
    if opts.list:
        for name, (groups, what) in FIGURES.items():
            print(f"{name:<11} [{', '.join(groups)}] {what}")
        return 0

    figures = _selected(opts.only)
    mode = "quick" if opts.quick else "full"
    settings = {group: dict(params) for group, params in SETTINGS[mode].items()}
    if opts.records is not None:
        settings["records"]["large"] = opts.records
    if opts.fill_budget is not None:
        settings["records"]["budget"] = opts.fill_budget
    if opts.records_dir is not None:
        opts.records_dir.mkdir(parents=True, exist_ok=True)
        settings["records"]["dir"] = str(opts.records_dir.resolve())
    skipped = {"ray": opts.no_ray, "dask": opts.no_dask}
    plan = [g for g in GROUPS if not skipped.get(g)
            and any(g in FIGURES[f][0] for f in figures)]
    partial = opts.quick or bool(opts.only) or any(skipped.values())
    json_path = opts.json or RESULTS / ("suite-partial.json" if partial else "suite.json")
    if opts.profile is not None:
        opts.profile.mkdir(parents=True, exist_ok=True)
    if opts.dir is not None:
        opts.dir.mkdir(parents=True, exist_ok=True)
    root = Path(tempfile.mkdtemp(prefix="pythagoras-bench-suite-", dir=opts.dir))

    load_before = loadavg()
    began = time.perf_counter()
    groups: dict[str, dict[str, Any]] = {}
    try:
        for group in plan:
            wanted = {f for f in figures if group in FIGURES[f][0]}
            _say(f"{group} ({', '.join(sorted(wanted))}) ...")
            groups[group] = _run_group(group, settings[group], wanted, root, opts.group_timeout, opts.profile)
            _say(f"{group}: {groups[group].get('wall_s', groups[group].get('seconds'))} s"
                 + (f" -- ERROR {groups[group]['error']}" if "error" in groups[group] else ""))
    finally:
        processes = reap_leftovers()
        if opts.keep:
            _say(f"kept {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)
    wall = time.perf_counter() - began
    load_after = loadavg()

    rows, notes = _rows(groups, figures)
    print(f"pythagoras benchmark suite ({mode}{', ' + ', '.join(figures) if opts.only else ''}); "
          f"{os.cpu_count()} CPUs; ratio = pythagoras/peer (for peers8: ideal/wall, the efficiency)")
    if opts.profile is not None:
        print(f"PROFILED under py-spy: every figure is slower than unprofiled. Per group, in {opts.profile}: "
              "GROUP.txt, collapsed stacks of every process (speedscope and flamegraph.pl read them), and "
              "GROUP-top.txt, its top functions (python -m benchmarks._profile GROUP.txt)")
    _print_table(rows)
    for note in notes:
        print(f"  {note}")
    missed = [r["label"].strip() for r in rows if r["met"] is False]
    print(f"goals met: {sum(r['met'] is True for r in rows)} of {sum(r['met'] is not None for r in rows)}"
          + (f"; missed: {'; '.join(missed)}" if missed else ""))
    print("groups (s, 1-min load before -> after): " + ", ".join(
        f"{g} {r.get('wall_s', r.get('seconds'))} ({r.get('load_before')} -> {r.get('load_after')})"
        for g, r in groups.items()))
    if processes["killed_after_grace"]:
        print(f"  WARNING: child processes outlived the suite and were killed: {processes['killed_after_grace']}")
    print_load(wall, load_before, load_after, "every figure here is CPU- or disk-bound and suffers from it")

    from .executor import _git_state

    write_json(json_path, {
        "benchmark": "suite",
        "mode": mode,
        "when": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": machine(load_before, load_after),
        "versions": {d: version(d) for d in ("pythagoras", "joblib", "loky", "cloudpickle", "numpy", "diskcache",
                                               "dask", "distributed", "ray", "scikit-learn", "watchdog")},
        "git": _git_state(),
        "settings": {"figures": figures, "groups": {g: settings[g] for g in plan}, "folder": str(root),
                     "profiled": opts.profile is not None, "wall_seconds": round(wall, 2)},
        "goals": {f: {"kind": k, "target": t} for f, (k, t) in GOALS.items()},
        "rows": rows,
        "notes": notes,
        "groups": groups,
        "processes": processes,
    })
    return 0
