"""Records that a swarm folder already holds load with the code of today.

A record names the classes it holds by module path (a claim was a ``pythagoras.protocol.Claim``
to pickle, a function record held ``pythagoras.tracebacks.Origins`` and a pure function
``pythagoras.pure_function.reopen``), so moving a module would orphan every folder's claims,
requests, failures and function records, silently: a record that cannot be loaded counts as
absent. ``MOVED_MODULES`` and ``MOVED_NAMES`` (``pythagoras/records/frames.py``) find them.
``old_records/`` was written by ``make_old_records.py`` on the layout of before the modules
moved into layer folders; every record there must load.
"""

from __future__ import annotations

import contextlib
import io
import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from pythagoras.cli import main
from pythagoras.identity.address import CallAddress
from pythagoras.records.frames import load_value, unframe
from pythagoras.storage.local import LocalFolderStore
from pythagoras.swarm.protocol import Claim, Failure, Request
from pythagoras.swarm.swarm_store import SwarmStore

FIXTURES = Path(__file__).resolve().parent / "old_records"
KINDS = {"claims": b"C", "failures": b"E", "functions": b"F", "peers": b"P", "requests": b"Q",
         "results": b"R", "values": b"V"}
MANIFEST = json.loads((FIXTURES / "manifest.json").read_text())
RECORDS = sorted(str(p.relative_to(FIXTURES)) for p in FIXTURES.rglob("*")
                 if p.is_file() and p.parent != FIXTURES)


def address(name: str) -> CallAddress:
    function, arguments = MANIFEST[name].split("/")
    return CallAddress(function, arguments)


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    shutil.copytree(FIXTURES, tmp_path / "swarm")
    (tmp_path / "swarm" / "manifest.json").unlink()
    return tmp_path / "swarm"


@pytest.fixture
def swarm(folder: Path) -> SwarmStore:
    return SwarmStore(LocalFolderStore(str(folder)))


def test_every_kind_of_record_is_kept() -> None:
    assert {key.split("/")[0] for key in RECORDS} == set(KINDS)


@pytest.mark.parametrize("key", RECORDS)
def test_every_record_loads(key: str) -> None:
    kind = KINDS[key.split("/")[0]]
    value: Any = load_value(unframe((FIXTURES / key).read_bytes(), kind))
    expected = {b"C": Claim, b"E": Failure, b"Q": Request, b"P": dict, b"F": tuple}.get(kind)
    if expected is not None:
        assert isinstance(value, expected), value


def test_results_and_failures(swarm: SwarmStore) -> None:
    assert swarm.lookup(address("square")) == 9
    assert swarm.lookup(address("inner")) == 2
    assert swarm.lookup(address("hold")) == 70_000
    failure = swarm.failure(address("fail"))
    assert failure is not None
    error = failure.to_exception()
    assert isinstance(error, ValueError) and str(error) == "no value for 1"
    assert "raise ValueError" in failure.traceback


def test_requests_claims_and_functions(swarm: SwarmStore, folder: Path) -> None:
    hold = address("hold")
    request = swarm.load_request(swarm.request_key(hold))
    assert request is not None and request.name == "hold"
    release, blob = request.args
    assert blob == bytes(70_000)  # stored once under values/, referenced by the request
    claim = load_value(unframe((folder / f"claims/{hold.function}.{hold.arguments}").read_bytes(), b"C"))
    assert isinstance(claim, Claim) and claim.address == hold and claim.attempt == 1
    (folder / "release").touch()
    assert swarm.load_function(hold.function)(str(folder / "release"), b"abc") == 3

    outer = swarm.load_function(address("outer").function)  # holds the pure function inner
    assert type(outer.__globals__["inner"]).__name__ == "PureFunction"
    assert outer(x=1) == 4
    request = swarm.load_request(swarm.request_key(address("outer")))
    assert request is not None and request.kwargs == {"x": 1}


def test_status_reads_them(folder: Path) -> None:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["status", str(folder)]) == 0
    text = out.getvalue()
    assert "3 stale" in text and "1 pending" in text and "1 stale claim" in text
    assert "fail  ValueError: no value for 1" in text
