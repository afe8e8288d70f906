"""Transformers whose fits the Pipeline tests count: each ``fit`` is recorded in the execution log."""

from __future__ import annotations

from typing import Any

import execution_log
from sklearn.preprocessing import StandardScaler


class CountingScaler(StandardScaler):
    """A StandardScaler that records each fit."""

    def fit(self, X: Any, y: Any = None, sample_weight: Any = None) -> CountingScaler:
        execution_log.record(["fit", self.with_mean, self.with_std])
        super().fit(X, y, sample_weight)
        return self
