"""A fresh executor's worker pool starts with the executor, not at its first submit, so that
its first map does not pay loky's start-up inside the round trip of its first calls; one with
no workers starts none; and one closed as it opens, its workers still starting, leaves no
process behind. Real executors and their real processes, found as this process's children."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import _functions as fx
import psutil
import pytest
from _executor_contract import TIMEOUT, Gates, keys

from pythagoras import PythagorasExecutor
from pythagoras.swarm import pool as pool_module

pytestmark = pytest.mark.timeout(4 * TIMEOUT)


def workers_here() -> set[psutil.Process]:
    """This process's loky workers (not loky's resource tracker, which outlives every pool)."""
    found = set()
    for child in psutil.Process(os.getpid()).children():
        try:
            if "resource_tracker" not in " ".join(child.cmdline()):
                found.add(child)
        except psutil.NoSuchProcess:
            pass
    return found


def test_a_fresh_executor_s_pool_is_started_before_its_first_submit(
        open_executor: Callable[..., PythagorasExecutor]) -> None:
    before = workers_here()
    executor = open_executor(max_workers=2)
    assert executor._peer.pool.started
    assert len(workers_here() - before) == 2  # both spawned, nothing submitted
    executor.client.starting.result(timeout=TIMEOUT)  # and one is up
    assert keys(executor, "requests/") == [] and executor._peer.executed == 0


def test_an_executor_with_no_workers_starts_none(
        open_executor: Callable[..., PythagorasExecutor]) -> None:
    before = workers_here()
    executor = open_executor(max_workers=0)
    assert not executor._peer.pool.started
    assert executor.client.starting.done()  # nothing to wait for
    assert workers_here() <= before


def test_an_executor_closed_while_its_workers_start_leaves_no_process(
        folder: Path, gates: Gates, monkeypatch: pytest.MonkeyPatch) -> None:
    # Its workers cannot start until the gate opens, which it does not before they are gone:
    # closing must not leave them to start and then stop, nor wait for them.
    monkeypatch.setenv(fx.POOL_GATE, gates.new())
    monkeypatch.setattr(pool_module, "enter_worker", fx.enter_worker_at_gate)
    before = workers_here()
    executor = PythagorasExecutor(folder, max_workers=2)
    try:
        started = workers_here() - before
        assert len(started) == 2 and not executor.client.starting.done()
        executor.shutdown(wait=True)
        _, alive = psutil.wait_procs(started, timeout=TIMEOUT)
        assert alive == []
    finally:
        executor.shutdown(wait=True)
        gates.open_all()


def test_a_pool_that_cannot_start_with_the_executor_starts_at_its_first_call(
        open_executor: Callable[..., PythagorasExecutor], monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    to_pool = pool_module.WorkerPool._to_pool

    def cannot_fork(self: pool_module.WorkerPool, fn: Callable[..., object], *args: object) -> object:
        if fn is os.getpid:  # the start, not a call
            raise OSError(11, "Resource temporarily unavailable")
        return to_pool(self, fn, *args)

    monkeypatch.setattr(pool_module.WorkerPool, "_to_pool", cannot_fork)
    executor = open_executor(max_workers=1)  # opens all the same
    assert "cannot start the worker pool now" in caplog.text
    assert not executor._peer.pool.started and executor.client.starting.done()
    assert executor.submit(fx.square, 7).result(timeout=TIMEOUT) == 49
    assert executor._peer.pool.started
