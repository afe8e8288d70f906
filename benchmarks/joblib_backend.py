"""The joblib backend "pythagoras": a grid search first and again, trivial tasks; peer loky.

    python -m benchmarks joblib_backend [--quick]

Both sides have 2 worker processes. Rows:
- grid first: ``GridSearchCV(SVC(), {"C": [0.1, 1, 10, 100], "gamma": [1e-4, 1e-3, 1e-2]},
  cv=3).fit(X, y)`` on ``load_digits`` (36 fits, then the refit of the best in this process),
  wall time of ``fit`` under ``parallel_config(backend="loky", n_jobs=2)`` and under
  ``parallel_config(backend="pythagoras", location=FOLDER, max_workers=2)`` on a fresh folder,
  ``repeat`` runs of each interleaved, medians; goal <= 1.15x loky. Each side's pool is warmed
  before each fit by a tiny ``Parallel`` call that imports scikit-learn in every worker.
- grid rerun: the same search in a NEW process with a plain loky peer on a folder a first run
  filled (all hits), once per folder; its ``fit`` (which includes scikit-learn's refit of the
  best candidate, not memoized) and the child's whole wall; goal >= 20x faster than the first.
  The same rerun with a dask engine is the ``engines`` figure's.
- trivial: ``Parallel(n_jobs=2)(delayed(inc)(i) for i in args)`` over ``tasks`` new arguments
  (misses), then the same arguments again (hits), tasks/s beside loky's.
"""

from __future__ import annotations

import gc
import os
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .harness import Result, Row
from .harness.processes import call_args, run_json
from .harness.timing import fresh, runs

SETTINGS = {"full": {"repeat": 3, "tasks": 20000, "child_timeout": 300.0},
            "quick": {"repeat": 1, "tasks": 1000, "child_timeout": 300.0}}
WORKERS = 2
GRID = {"C": [0.1, 1, 10, 100], "gamma": [1e-4, 1e-3, 1e-2]}
FITS = 12 * 3  # candidates x folds, one task each


# Tasks the workers import by reference from ``benchmarks.joblib_backend``.
def inc(x: int) -> int:
    return x + 1


def warm(x: int) -> int:
    """Import what the grid search's workers import; hold the worker so the next goes elsewhere."""

    time.sleep(0.2)
    return x


def loky_config() -> Any:
    from joblib import parallel_config  # type: ignore[import-untyped]

    return parallel_config(backend="loky", n_jobs=WORKERS)


def pythagoras_config(folder: Path, **options: Any) -> Callable[[], Any]:
    from joblib import parallel_config

    import pythagoras  # noqa: F401 -- registers the backend

    return lambda: parallel_config(backend="pythagoras", location=str(folder), **options)


def warm_up(config: Callable[[], Any], workers: int = WORKERS) -> float:
    from joblib import Parallel, delayed  # type: ignore[import-untyped]

    t0 = time.perf_counter()
    with config():
        Parallel(n_jobs=workers)(delayed(warm)(i) for i in fresh(2 * workers))
    return round(time.perf_counter() - t0, 3)


def timed_fit(config: Callable[[], Any]) -> tuple[float, Any]:
    """Seconds of the grid search's ``fit`` under ``config``, and the fitted search."""
    from sklearn.datasets import load_digits  # type: ignore[import-untyped]
    from sklearn.model_selection import GridSearchCV  # type: ignore[import-untyped]
    from sklearn.svm import SVC  # type: ignore[import-untyped]

    X, y = load_digits(return_X_y=True)
    search = GridSearchCV(SVC(), GRID, cv=3)
    gc.collect()
    t0 = time.perf_counter()
    with config():
        search.fit(X, y)
    return time.perf_counter() - t0, search


def scores(search: Any) -> list[float]:
    return [float(s) for s in search.cv_results_["mean_test_score"]]


def executed(folder: Path) -> int | None:
    """How many calls the backend's executor on ``folder`` ran (internals: None if they moved)."""
    from pythagoras.joblib_backend import executors as executors_module

    with executors_module._executors_lock:
        for key, executor in executors_module._executors.items():
            if key[0] == str(folder):
                try:
                    return int(executor._peer.executed)
                except (AttributeError, TypeError):
                    return None
    return None


def close_pythagoras() -> None:
    from pythagoras.joblib_backend import shutdown_executors

    shutdown_executors(wait=True)


