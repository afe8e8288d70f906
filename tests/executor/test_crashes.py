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
    futures = executor._submit_calls([executor._call(fx.crash_on, (x, 3), {}) for x in (1, 2, 3, 4)])
    assert [f.result(timeout=TIMEOUT) for f in (futures[0], futures[1], futures[3])] == [1, 4, 16]
    with pytest.raises(PeersDied):
        futures[2].result(timeout=TIMEOUT)
    # The others are stored: a new submit of each is a hit, not another PeersDied.
    assert executor.submit(fx.crash_on, 4, 3).result(timeout=TIMEOUT) == 16
