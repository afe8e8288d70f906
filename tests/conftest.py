"""Fixtures every test folder may use. pytest puts this folder on ``sys.path`` for it (there is
no ``tests/__init__.py``), so ``execution_log`` imports here, and in the workers the tests start.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import execution_log
import pytest


@pytest.fixture
def executions(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[[], list[Any]]:
    """What the test functions executed, in order: ``[["square", 3], ...]``.

    The variable is set before any executor starts its pool or any script starts, so workers
    and scripts inherit it.
    """
    monkeypatch.setenv(execution_log.VARIABLE, str(tmp_path / "executions.jsonl"))
    return execution_log.calls
