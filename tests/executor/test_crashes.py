"""Worker processes that die: the calls beside them, and the calls batched with them, survive.

loky fails every pending future of a pool whose worker died. The peer replaces the pool once
for all of them, and a batch whose worker died is sent again one call per request, so that
only the call that kills its worker ends in PeersDied.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import _functions as fx
import pytest
from _executor_contract import TIMEOUT

from pythagoras import PythagorasExecutor
from pythagoras.errors import PeersDied

pytestmark = pytest.mark.timeout(4 * TIMEOUT)


def test_a_worker_crash_does_not_fail_the_calls_running_beside_it(
        open_executor: Callable[..., PythagorasExecutor], tmp_path: Path,
        executions: Callable[[], list[Any]]) -> None:
    marker = str(tmp_path / "crashed")
    executor = open_executor(max_workers=3)
    beside = [executor.submit(fx.after_crash, i, marker, 1.0) for i in (1, 2)]
    crashing = executor.submit(fx.crash_once, 0, marker)
    assert crashing.result(timeout=TIMEOUT) == 0  # run again after the crash
    assert [f.result(timeout=TIMEOUT) for f in beside] == [1, 2]
    assert sum(1 for e in executions() if e[0] == "crash_once") == 2


def test_a_batch_with_a_call_that_kills_its_worker_keeps_its_other_values(
        open_executor: Callable[..., PythagorasExecutor]) -> None:
    executor = open_executor(max_workers=1)
    futures = executor.client.submit([executor.client.call(fx.crash_on, (x, 3), {}) for x in (1, 2, 3, 4)])
    assert [f.result(timeout=TIMEOUT) for f in (futures[0], futures[1], futures[3])] == [1, 4, 16]
    with pytest.raises(PeersDied):
        futures[2].result(timeout=TIMEOUT)
    # The others are stored: a new submit of each is a hit, not another PeersDied.
    assert executor.submit(fx.crash_on, 4, 3).result(timeout=TIMEOUT) == 16


class RefusesToPickle:
    """A callable that refuses to be pickled once told to, as a function this peer cannot pickle
    again for its pool (another Python's code) would."""

    refuse = False

    def __call__(self, x: int) -> int:
        return x

    def __reduce__(self) -> Any:
        if RefusesToPickle.refuse:
            raise IndexError("tuple index out of range")
        return RefusesToPickle, ()


def test_a_call_the_peer_cannot_prepare_is_given_back_at_once(
        open_executor: Callable[..., PythagorasExecutor], tmp_path: Path,
        caplog: pytest.LogCaptureFixture) -> None:
    import logging
    import time

    client = open_executor(max_workers=0)
    future = client.submit(RefusesToPickle(), 3)  # its request and function record are written
    RefusesToPickle.refuse = True
    try:
        with caplog.at_level(logging.WARNING, logger="pythagoras"):
            server = PythagorasExecutor(client.location, max_workers=1)
            try:
                deadline = time.monotonic() + TIMEOUT
                while "cannot prepare" not in caplog.text:
                    assert time.monotonic() < deadline, "the peer never said it cannot prepare the call"
                    time.sleep(0.01)
            finally:
                server.shutdown(wait=False, cancel_futures=True)
    finally:
        RefusesToPickle.refuse = False
    assert "IndexError: tuple index out of range" in caplog.text
    assert "leaving it to other peers" in caplog.text
    assert not future.done()  # left to other peers: never failed here
    folder = Path(client.location)
    assert not list(folder.glob("claims/*"))  # not held under a renewed lease
    assert list(folder.glob("requests/*/*"))  # still there for a peer that can run it
    future.cancel()
