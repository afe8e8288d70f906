"""A poison call, one that kills the process running it, fails after a bounded number of attempts.

Two kinds of poison:

- it ends its own worker process (``os._exit``, as a segfault or the OOM killer would): its peer
  survives, replaces its pool and counts one attempt per death (``Runner._finished``);
- it kills its whole peer (every process of the peer's group): the claim is left by a dead
  peer, the next peer breaks it with attempt + 1, and the peer that would take attempt
  ``max_attempts + 1`` records the failure instead (``SwarmStore.claim``).

Either way the caller gets :class:`PeersDied` after exactly ``max_attempts`` (3) executions, the
failure is stored so that the call is not run again until it is cleared, and the calls beside it
are unharmed (``tests/executor/test_crashes.py`` checks calls running beside a crash and a
crashing call inside a batch).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import _fault_functions as fx
import pytest
from _fault_swarm import PeerProcesses

from pythagoras import PythagorasExecutor
from pythagoras.errors import PeersDied

pytestmark = [
    pytest.mark.skipif(not hasattr(os, "killpg"), reason="process groups are POSIX"),
    pytest.mark.timeout(120),
]

MAX_ATTEMPTS = 3  # the default of SwarmStore and Peer
TIMEOUT = 60.0


def test_a_call_that_kills_its_worker_fails_after_max_attempts(
        tmp_path: Path, executions: Callable[[], list[Any]]) -> None:
    with PythagorasExecutor(tmp_path / "swarm", max_workers=1) as executor:
        with pytest.raises(PeersDied, match=f"died {MAX_ATTEMPTS} times"):
            executor.submit(fx.kill_my_worker, 1).result(timeout=TIMEOUT)
        poisoned = [e for e in executions() if e["f"] == "kill_my_worker"]
        assert len(poisoned) == MAX_ATTEMPTS, poisoned
        # The failure is stored: submitting the call again raises it without running it.
        with pytest.raises(PeersDied):
            executor.submit(fx.kill_my_worker, 1).result(timeout=TIMEOUT)
        assert len([e for e in executions() if e["f"] == "kill_my_worker"]) == MAX_ATTEMPTS
        # The peer and its (new) pool go on serving.
        assert executor.submit(fx.nap, 2, 0.0).result(timeout=TIMEOUT) == fx.answer(2)


@pytest.mark.parametrize("remote_looking", [False, True], ids=["same-host", "remote-looking"])
def test_a_call_that_kills_its_peer_fails_after_max_attempts_across_peers(
        tmp_path: Path, remote_looking: bool) -> None:
    # Four peers: each of the first three to run the call dies of it; the fourth, finding the
    # third attempt's claim dead, records the failure instead of running it again.
    peers = PeerProcesses(tmp_path, lease_timeout=2.0, remote_looking=remote_looking,
                          deadline=TIMEOUT + 20)
    try:
        for slot in range(MAX_ATTEMPTS + 1):
            peers.start(slot)
        peers.wait_serving(list(range(MAX_ATTEMPTS + 1)))
        with PythagorasExecutor(peers.folder, max_workers=0, lease_timeout=2.0) as client:
            future = client.submit(fx.kill_my_peer, 1)
            with pytest.raises(PeersDied, match=f"died {MAX_ATTEMPTS} times"):
                future.result(timeout=TIMEOUT)
            runs = [e for e in peers.executions() if e.f == "kill_my_peer"]
            assert len(runs) == MAX_ATTEMPTS, f"{runs}\n{peers.all_output()}"
            died = [s for s, p in peers.procs.items() if p.poll() is not None]
            assert len(died) == MAX_ATTEMPTS, f"peers that died: {died}"
            assert len({e.ppid for e in runs}) == MAX_ATTEMPTS  # one attempt on each of them
            # Stored: asked again, it fails at once and kills nobody else.
            with pytest.raises(PeersDied):
                client.submit(fx.kill_my_peer, 1).result(timeout=TIMEOUT)
            assert len([e for e in peers.executions() if e.f == "kill_my_peer"]) == MAX_ATTEMPTS
            assert sum(p.poll() is None for p in peers.procs.values()) == 1
    finally:
        peers.close()
