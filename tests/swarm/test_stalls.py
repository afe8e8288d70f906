"""A caller whose calls no live peer can run is told why: no peer serves the swarm, or the
function is another Python's bytecode and no peer of that Python is up. A waiting peer warns
once a lease period has passed; a timeout's message says it."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import pytest

import pythagoras.records.functions as function_records
from pythagoras import CallTimeout, PythagorasExecutor, open_store
from pythagoras.identity.address import CallAddress
from pythagoras.identity.values import hash_value
from pythagoras.records.functions import function_record
from pythagoras.records.portable import PYTHON
from pythagoras.storage.memory import MemoryStore
from pythagoras.swarm.peer import Peer
from pythagoras.swarm.swarm_store import SwarmStore

FOREIGN = "3.99"  # a Python no peer here runs
FUNCTION = "e" * 32


def publish_bytecode_only(swarm: SwarmStore, python: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Store a lambda's record as if Python ``python`` had sent it (bytecode, no source)."""
    func = lambda x: x + 1  # noqa: E731 - a lambda has no source to travel as
    monkeypatch.setattr(function_records, "PYTHON", python)
    swarm._publish_function(FUNCTION, func, function_record(func))
    monkeypatch.undo()


def announce(swarm: SwarmStore, peer: str, *, workers: int, python: str = PYTHON,
             serving: bool = True) -> None:
    swarm.announce(peer, {"host": "h", "pid": 1, "workers": workers, "serving": serving,
                          "python": python})


@pytest.fixture
def swarm() -> SwarmStore:
    return SwarmStore(MemoryStore(), lease_timeout=30.0)


def test_with_no_peer_up_nobody_serves(swarm: SwarmStore) -> None:
    reason = swarm.unrunnable(FUNCTION)
    assert reason is not None and "no peer serves the swarm" in reason


def test_peers_that_run_nothing_do_not_count_as_serving(swarm: SwarmStore) -> None:
    announce(swarm, "client", workers=0)
    announce(swarm, "idle-notebook", workers=2, serving=False)
    assert "no peer serves the swarm" in (swarm.unrunnable(FUNCTION) or "")
    announce(swarm, "worker", workers=2)
    assert swarm.unrunnable(FUNCTION) is None


def test_another_pythons_bytecode_needs_a_peer_of_that_python(
        swarm: SwarmStore, monkeypatch: pytest.MonkeyPatch) -> None:
    publish_bytecode_only(swarm, FOREIGN, monkeypatch)
    announce(swarm, "ours-1", workers=2)
    announce(swarm, "ours-2", workers=1)
    reason = swarm.unrunnable(FUNCTION)
    assert reason is not None
    assert f"sent by Python {FOREIGN} as bytecode only" in reason
    assert f"2 peers of Python {PYTHON}" in reason
    announce(swarm, "theirs", workers=1, python=FOREIGN)
    assert swarm.unrunnable(FUNCTION) is None


def test_bytecode_of_this_python_is_runnable_by_any_peer_of_it(
        swarm: SwarmStore, monkeypatch: pytest.MonkeyPatch) -> None:
    publish_bytecode_only(swarm, PYTHON, monkeypatch)
    announce(swarm, "ours", workers=1)
    assert swarm.unrunnable(FUNCTION) is None


def test_a_waiting_peer_warns_once_after_a_lease_period(
        monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    store = MemoryStore()
    peer = Peer(store, max_workers=0, lease_timeout=0.3)
    publish_bytecode_only(peer.swarm, FOREIGN, monkeypatch)
    announce(peer.swarm, "ours", workers=2)
    caplog.set_level(logging.WARNING, logger="pythagoras")
    future = peer.await_result(CallAddress(FUNCTION, hash_value(1).hex()))
    peer.await_result(CallAddress(FUNCTION, hash_value(2).hex()))
    try:
        deadline = time.monotonic() + 30
        while not any("cannot run now" in r.getMessage() for r in caplog.records):
            assert time.monotonic() < deadline, "no warning within 30 s"
            announce(peer.swarm, "ours", workers=2)  # keep the other peer alive
            time.sleep(0.05)
        time_warned = time.monotonic()
        while time.monotonic() < time_warned + 1.0:  # three more heartbeats
            announce(peer.swarm, "ours", workers=2)
            time.sleep(0.05)
        warnings = [r.getMessage() for r in caplog.records if "cannot run now" in r.getMessage()]
        assert len(warnings) == 1, warnings  # once per function, not per call or per beat
        assert f"only a peer of Python {FOREIGN} runs" in warnings[0]
        assert not future.done()  # still waiting: it runs once such a peer is up
    finally:
        peer.close()


def test_a_timeout_says_that_no_peer_serves(tmp_path: Path) -> None:
    with PythagorasExecutor(tmp_path / "swarm", max_workers=0) as ex:
        future = ex.submit(abs, -3)
        with pytest.raises(CallTimeout, match="cannot run now: no peer serves the swarm"):
            future.result(timeout=0.5)
        with pytest.raises(CallTimeout, match="cannot run now: no peer serves the swarm"):
            list(ex.map(abs, [-1, -2], timeout=0.5))
        future.cancel()


def test_a_timeout_with_a_peer_serving_adds_nothing(tmp_path: Path) -> None:
    location = tmp_path / "swarm"
    with PythagorasExecutor(location, max_workers=0) as ex:
        announce(SwarmStore(open_store(str(location))), "a-worker", workers=1)
        future = ex.submit(abs, -3)
        with pytest.raises(CallTimeout) as raised:
            future.result(timeout=0.3)
        assert "cannot run now" not in str(raised.value)
        future.cancel()
