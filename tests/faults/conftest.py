"""Fixtures of the fault suite, and the switch of its full soak.

The soak runs 10,000 calls when ``PYTHAGORAS_SOAK=1`` is set or ``--soak`` is given (the option
exists when this folder is named on the command line: ``pytest tests/faults --soak``); otherwise
its short form runs. ``PYTHAGORAS_FAULT_SEED`` replays a run of the random kills or the soak.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

_HERE = Path(__file__).resolve().parent
for _path in (str(_HERE.parent), str(_HERE)):  # execution_log, and this folder's helpers
    if _path not in sys.path:
        sys.path.append(_path)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--soak", action="store_true", default=False,
                     help="run the full soak of the fault suite (10,000 calls; minutes)")


@pytest.fixture
def soak(request: pytest.FixtureRequest) -> bool:
    """True when the full soak was asked for."""
    return bool(request.config.getoption("--soak", default=False)) or \
        os.environ.get("PYTHAGORAS_SOAK", "").strip() not in ("", "0")
