"""Fixtures for the joblib backend's tests: a fresh folder per test.

pytest puts only this folder on ``sys.path``; loky's workers start with this process's
``sys.path``, so they import ``_tasks`` too.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from pythagoras.joblib_backend import executors as executors_module


@pytest.fixture
def folder(tmp_path: Path) -> Iterator[str]:
    """A fresh swarm folder; the backend's shared executors on it are shut down afterwards."""
    yield str(tmp_path)
    with executors_module._executors_lock:
        stale = [key for key in executors_module._executors if key[0] == str(tmp_path)]
        executors = [executors_module._executors.pop(key) for key in stale]
    for executor in executors:
        executor.shutdown(wait=True, cancel_futures=True)
