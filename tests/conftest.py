"""Fixtures every test folder may use. pytest puts this folder on ``sys.path`` for it (there is
no ``tests/__init__.py``), so ``execution_log`` imports here, and in the workers the tests start.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import execution_log
import pytest
from s3_server import MotoServer, S3Location


@pytest.fixture(scope="session", autouse=True)
def local_tier(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Remote stores keep their local copies (``storage/tier.py``) in a folder of the session,
    not the user's cache directory; processes the tests start inherit it."""
    before = os.environ.get("PYTHAGORAS_CACHE_DIR")
    os.environ["PYTHAGORAS_CACHE_DIR"] = str(tmp_path_factory.mktemp("tier"))
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("PYTHAGORAS_CACHE_DIR", None)
        else:
            os.environ["PYTHAGORAS_CACHE_DIR"] = before


@pytest.fixture
def executions(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[[], list[Any]]:
    """What the test functions executed, in order: ``[["square", 3], ...]``.

    The variable is set before any executor starts its pool or any script starts, so workers
    and scripts inherit it.
    """
    monkeypatch.setenv(execution_log.VARIABLE, str(tmp_path / "executions.jsonl"))
    return execution_log.calls


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MotoServer]:
    """A moto S3 server on loopback for the whole session, started on first use."""
    server = MotoServer(tmp_path_factory.mktemp("moto") / "moto_server.log")
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def s3(s3_server: MotoServer) -> S3Location:
    """``s3://<new bucket>/run`` on the loopback server."""
    return S3Location(f"s3://{s3_server.new_bucket()}/run", s3_server.storage_options())
