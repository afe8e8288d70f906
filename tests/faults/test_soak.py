"""Load: calls through four peers restarted at random, every result checked.

The short form (CI) runs 1,000 calls; the full soak runs 10,000 when ``PYTHAGORAS_SOAK=1`` is set
or ``--soak`` given (``pytest tests/faults --soak -s`` prints its figures). Four worker peers
with one worker process each serve one folder; a client that runs nothing keeps at most 400 calls
of 0-20 ms outstanding; every 0.3-1.5 s a random peer is restarted: SIGKILLed (a crash: its calls
wait for another peer to break its claims) or SIGTERMed (a clean stop: it releases its claims).
No call may be lost or answered wrongly (a call killed under its runners three times fails with
PeersDied by design, counted apart); duplicate executions are counted and printed.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest
from _fault_checks import folder_state
from _fault_swarm import run_under_kills, seed_from_environment

pytestmark = [
    pytest.mark.skipif(not hasattr(os, "killpg"), reason="process groups are POSIX"),
    pytest.mark.timeout(3600),
]

PEERS = 4
LEASE = 2.0


def test_soak_every_call_answered_right_through_random_restarts(tmp_path: Path, soak: bool) -> None:
    seed = seed_from_environment()
    calls = int(os.environ.get("PYTHAGORAS_SOAK_CALLS", "10000")) if soak else 1000
    figures, peers = run_under_kills(
        tmp_path, seed=seed, calls=calls, peers=PEERS, lease_timeout=LEASE, remote_looking=False,
        seconds=(0.0, 0.02), interval=(0.3, 1.5), signals=(signal.SIGKILL, signal.SIGTERM),
        window=400, deadline=3000.0 if soak else 90.0)
    print(figures.summary())
    replay = f"(replay with PYTHAGORAS_FAULT_SEED={seed})"
    assert not figures.lost, f"{len(figures.lost)} calls lost {replay}: {figures.lost[:20]}\n" \
                             f"{peers.all_output()}"
    assert not figures.wrong, f"wrong answers {replay}: {figures.wrong[:20]}"
    assert not figures.never_ran, f"values without an execution {replay}: {figures.never_ran[:20]}"
    assert figures.kills > 0, f"no peer was restarted {replay}"
    state = folder_state(peers.folder)
    print(f"left in the folder: {len(state.keys('requests'))} requests and "
          f"{len(state.keys('claims'))} claims of finished calls, {len(state.debris)} temp files")
    assert not state.corrupt, f"records that do not unframe {replay}: {state.corrupt[:20]}"
    # A call whose runners were all killed under it, max_attempts times, fails with PeersDied:
    # by design (counted apart above, and most unlikely); every other call has its result.
    assert len(state.keys("results")) == calls - len(figures.died)
    assert not state.unfinished_requests(), f"requests of unfinished calls {replay}"
    assert not state.unfinished_claims(), f"claims of unfinished calls {replay}"
