"""The joblib backend "pythagoras" against joblib's loky: the issue's grid search, first and again,
and the throughput of trivial tasks.

Run from the repository root, either way::

    .venv/bin/python -m benchmarks.joblib_backend
    .venv/bin/python benchmarks/joblib_backend.py --json /tmp/joblib_backend.json

Both sides have 2 worker processes. Figures, measured in one run on a fresh temporary folder
(made under ``--dir``, default the system temp dir):

- ``grid_first`` -- the issue's search, ``GridSearchCV(SVC(), {"C": [0.1, 1, 10, 100],
  "gamma": [1e-4, 1e-3, 1e-2]}, cv=3).fit(X, y)`` on ``load_digits`` (36 fits, then the refit of
  the best candidate in this process): wall time of ``fit`` under
  ``parallel_config(backend="loky", n_jobs=2)`` and under ``parallel_config(backend="pythagoras",
  location=FOLDER, max_workers=2)`` on a folder of its own (nothing memoized: the first run).
  ``--repeat`` runs of each, interleaved (loky, pythagoras, loky, ...), every pythagoras run on a
  fresh folder; medians. Goal: pythagoras / loky at most 1.15. Pool start-up is not in the
  figure: before every timed fit each side's pool is warmed by one tiny ``Parallel`` call whose
  tasks import scikit-learn's SVC and model selection in every worker (as a loky pool reused from
  the previous run already has; each pythagoras run starts a new executor, and so a new pool, on
  its fresh folder). The warm-up's seconds are reported apart.
- ``grid_rerun`` -- the same search in a NEW process (this file run with ``--rerun-child
  FOLDER``, the same ``parallel_config``) on a folder a ``grid_first`` pythagoras run filled,
  once per such folder: the wall time of ``fit`` in that process, and the speed-up = the median
  first pythagoras run / the median rerun. Goal: at least 20x. Nothing is warmed there: the
  rerun starts the executor on the folder itself (its pool is never started: every fit is a
  hit). The refit of the best candidate (``refit_time_``) runs in that process and is not
  memoized; it is reported apart, and so is the child's total wall time from ``Popen`` to exit
  (interpreter start, imports, loading the data, the fit, exit), with the speed-up it gives.
- ``trivial_throughput`` -- ``Parallel(n_jobs=2)(delayed(inc)(i) for i in args)`` over
  ``--tasks`` arguments, ``inc(x) = x + 1`` defined in this module (imported from
  ``benchmarks.joblib_backend`` even when this file runs as ``__main__``, so every worker
  imports it by reference): tasks per second with joblib's loky (``batch_size="auto"``) and
  with pythagoras on new arguments (all misses: every call stored), ``--repeat`` runs each,
  interleaved, on one folder; then pythagoras again on the first miss run's arguments
  (all hits), ``--repeat`` runs. Ratios vs loky; the issue states no goal for this figure.

Every figure here is CPU- and file-system-bound, and loky's workers run on the same 2 cores as
the peer's; the load average before and after is recorded (other work skews every figure).
Goals are printed beside the ratios; nothing is asserted: this is a benchmark, not a test.
Nothing is left behind: each pythagoras executor is shut down when its figure is done, joblib's
loky pool is shut down at the end, rerun children run in their own sessions (killed by process
group if they outlive ``--child-timeout``), children that outlive a grace period are killed by
pid, and the temporary folder is removed unless ``--keep``.
"""

from __future__ import annotations

import argparse
import datetime
import functools
import gc
import importlib
import itertools
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

try:
    from ._report import loadavg, machine, print_load, reap_leftovers, run_child, version, write_json
except ImportError:  # run as a script: benchmarks/NAME.py
    from _report import loadavg, machine, print_load, reap_leftovers, run_child, version, write_json  # type: ignore[import-not-found,no-redef]

# -- the tasks -----------------------------------------------------------------------------------
# Plain defs in this file. The main process takes them from the module ``benchmarks.joblib_backend``
# (see _tasks), so cloudpickle sends them by reference and the workers import this module
# (loky starts its workers with this process's sys.path). They read no globals.


def inc(x: int) -> int:
    return x + 1


