"""The joblib issue's grid search, smaller (12 fits): ``python _search.py <how> <folder>``.

``how`` is ``sequential`` (``n_jobs=1``, no swarm) or ``loky`` (the backend with a plain loky
peer of one worker). In-process, :func:`search` also takes an engine (``engine=``). Prints
one JSON line: the mean test scores, the best parameters, how many calls this process's peer
executed, and whether its loky pool was ever started.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from joblib import parallel_backend
from sklearn.datasets import load_digits
from sklearn.model_selection import GridSearchCV
from sklearn.svm import SVC

import pythagoras

GRID = {"C": [1, 10], "gamma": [1e-3, 1e-2]}
FITS = 4 * 3  # candidates x folds, one memoized call each


def search(how: str, folder: str, engine: Any = None) -> dict[str, Any]:
    X, y = load_digits(return_X_y=True)
    grid = GridSearchCV(SVC(), GRID, cv=3)
    if how == "sequential":
        grid.set_params(n_jobs=1).fit(X, y)
        return {"scores": _scores(grid), "best_params": grid.best_params_}
    options: dict[str, Any] = {"location": folder}
    if engine is not None:
        options["engine"] = engine
    else:
        options["max_workers"] = 1
    with parallel_backend("pythagoras", **options):
        grid.fit(X, y)
    peer = pythagoras.joblib_backend.PythagorasBackend(**options).client.peer
    return {"scores": _scores(grid), "best_params": grid.best_params_,
            "executed": peer.executed, "pool_started": peer.pool.started}


def _scores(grid: Any) -> list[float]:
    return [float(s) for s in grid.cv_results_["mean_test_score"]]


if __name__ == "__main__":
    print(json.dumps(search(sys.argv[1], sys.argv[2])), flush=True)
