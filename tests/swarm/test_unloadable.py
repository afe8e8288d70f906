"""A call that a peer cannot load (its module is missing there) fails with the reason, at once,
instead of being skipped by every peer for ever while its caller waits; so does a result that
is stored but cannot be loaded here (another Python's), and its record is kept."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import child_processes
import pytest

from pythagoras import PythagorasExecutor
from pythagoras.errors import UnloadableResult
from pythagoras.identity import CallAddress, function_identity
from pythagoras.identity.calls import arguments_hash
from pythagoras.records.frames import dump_value, frame
from pythagoras.records.keys import result_key
from pythagoras.records.results import RESULT

pytestmark = pytest.mark.timeout(120)


def test_a_call_no_peer_can_load_fails_with_the_reason(tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    # The module is importable here, in the client, and nowhere else: the function travels by
    # reference, and the only serving peer, a `pythagoras worker`, cannot import it.
    here_only = tmp_path / "here_only"
    here_only.mkdir()
    (here_only / "only_here_module.py").write_text("def plus_one(x):\n    return x + 1\n")
    monkeypatch.syspath_prepend(str(here_only))
    import only_here_module

    location = tmp_path / "swarm"
    with child_processes.started(["-m", "pythagoras", "worker", str(location), "--max-workers", "1"],
                                 log=tmp_path / "worker.log"):
        with PythagorasExecutor(location, max_workers=0) as client:
            future = client.submit(only_here_module.plus_one, 1)
            with pytest.raises(ModuleNotFoundError, match="only_here_module") as raised:
                future.result(timeout=60)
    remote = str(raised.value.__cause__)
    assert "cannot be loaded on peer" in remote and "install what it needs there" in remote


def cube(x: int) -> int:
    return x * x * x


@pytest.fixture
def unloadable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> bytes:
    """A result record of a class from a module another peer has and this process cannot
    import (it was importable while the record was made)."""
    (tmp_path / "there_only_module.py").write_text("class Made:\n    pass\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    record = frame(RESULT, dump_value(importlib.import_module("there_only_module").Made()))
    monkeypatch.delitem(sys.modules, "there_only_module")
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p != str(tmp_path)])
    return record


def test_a_stored_result_that_cannot_be_loaded_here_fails_at_once_and_is_kept(
        tmp_path: Path, unloadable: bytes) -> None:
    # A value of a class that only the Python that made it can import (as a 3.13 path refers
    # to pathlib._local, which 3.11 lacks).
    record = unloadable
    location = tmp_path / "swarm"
    stored, waited = (CallAddress.of(function_identity(cube, strict=False), arguments_hash(cube, (x,), {}))
                      for x in (2, 3))
    with PythagorasExecutor(location, max_workers=0) as client:
        client._peer.swarm.store.write(result_key(stored), record)
        with pytest.raises(UnloadableResult, match="cannot be loaded") as raised:
            client.submit(cube, 2).result(timeout=0)  # settled at once, by submit
        assert isinstance(raised.value.__cause__, ModuleNotFoundError)
        future = client.submit(cube, 3)  # pending: its result arrives while the peer waits
        client._peer.swarm.store.write(result_key(waited), record)
        with pytest.raises(UnloadableResult):
            future.result(timeout=60)
        for address in (stored, waited):
            assert client._peer.swarm.store.read(result_key(address)) == record


def test_a_pure_function_called_directly_computes_an_unloadable_result_here_and_keeps_it(
        tmp_path: Path, unloadable: bytes) -> None:
    record = unloadable
    from pythagoras import SharedStorage_P2P_Cloud


    cloud = SharedStorage_P2P_Cloud(str(tmp_path / "swarm"), max_workers=0)
    try:
        f = cloud.add_pure_function(cube_kw)
        cloud.store.write(result_key(f.address(x=4)), record)
        assert f(x=4) == 64  # computed here, in this process
        assert cloud.store.read(result_key(f.address(x=4))) == record  # kept for its readers
        assert f(x=5) == 125 and f.is_stored(x=5)  # a miss is stored as ever
    finally:
        cloud.close()


def cube_kw(*, x: int) -> int:
    return x * x * x


def test_sync_parallel_computes_an_unloadable_result_here_and_keeps_it(
        tmp_path: Path, unloadable: bytes) -> None:
    record = unloadable
    from pythagoras import SharedStorage_P2P_Cloud, kw_args


    cloud = SharedStorage_P2P_Cloud(str(tmp_path / "swarm"), max_workers=1)
    try:
        f = cloud.add_pure_function(cube_kw)
        cloud.store.write(result_key(f.address(x=4)), record)
        assert f.sync_parallel(kw_args(x=x) for x in (3, 4)) == [27, 64]
        assert cloud.store.read(result_key(f.address(x=4))) == record
        with pytest.raises(UnloadableResult):  # async_parallel's futures say what it is
            f.async_parallel([kw_args(x=4)])[0].result(timeout=60)
    finally:
        cloud.close()