def warm(x: int) -> tuple[int, int]:
    """Import what the grid search's workers import, then hold the worker a moment (so that the
    next warm-up task goes to another worker); the pid tells which worker ran it."""
    import sklearn.model_selection  # type: ignore[import-untyped]
    import sklearn.svm  # type: ignore[import-untyped]  # noqa: F401

    time.sleep(0.2)
    return x, os.getpid()


# -- settings ------------------------------------------------------------------------------------

WORKERS = 2
GRID = {"C": [0.1, 1, 10, 100], "gamma": [1e-4, 1e-3, 1e-2]}
FITS = 12 * 3  # candidates x folds, one task each
DEFAULT_JSON = Path(__file__).resolve().parent / "results" / "joblib_backend.json"
GOALS = {
    "grid_first_vs_loky": 1.15,  # at most
    "grid_rerun_speedup": 20.0,  # at least
}
_fresh = itertools.count(10**9)  # every miss argument comes from here: none is ever seen twice


def _new_args(n: int) -> list[int]:
    start = next(_fresh)
    for _ in range(n - 1):
        next(_fresh)
    return list(range(start, start + n))


def _tasks() -> ModuleType:
    """This module under its importable name, ``benchmarks.joblib_backend``."""
    if __name__ != "__main__":
        return sys.modules[__name__]
    root = str(Path(__file__).resolve().parent.parent)
    if root not in sys.path:  # run as a script: sys.path[0] is benchmarks/
        sys.path.insert(0, root)
    return importlib.import_module("benchmarks.joblib_backend")


def _search() -> Any:
    from sklearn.model_selection import GridSearchCV  # type: ignore[import-untyped]
    from sklearn.svm import SVC  # type: ignore[import-untyped]

    return GridSearchCV(SVC(), GRID, cv=3)


def _data() -> tuple[Any, Any]:
    from sklearn.datasets import load_digits  # type: ignore[import-untyped]

    return load_digits(return_X_y=True)


def _scores(search: Any) -> list[float]:
    return [float(s) for s in search.cv_results_["mean_test_score"]]


# -- the two backends ------------------------------------------------------------------------------


def _loky_config() -> Any:
    from joblib import parallel_config  # type: ignore[import-untyped]

    return parallel_config(backend="loky", n_jobs=WORKERS)


def _pythagoras_config(folder: Path) -> Any:
    from joblib import parallel_config  # type: ignore[import-untyped]

    import pythagoras  # noqa: F401 -- registers the backend

    return parallel_config(backend="pythagoras", location=str(folder), max_workers=WORKERS)


def _pythagoras_executor(folder: Path) -> Any:
    """The backend's shared executor on ``folder`` (internals: None if they moved)."""
    from pythagoras.joblib_backend import executors as executors_module

    with executors_module._executors_lock:
        for key, executor in executors_module._executors.items():
            if key[0] == str(folder):
                return executor
    return None


def _executed(folder: Path) -> int | None:
    executor = _pythagoras_executor(folder)
    try:
        return int(executor._peer.executed)
    except (AttributeError, TypeError):
        return None


def _close_pythagoras(folder: Path | None = None) -> None:
    """Shut down the backend's shared executors on ``folder`` (every folder if None), as the
    tests' fixture does: their peers leave the swarm and their pools stop."""
    try:
        from pythagoras.joblib_backend import executors as executors_module
    except ImportError:
        return
    with executors_module._executors_lock:
        stale = [key for key in executors_module._executors if folder is None or key[0] == str(folder)]
        executors = [executors_module._executors.pop(key) for key in stale]
    for executor in executors:
        executor.shutdown(wait=True, cancel_futures=True)


def _close_loky() -> None:
    """Shut down joblib's reusable loky pool, if one was started."""
    from joblib.externals.loky import reusable_executor  # type: ignore[import-untyped]

    executor = reusable_executor._executor
    if executor is not None:
        executor.shutdown(wait=True, kill_workers=True)


