"""Fit a Pipeline whose transformer fits are cached by pythagoras.Memory; print what it learned.

    python _pipeline_fit.py FOLDER
"""

from __future__ import annotations

import json
import sys

import _memory_transformers as mt
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline

from pythagoras.memory import Memory


def main(folder: str) -> int:
    X, y = make_classification(n_samples=200, n_features=6, random_state=0)
    pipeline = Pipeline(
        [("center", mt.CountingScaler(with_std=False)), ("scale", mt.CountingScaler()),
         ("model", LogisticRegression())],
        memory=Memory(folder, verbose=0),
    )
    pipeline.fit(X, y)
    print(json.dumps({"center": pipeline["center"].mean_.tolist(), "scale": pipeline["scale"].scale_.tolist(),
                      "coef": pipeline["model"].coef_.tolist(), "predictions": pipeline.predict(X).tolist()}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
