"""``pythagoras.Memory``: joblib's ``Memory`` API over the swarm's folder.

Code written for ``joblib.Memory`` keeps working, scikit-learn's ``Pipeline(memory=...)``
among it, and its records are the swarm's: any process or machine that sees the folder reads
them back (see docs/memory.md). Memory prints as joblib's does: a ``[Memory] Calling ...``
banner before each call it computes, nothing for a call it reads back.

The script fits a pipeline twice (its transformers are computed once) and calls a
``mem.cache``-d function twice. Run it again and everything is read back.

    python examples/memory_pipeline.py            # the embedded default location
    python examples/memory_pipeline.py my_project # a folder of your choice
"""

from __future__ import annotations

import os
import sys
import time

from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

from pythagoras import Memory, default_location

SECONDS = float(os.environ.get("PYTHAGORAS_EXAMPLE_SLEEP", "0.5"))  # stands for a slow computation


class SlowFeatures(TransformerMixin, BaseEstimator):
    """Stands for an expensive feature step: fitting it takes SECONDS; it passes X through."""

    def fit(self, X, y=None):  # type: ignore[no-untyped-def]
        time.sleep(SECONDS)
        return self

    def transform(self, X):  # type: ignore[no-untyped-def]
        return X


def slow_sum_of_squares(n: int) -> int:
    time.sleep(SECONDS)
    return sum(i * i for i in range(n))


def main() -> None:
    location = sys.argv[1] if len(sys.argv) > 1 else default_location()
    mem = Memory(location)  # verbose=1, joblib's default: a banner for each call computed
    print(f"swarm folder: {location}\n")

    # A pipeline whose transformers are memoized: a second fit reads them back.
    X, y = load_digits(return_X_y=True)
    for attempt in ("first fit", "second fit"):
        pipe = Pipeline([("features", SlowFeatures()), ("scale", StandardScaler()),
                         ("pca", PCA(n_components=20, random_state=0)), ("svc", SVC())],
                        memory=mem)
        started = time.perf_counter()
        pipe.fit(X, y)
        elapsed = time.perf_counter() - started
        print(f"pipeline: {attempt:<10} {elapsed:7.2f} s   training accuracy {pipe.score(X, y):.4f}")

    # A function of one's own.
    cached = mem.cache(slow_sum_of_squares)
    for attempt in ("first call", "second call"):
        stored = cached.check_call_in_cache(1000)
        started = time.perf_counter()
        value = cached(1000)
        elapsed = time.perf_counter() - started
        print(f"mem.cache: {attempt:<11} {elapsed:7.2f} s   stored before: {stored!s:<5}   "
              f"slow_sum_of_squares(1000) = {value}")
    print("\nRun me again, or from another process on the same folder: no banner, every call "
          "is read back.")


if __name__ == "__main__":
    main()