def _warm_up(config: Callable[[], Any], tasks: ModuleType) -> dict[str, Any]:
    """One tiny Parallel call on ``config``'s pool: starts its workers and imports scikit-learn
    there. Its seconds and how many distinct workers ran it."""
    from joblib import Parallel, delayed  # type: ignore[import-untyped]

    t0 = time.perf_counter()
    with config():
        out = Parallel(n_jobs=WORKERS)(delayed(tasks.warm)(i) for i in _new_args(WORKERS))
    return {"seconds": round(time.perf_counter() - t0, 3), "workers": len({pid for _, pid in out})}


# -- grid_first ------------------------------------------------------------------------------------


def _timed_fit(config: Callable[[], Any], X: Any, y: Any) -> tuple[float, Any]:
    search = _search()
    gc.collect()
    t0 = time.perf_counter()
    with config():
        search.fit(X, y)
    return time.perf_counter() - t0, search


def _grid_first(root: Path, tasks: ModuleType, opts: argparse.Namespace) -> dict[str, Any]:
    X, y = _data()
    runs: dict[str, list[dict[str, Any]]] = {"loky": [], "pythagoras": []}
    reference: list[float] | None = None
    for i in range(opts.repeat):
        print(f"  grid_first run {i + 1}/{opts.repeat}: loky ...", file=sys.stderr, flush=True)
        warmed = _warm_up(_loky_config, tasks)
        seconds, search = _timed_fit(_loky_config, X, y)
        if reference is None:
            reference = _scores(search)
        runs["loky"].append({"seconds": round(seconds, 3), "warm_up": warmed,
                             "refit_s": round(search.refit_time_, 3),
                             "same_scores_as_first_loky": _scores(search) == reference})

        print(f"  grid_first run {i + 1}/{opts.repeat}: pythagoras ...", file=sys.stderr, flush=True)
        folder = root / f"grid-{i + 1}"
        folder.mkdir()
        try:
            config = functools.partial(_pythagoras_config, folder)
            warmed = _warm_up(config, tasks)
            before = _executed(folder)
            seconds, search = _timed_fit(config, X, y)
            after = _executed(folder)
        finally:
            _close_pythagoras(folder)  # the folder stays, filled, for grid_rerun
        runs["pythagoras"].append({
            "seconds": round(seconds, 3), "warm_up": warmed, "refit_s": round(search.refit_time_, 3),
            "executed": None if before is None or after is None else after - before,  # FITS expected
            "results_stored": _results_stored(folder),  # FITS + the warm-up's WORKERS expected
            "same_scores_as_loky": _scores(search) == reference,
            "folder": str(folder), "scores": _scores(search), "best_params": search.best_params_})
    return {name: {"seconds": round(statistics.median(r["seconds"] for r in rs), 3), "runs": rs}
            for name, rs in runs.items()}


def _results_stored(folder: Path) -> int:
    return sum(1 for _, _, files in os.walk(folder / "results") for f in files if not f.startswith("."))


# -- grid_rerun ------------------------------------------------------------------------------------


def _rerun_child(folder: str) -> int:
    """The search again in this new process, on a folder a first run filled: one JSON line."""
    t0 = time.perf_counter()
    import joblib  # type: ignore[import-untyped]  # noqa: F401
    import sklearn.model_selection  # type: ignore[import-untyped]
    import sklearn.svm  # type: ignore[import-untyped]  # noqa: F401

    import pythagoras  # noqa: F401 -- registers the backend

    imports = time.perf_counter() - t0
    X, y = _data()
    path = Path(folder)
    try:
        seconds, search = _timed_fit(lambda: _pythagoras_config(path), X, y)
        executed = _executed(path)
    finally:
        t1 = time.perf_counter()
        _close_pythagoras()
        closed = time.perf_counter() - t1
    print(json.dumps({"fit_s": seconds, "refit_s": search.refit_time_, "imports_s": imports,
                      "shutdown_s": closed, "executed": executed, "scores": _scores(search),
                      "best_params": search.best_params_}), flush=True)
    return 0


