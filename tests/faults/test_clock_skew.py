"""Clocks minutes apart: no live lease is broken, and a dead peer's lease is still broken.

A lease's age is the reader's clock minus the claim file's time, which the file server (here the
kernel) stamps by its own clock. A peer whose clock runs 5 minutes ahead would take every claim
for 5 minutes old and break it, were it not for the skew it measures against the store each
time it writes its own peer record (``SwarmStore.announce``, ``docs/protocol.md`` "Claim").

The skewed peers are ``_fault_peer.py`` workers whose ``time.time`` is moved 5 minutes ahead or
behind before pythagoras is imported, and whose host names are their own, so that every lease
lapses by its age alone (no peer can tell that another machine's pid is gone).

- Live leases: a peer with the true clock runs two calls; the peer ahead and the peer behind,
  idle (two free workers each), try to claim both at every poll while one of them runs three
  leases long. Each runs once, and their holder never loses a lease.
- A dead peer's lease: the holder is SIGKILLed while the other call runs. The peer ahead breaks
  its lease and runs the call. The peer behind cannot: by its clock the claim is fresh for 5
  minutes more, and a clock behind breaks leases late, never early (``docs/protocol.md``).

The protocol-level checks of the same arithmetic, on a fake clock, are
``tests/swarm/test_protocol.py::test_skew_measured_by_the_store_corrects_lease_ages`` and
``::test_announce_measures_skew_against_the_store``; an object store's server clock is
``tests/storage/test_fsspec_store.py::test_ages_are_corrected_by_the_stores_clock``.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import _fault_functions as fx
import pytest
from _fault_swarm import PeerProcesses

from pythagoras import PythagorasExecutor
from pythagoras.records.frames import read_record
from pythagoras.storage.plugins import open_store

pytestmark = [
    pytest.mark.skipif(not hasattr(os, "killpg"), reason="process groups are POSIX"),
    pytest.mark.timeout(120),
]

OFFSET = 300.0  # seconds: five minutes
LEASE = 2.0
TRUE, AHEAD, BEHIND = 0, 1, 2


def _clock_of(peers: PeerProcesses, slot: int) -> float:
    """How far the peer's clock is off, read from the time it wrote into its own peer record."""
    store = open_store(peers.folder)
    pid = peers.procs[slot].pid
    [key] = [k for k in store.list("peers/") if f"-{pid}-" in k]
    record = read_record(store, key, b"P")
    return float(record["seen"]) - time.time()


def test_clocks_minutes_apart_break_no_live_lease_and_still_break_a_dead_ones(tmp_path: Path) -> None:
    gate = tmp_path / "gate"
    peers = PeerProcesses(tmp_path, lease_timeout=LEASE, remote_looking=True, deadline=80.0)
    try:
        peers.start(TRUE, max_workers=2)
        peers.wait_serving([TRUE])
        holder = peers.procs[TRUE].pid
        with PythagorasExecutor(peers.folder, max_workers=0, lease_timeout=LEASE) as client:
            live = client.submit(fx.nap, 1, 3 * LEASE)  # renewed twice per lease while it runs
            dead = client.submit(fx.gated, 2, str(gate))  # runs until its peer is killed
            while {e.x for e in peers.executions() if e.by(holder)} != {1, 2}:
                assert peers.remaining() > 0, f"the peer never started both calls:\n{peers.all_output()}"
                time.sleep(0.005)
            peers.start(AHEAD, clock_offset=OFFSET, max_workers=2)
            peers.start(BEHIND, clock_offset=-OFFSET, max_workers=2)
            peers.wait_serving([AHEAD, BEHIND])
            # The fault is real: each skewed peer's record carries its own clock's time.
            assert _clock_of(peers, AHEAD) > OFFSET - 30
            assert _clock_of(peers, BEHIND) < -OFFSET + 30

            assert live.result(timeout=peers.remaining()) == fx.answer(1)
            runs = [e.x for e in peers.executions()]
            assert sorted(runs) == [1, 2], (f"a live lease was broken: the calls ran {runs}\n"
                                            f"{peers.all_output()}")
            assert "lost the lease" not in peers.output(TRUE), peers.output(TRUE)

            peers.kill(TRUE)
            while not (rerun := [e for e in peers.executions() if e.x == 2 and not e.by(holder)]):
                assert peers.remaining() > 0, (f"nobody broke the dead peer's lease:\n"
                                               f"{peers.all_output()}")
                time.sleep(0.005)
            gate.touch()
            assert dead.result(timeout=peers.remaining()) == fx.answer(2)
            assert rerun[0].by(peers.procs[AHEAD].pid), "the peer behind broke a lease early"
    finally:
        peers.close()
    assert [e.x for e in peers.executions()].count(2) == 2
