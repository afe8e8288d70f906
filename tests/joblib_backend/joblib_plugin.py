r"""A pytest plugin that registers the "pythagoras" joblib backend before joblib's own test
modules are imported, so that the tests they parametrize over every backend include it:

    python -m pytest -p tests.joblib_backend.joblib_plugin --pyargs joblib.test.test_parallel \
        --pythagoras-only

``--pythagoras-only`` keeps the test cases that run the backend: those parametrized with the
name ``"pythagoras"`` and those parametrized with an instance of it (joblib's
``ALL_VALID_BACKENDS`` holds one of each registered backend, with an id such as ``backend10``
that ``-k pythagoras`` misses). ``tests/joblib_backend/test_joblib_parallel_suite.py`` runs them.

The swarm lives in a fresh temporary folder for the run, unless $PYTHAGORAS_LOCATION is set.
"""

from __future__ import annotations

import os
import tempfile

import pytest

os.environ.setdefault("PYTHAGORAS_LOCATION", tempfile.mkdtemp(prefix="pythagoras-joblib-suite-"))

import pythagoras  # noqa: F401 -- registers the backend
from pythagoras.joblib_backend import PythagorasBackend


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--pythagoras-only", action="store_true",
                     help="run only the test cases parametrized with the pythagoras backend")


def runs_pythagoras(item: pytest.Item) -> bool:
    """Whether one of the test case's parameters is the backend, by name or as an instance."""
    callspec = getattr(item, "callspec", None)
    if callspec is None:
        return False
    return any((isinstance(value, str) and value == "pythagoras")
               or isinstance(value, PythagorasBackend) for value in callspec.params.values())


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not config.getoption("pythagoras_only"):
        return
    deselected = [item for item in items if not runs_pythagoras(item)]
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = [item for item in items if runs_pythagoras(item)]