def _grid_rerun(first: dict[str, Any], opts: argparse.Namespace) -> dict[str, Any]:
    runs = []
    for i, run in enumerate(first["pythagoras"]["runs"]):
        print(f"  grid_rerun {i + 1}/{len(first['pythagoras']['runs'])}: a new process ...",
              file=sys.stderr, flush=True)
        command = [sys.executable, str(Path(__file__).resolve()), "--rerun-child", run["folder"]]
        got, total = run_child(command, opts.child_timeout, f"the rerun child on {run['folder']}")
        runs.append({"fit_s": round(got["fit_s"], 4), "refit_s": round(got["refit_s"], 4),
                     "imports_s": round(got["imports_s"], 3), "shutdown_s": round(got["shutdown_s"], 3),
                     "total_wall_s": round(total, 3), "executed": got["executed"],  # 0 expected
                     "same_scores": got["scores"] == run["scores"] and got["best_params"] == run["best_params"]})

    def median(field: str) -> float:
        return round(statistics.median(r[field] for r in runs), 4)

    return {"fit_s": median("fit_s"), "refit_s": median("refit_s"), "imports_s": median("imports_s"),
            "total_wall_s": median("total_wall_s"), "runs": runs}


# -- trivial_throughput ----------------------------------------------------------------------------


def _timed_parallel(config: Callable[[], Any], tasks: ModuleType, args: list[int], who: str) -> float:
    """Tasks per second of one ``Parallel(n_jobs=2)`` over ``inc``, its values checked."""
    from joblib import Parallel, delayed  # type: ignore[import-untyped]

    gc.collect()
    t0 = time.perf_counter()
    with config():
        values = Parallel(n_jobs=WORKERS)(delayed(tasks.inc)(a) for a in args)
    seconds = time.perf_counter() - t0
    if values != [a + 1 for a in args]:
        raise SystemExit(f"{who} returned wrong values")
    return len(args) / seconds


def _rates(rates: list[float]) -> dict[str, Any]:
    return {"tasks_per_s": round(statistics.median(rates), 1), "runs": [round(r, 1) for r in rates]}


def _trivial(root: Path, tasks: ModuleType, opts: argparse.Namespace) -> dict[str, Any]:
    folder = root / "trivial"
    folder.mkdir()

    def config() -> Any:
        return _pythagoras_config(folder)

    try:
        warmed = {"loky": _warm_up(_loky_config, tasks), "pythagoras": _warm_up(config, tasks)}
        rates: dict[str, list[float]] = {"loky": [], "pythagoras": []}
        hit_args: list[int] | None = None
        for i in range(opts.repeat):
            print(f"  trivial_throughput run {i + 1}/{opts.repeat}: loky, pythagoras (misses) ...",
                  file=sys.stderr, flush=True)
            rates["loky"].append(_timed_parallel(_loky_config, tasks, _new_args(opts.tasks), "loky"))
            args = _new_args(opts.tasks)
            hit_args = hit_args or args
            rates["pythagoras"].append(_timed_parallel(config, tasks, args, "pythagoras (misses)"))
        assert hit_args is not None
        print("  trivial_throughput: pythagoras (hits) ...", file=sys.stderr, flush=True)
        hits = [_timed_parallel(config, tasks, hit_args, "pythagoras (hits)") for _ in range(opts.repeat)]
        executed = _executed(folder)
    finally:
        _close_pythagoras(folder)
    return {"loky": _rates(rates["loky"]), "pythagoras_misses": _rates(rates["pythagoras"]),
            "pythagoras_hits": _rates(hits), "warm_up": warmed,
            "pythagoras_executed": executed,  # tasks x repeat + the warm-up's WORKERS expected
            "results_stored": _results_stored(folder)}


# -- the table -----------------------------------------------------------------------------------


def _row(figure: str, ours: float, peer: str, theirs: float, unit: str, ratio: float,
         goal: str | None = None, met: bool | None = None, ratio_is: str = "pythagoras/peer",
         **extra: Any) -> dict[str, Any]:
    return {"figure": figure, "pythagoras": ours, "peer": peer, "peer_value": theirs, "unit": unit,
            "ratio": round(ratio, 4), "ratio_is": ratio_is, "goal": goal, "met": met, **extra}


