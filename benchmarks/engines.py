"""pythagoras on a dask cluster (``engine=client.get_executor()``); peer dask's joblib backend.

    python -m benchmarks engines [--quick]

One dask ``LocalCluster`` on 127.0.0.1 (``workers`` processes of one thread each) serves both
sides; before anything is timed, a tiny ``Parallel`` call through dask's backend imports
scikit-learn in every worker. Rows:
- grid first: the ``joblib_backend`` figure's grid search (36 fits), wall time of ``fit`` under
  ``parallel_backend("dask")`` and under ``parallel_config(backend="pythagoras",
  location=FOLDER, engine=client.get_executor())`` on a fresh folder (every fit runs on the
  cluster through the folder), ``repeat`` runs each interleaved, medians; goal <= 1.2x dask.
- grid rerun: the same search in a NEW process whose engine is a client of the same cluster, on
  a folder a first run filled; goal >= 20x faster than the first run. (The rerun with a plain
  loky peer is the ``joblib_backend`` figure's.)
"""

from __future__ import annotations

import statistics
from pathlib import Path
from typing import Any

from .harness import Result, Row
from .joblib_backend import (
    close_pythagoras,
    executed,
    pythagoras_config,
    reruns,
    scores,
    timed_fit,
    warm_up,
)

SETTINGS = {"full": {"repeat": 3, "workers": 2, "child_timeout": 300.0},
            "quick": {"repeat": 1, "workers": 2, "child_timeout": 300.0}}
FITS = 12 * 3


def dask_config() -> Any:
    from joblib import parallel_backend  # type: ignore[import-untyped]

    return parallel_backend("dask")


def measure(root: Path, *, repeat: int, workers: int, child_timeout: float) -> Result:
    from distributed import Client, LocalCluster

    cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, host="127.0.0.1",
                           dashboard_address=None, local_directory=str(root / "dask"), silence_logs=40)
    client = Client(cluster)
    try:
        warm_up(dask_config, workers)
        first: dict[str, list[float]] = {"dask": [], "pythagoras": []}
        same, folders = [], []
        for i in range(repeat):
            seconds, search = timed_fit(dask_config)
            first["dask"].append(seconds)
            folder = root / f"grid-{i}"
            seconds, ours = timed_fit(pythagoras_config(folder, engine=client.get_executor()))
            first["pythagoras"].append(seconds)
            same.append(scores(ours) == scores(search) and executed(folder) == FITS)
            close_pythagoras()  # the folder stays, filled, for the rerun
            folders.append(str(folder))
        again = reruns(folders, child_timeout, cluster.scheduler_address)
    finally:
        close_pythagoras()
        client.close()
        cluster.close()
    py, dk = statistics.median(first["pythagoras"]), statistics.median(first["dask"])
    best = min(first["pythagoras"]) / min(first["dask"])
    rows = [Row("grid first fit, pythagoras on dask", py, "s", "dask's joblib backend", dk, "ratio<=1.2"),
            Row("grid rerun fit, new process, dask engine", again["fit_s"], "s", "the first fit", py,
                "ratio>=20", inverse=True)]
    notes = [(f"first fits (s): dask {[round(s, 3) for s in first['dask']]}, pythagoras "
             f"{[round(s, 3) for s in first['pythagoras']]}; best against best {best:.2f}x"),
             (f"the rerun's fit includes the refit of the best candidate (not memoized), "
              f"{again['refit_s']:.3f} s; the child's whole wall {again['wall_s']:.2f} s"),
             "scores as dask's and every fit run once: " + ("yes" if all(same) else "NO, see the JSON")
             + f"; reruns executed {[r['executed'] for r in again['runs']]} (0 expected)"]
    return Result(rows, notes, {"first": first, "rerun": again})
