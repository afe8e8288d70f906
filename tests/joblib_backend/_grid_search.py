"""The issue's grid search, as a user runs it: ``python _grid_search.py <how> <folder>``.

``how`` is ``sequential`` (``n_jobs=1``, no swarm), ``backend`` (inside ``parallel_backend``)
or ``config`` (inside ``parallel_config``). Prints one JSON line: the mean test scores, the
best parameters, and how many calls this process's peer executed.
"""

from __future__ import annotations

import json
import sys

from joblib import parallel_backend, parallel_config
from sklearn.datasets import load_digits
from sklearn.model_selection import GridSearchCV
from sklearn.svm import SVC

import pythagoras

GRID = {"C": [0.1, 1, 10, 100], "gamma": [1e-4, 1e-3, 1e-2]}


def search(how: str, folder: str, max_workers: int = 1) -> dict[str, object]:
    X, y = load_digits(return_X_y=True)
    search = GridSearchCV(SVC(), GRID, cv=3)
    if how == "sequential":
        search.set_params(n_jobs=1).fit(X, y)
    elif how == "backend":
        with parallel_backend("pythagoras", location=folder, max_workers=max_workers):
            search.fit(X, y)
    else:
        with parallel_config(backend="pythagoras", location=folder, max_workers=max_workers):
            search.fit(X, y)
    executed = 0
    if how != "sequential":
        backend = pythagoras.joblib_backend.PythagorasBackend(location=folder, max_workers=max_workers)
        executed = backend.executor._peer.executed
    return {"scores": [float(s) for s in search.cv_results_["mean_test_score"]],
            "best_params": search.best_params_, "executed": executed}


if __name__ == "__main__":
    print(json.dumps(search(sys.argv[1], sys.argv[2])), flush=True)
