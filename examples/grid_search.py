"""scikit-learn's GridSearchCV on the swarm, through the joblib backend ``"pythagoras"``.

Importing pythagoras registers the backend. Under ``parallel_config(backend="pythagoras")``
every fit of the search is a call in the swarm, memoized in its folder: the same search run
again (here, or on any machine that sees the folder, or after the first was killed half-way)
only computes what is missing. The script runs the search twice; run it again and both read
back.

    python examples/grid_search.py            # the embedded default location
    python examples/grid_search.py my_project # a folder of your choice
"""

from __future__ import annotations

import sys
import threading
import time
from collections import Counter

from joblib import parallel_config
from sklearn.datasets import load_digits
from sklearn.model_selection import GridSearchCV
from sklearn.svm import SVC

from pythagoras import default_location, hookimpl
from pythagoras.storage.plugins import plugin_manager

GRID = {"C": [0.1, 1, 10], "gamma": [1e-4, 1e-3, 1e-2]}
FOLDS = 3


class Tally:
    """Counts the backend's ``submitted`` events (see docs/plugins.md): each fit is either
    found in the folder at once (a hit) or sent to the swarm, where some peer computes it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.counts: Counter[bool] = Counter()

    @hookimpl
    def pythagoras_call_submitted(self, event) -> None:  # type: ignore[no-untyped-def]
        with self._lock:
            self.counts[event.cached] += 1

    def take(self) -> str:
        with self._lock:
            counts, self.counts = self.counts, Counter()
        return f"fits sent to the swarm: {counts[False]:2d}, read back: {counts[True]:2d}"


def main() -> None:
    location = sys.argv[1] if len(sys.argv) > 1 else default_location()
    print(f"swarm folder: {location}\n")
    tally = Tally()
    plugin_manager().register(tally, name="grid-search-example-tally")
    X, y = load_digits(return_X_y=True)
    with parallel_config(backend="pythagoras", location=location):
        for attempt in ("first search", "same search"):
            started = time.perf_counter()
            search = GridSearchCV(SVC(), GRID, cv=FOLDS).fit(X, y)
            elapsed = time.perf_counter() - started
            print(f"{attempt:<13} {elapsed:7.2f} s   {tally.take()}   "
                  f"best {search.best_params_} score {search.best_score_:.4f}")
    print("\nRun me again, or from another process on the same folder: every fit is read back.")


if __name__ == "__main__":
    main()