def _rows(grid: dict[str, Any], rerun: dict[str, Any], trivial: dict[str, Any],
          opts: argparse.Namespace) -> list[dict[str, Any]]:
    first, loky = grid["pythagoras"]["seconds"], grid["loky"]["seconds"]
    ratio = first / loky
    goal = GOALS["grid_first_vs_loky"]
    speedup = first / rerun["fit_s"]
    wanted = GOALS["grid_rerun_speedup"]
    hits_free = rerun["fit_s"] - rerun["refit_s"]
    n = f"{opts.tasks:,}"
    loky_rate = trivial["loky"]["tasks_per_s"]
    return [
        _row("grid_first fit (s)", first, "loky n_jobs=2", loky, "s", ratio,
             f"<={goal:g}x", ratio <= goal),
        _row("grid_rerun fit, new process (s)", rerun["fit_s"], "pythagoras first run", first, "s",
             speedup, f">={wanted:g}x", speedup >= wanted, ratio_is="peer/pythagoras (speed-up)",
             note=f"grid_rerun fit includes the refit of the best candidate in the new process "
                  f"(not memoized): {rerun['refit_s']:.3f} s; without it {hits_free:.3f} s "
                  f"({first / hits_free:.0f}x)" if hits_free > 0 else None),
        _row("grid_rerun child wall (s)", rerun["total_wall_s"], "pythagoras first run", first, "s",
             first / rerun["total_wall_s"], ratio_is="peer/pythagoras (speed-up)",
             note=f"child wall = interpreter start + imports ({rerun['imports_s']:.2f} s) + data + "
                  "fit + exit"),
        _row(f"trivial {n} misses (tasks/s)", trivial["pythagoras_misses"]["tasks_per_s"],
             "loky batch_size=auto", loky_rate, "/s",
             trivial["pythagoras_misses"]["tasks_per_s"] / loky_rate),
        _row(f"trivial {n} hits (tasks/s)", trivial["pythagoras_hits"]["tasks_per_s"],
             "loky batch_size=auto", loky_rate, "/s",
             trivial["pythagoras_hits"]["tasks_per_s"] / loky_rate),
    ]


def _fmt(value: float, unit: str) -> str:
    return f"{value:.3f} s" if unit == "s" else f"{value:,.0f}/s"


def _print_table(rows: list[dict[str, Any]]) -> None:
    head = (f"{'figure':<33} {'pythagoras':>11}  {'peer':<22} {'peer':>11}  {'ratio':>8}  "
            f"{'goal':>8}  met")
    print(head)
    print("-" * len(head))
    for r in rows:
        met = {True: "yes", False: "NO", None: "-"}[r["met"]]
        print(f"{r['figure']:<33} {_fmt(r['pythagoras'], r['unit']):>11}  {r['peer']:<22} "
              f"{_fmt(r['peer_value'], r['unit']):>11}  {r['ratio']:>7.3f}x  {r['goal'] or '-':>8}  {met}")


def _git_state() -> dict[str, Any]:
    """The commit measured, and whether pythagoras/ had uncommitted changes (it changes often)."""
    repo = Path(__file__).resolve().parent.parent
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True,
                              text=True, timeout=10, check=False).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "pythagoras"], cwd=repo,
                               capture_output=True, text=True, timeout=10, check=False).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return {"commit": None, "pythagoras_dirty": None}
    return {"commit": head or None, "pythagoras_dirty": bool(dirty)}