def rerun(folder: str, scheduler: str | None = None) -> dict[str, Any]:
    """The search again in a new process on a filled folder, with a loky peer or, given a dask
    scheduler's address, with a client of that cluster as the engine (a child's entry)."""
    client = None
    if scheduler is not None:
        from distributed import Client

        client = Client(scheduler)
    try:
        options = {} if client is None else {"engine": client.get_executor()}
        seconds, search = timed_fit(pythagoras_config(Path(folder), **options))
        ran = executed(Path(folder))
    finally:
        close_pythagoras()
        if client is not None:
            client.close()
    return {"fit_s": seconds, "refit_s": search.refit_time_, "executed": ran, "scores": scores(search)}


def reruns(folders: list[str], timeout: float, scheduler: str | None = None) -> dict[str, Any]:
    """:func:`rerun` in a new process per folder: medians of its fit, refit and whole wall."""
    got = []
    for folder in folders:
        args = call_args("benchmarks.joblib_backend:rerun", folder, scheduler)
        child, wall = run_json(args, timeout, "a rerun")
        got.append({**child, "wall_s": wall})
    medians = {k: round(statistics.median(r[k] for r in got), 4) for k in ("fit_s", "refit_s", "wall_s")}
    return medians | {"runs": got}


def _trivial(folder: Path, tasks: int, repeat: int) -> dict[str, Any]:
    from joblib import Parallel, delayed

    def rate(config: Callable[[], Any], args: list[int]) -> float:
        t0 = time.perf_counter()
        with config():
            values = Parallel(n_jobs=WORKERS)(delayed(inc)(a) for a in args)
        if values != [a + 1 for a in args]:
            raise SystemExit("a Parallel call returned wrong values")
        return len(args) / (time.perf_counter() - t0)

    ours = pythagoras_config(folder, max_workers=WORKERS)
    warm_up(ours)
    misses, loky, hit_args = [], [], fresh(tasks)
    for i in range(repeat):
        loky.append(rate(loky_config, fresh(tasks)))
        misses.append(rate(ours, hit_args if i == 0 else fresh(tasks)))
    hits = [rate(ours, hit_args) for _ in range(repeat)]
    close_pythagoras()
    return {"loky": runs(loky), "misses": runs(misses), "hits": runs(hits)}


def measure(root: Path, *, repeat: int, tasks: int, child_timeout: float) -> Result:
    first: dict[str, list[float]] = {"loky": [], "pythagoras": []}
    same, folders = [], []
    for i in range(repeat):
        warm_up(loky_config)
        seconds, search = timed_fit(loky_config)
        first["loky"].append(seconds)
        folder = root / f"grid-{i}"
        config = pythagoras_config(folder, max_workers=WORKERS)
        warm_up(config)
        seconds, ours = timed_fit(config)
        first["pythagoras"].append(seconds)
        same.append(scores(ours) == scores(search) and executed(folder) == FITS + 2 * WORKERS)
        close_pythagoras()  # the folder stays, filled, for the rerun
        folders.append(str(folder))
    again = reruns(folders, child_timeout)
    trivial = _trivial(root / "trivial", tasks, repeat)
    from joblib.externals.loky import get_reusable_executor  # type: ignore[import-untyped]

    get_reusable_executor().shutdown(wait=True, kill_workers=True)  # joblib's pool, warm till now
    py, lk = statistics.median(first["pythagoras"]), statistics.median(first["loky"])
    rows = [Row("grid first fit", py, "s", "loky n_jobs=2", lk, "ratio<=1.15"),
            Row("grid rerun fit, new process, loky peer", again["fit_s"], "s", "the first fit", py,
                "ratio>=20", inverse=True),
            Row("  the rerun child's whole wall", again["wall_s"], "s", "the first fit", py, inverse=True),
            Row(f"trivial {tasks:,} misses", trivial["misses"]["median"], "/s", "loky batch_size=auto",
                trivial["loky"]["median"]),
            Row(f"trivial {tasks:,} hits", trivial["hits"]["median"], "/s", "loky batch_size=auto",
                trivial["loky"]["median"])]
    notes = [(f"first fits (s): loky {[round(s, 3) for s in first['loky']]}, pythagoras "
             f"{[round(s, 3) for s in first['pythagoras']]}; the rerun's fit includes the refit of the best "
             f"candidate (not memoized), {again['refit_s']:.3f} s"),
             "scores as loky's and every fit run once: " + ("yes" if all(same) else "NO, see the JSON")
             + f"; reruns executed {[r['executed'] for r in again['runs']]} (0 expected)"]
    return Result(rows, notes, {"first": first, "rerun": again, "trivial": trivial, "cpus": os.cpu_count()})