# -- main ----------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.joblib_backend",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--json", type=Path, default=DEFAULT_JSON, metavar="PATH",
                        help=f"where to write the results (default: {DEFAULT_JSON})")
    parser.add_argument("--dir", type=Path, default=None,
                        help="make the temporary folder under this directory (default: the system temp dir)")
    parser.add_argument("--repeat", type=int, default=3,
                        help="runs of each grid search and of each trivial map (default: 3)")
    parser.add_argument("--tasks", type=int, default=20000, help="tasks in a trivial map (default: 20000)")
    parser.add_argument("--child-timeout", type=float, default=300.0,
                        help="seconds a rerun child may take before it is killed (default: 300)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    parser.add_argument("--rerun-child", metavar="FOLDER", default=None, help=argparse.SUPPRESS)
    opts = parser.parse_args(argv)
    if opts.rerun_child is not None:
        return _rerun_child(opts.rerun_child)

    if opts.dir is not None:
        opts.dir.mkdir(parents=True, exist_ok=True)
    root = Path(tempfile.mkdtemp(prefix="pythagoras-bench-joblib-", dir=opts.dir))
    load_before = loadavg()
    began = time.perf_counter()
    seconds: dict[str, float] = {}
    try:
        tasks = _tasks()
        started = time.perf_counter()
        print("grid_first ...", file=sys.stderr, flush=True)
        grid = _grid_first(root, tasks, opts)
        seconds["grid_first"] = round(time.perf_counter() - started, 2)
        started = time.perf_counter()
        print("grid_rerun ...", file=sys.stderr, flush=True)
        rerun = _grid_rerun(grid, opts)
        seconds["grid_rerun"] = round(time.perf_counter() - started, 2)
        started = time.perf_counter()
        print("trivial_throughput ...", file=sys.stderr, flush=True)
        trivial = _trivial(root, tasks, opts)
        seconds["trivial_throughput"] = round(time.perf_counter() - started, 2)
    finally:
        _close_pythagoras()
        _close_loky()
        processes = reap_leftovers()
        if opts.keep:
            print(f"kept {root}", file=sys.stderr)
        else:
            shutil.rmtree(root, ignore_errors=True)
    wall = time.perf_counter() - began
    load_after = loadavg()

    rows = _rows(grid, rerun, trivial, opts)
    print(f"joblib backends, {WORKERS} workers each, on {os.cpu_count()} CPUs; pythagoras on folders "
          f"under {root} ({'kept' if opts.keep else 'removed'})")
    print("ratio: times pythagoras/peer (lower is better), speed-ups peer/pythagoras and tasks/s "
          "pythagoras/peer (higher is better)")
    _print_table(rows)
    for r in rows:
        if r.get("note"):
            print(f"  {r['note']}")
    py_runs, lk_runs = grid["pythagoras"]["runs"], grid["loky"]["runs"]
    print(f"  grid_first: median of {opts.repeat} runs each, interleaved; loky "
          f"{[r['seconds'] for r in lk_runs]} s, pythagoras {[r['seconds'] for r in py_runs]} s; "
          f"warm-ups before them: loky {[r['warm_up']['seconds'] for r in lk_runs]} s, pythagoras "
          f"{[r['warm_up']['seconds'] for r in py_runs]} s")
    print(f"  grid_rerun: fits {[r['fit_s'] for r in rerun['runs']]} s, child walls "
          f"{[r['total_wall_s'] for r in rerun['runs']]} s, executed {[r['executed'] for r in rerun['runs']]} "
          f"calls (0 expected)")
    checks = ([r["same_scores_as_loky"] for r in py_runs] + [r["same_scores"] for r in rerun["runs"]]
              + [r["executed"] == FITS for r in py_runs])
    if not all(checks):
        print("  WARNING: a pythagoras search gave other scores than loky's, or ran another number "
              f"of fits than {FITS}: see the JSON")
    print(f"  trivial_throughput: median of {opts.repeat} runs of {opts.tasks:,} tasks; loky "
          f"{trivial['loky']['runs']}, pythagoras misses {trivial['pythagoras_misses']['runs']}, "
          f"hits {trivial['pythagoras_hits']['runs']} tasks/s")
    if processes["killed_after_grace"]:
        print(f"  WARNING: child processes outlived their shutdown and were killed: "
              f"{processes['killed_after_grace']}")
    print_load(wall, load_before, load_after, "every figure here is CPU-bound and suffers from it")

    result = {
        "benchmark": "joblib_backend",
        "when": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": machine(load_before, load_after),
        "versions": {d: version(d) for d in ("pythagoras", "joblib", "loky", "scikit-learn", "numpy",
                                               "cloudpickle")},
        "git": _git_state(),
        "settings": {"folder": str(root), "workers": WORKERS, "repeat": opts.repeat, "tasks": opts.tasks,
                     "grid": GRID, "cv": 3, "fits": FITS, "wall_seconds": round(wall, 2),
                     "figure_seconds": seconds},
        "goals": GOALS,
        "rows": rows,
        "grid_first": grid,
        "grid_rerun": rerun,
        "trivial_throughput": trivial,
        "processes": processes,
    }
    write_json(opts.json, result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
