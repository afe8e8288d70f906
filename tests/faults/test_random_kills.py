"""Peers SIGKILLed at random while others work: no call lost, none answered wrongly.

Three worker peers (one worker process each) serve one folder; a client that runs nothing
submits 200 calls of 50-100 ms; a killer SIGKILLs a random peer's whole process group every
0.5-1.5 s and starts a new peer in its place at once, until every call has settled. Every value
is checked against the one the call must return, every execution is counted from the log, and
the time from each kill until the killed peer's call runs elsewhere (and until its value reaches
the caller) is measured and printed, never asserted.

Two kinds of death are run:

- ``same-host``: the peers are processes of this machine, so a survivor that finds a claim whose
  holder's pid is gone breaks it at once (``protocol.holder_is_gone``);
- ``remote-looking``: each incarnation of a peer names a machine of its own (``_fault_peer.py``
  replaces its host name), so no survivor can tell that the holder is dead: its lease (2 s)
  must lapse. This is how peers on several machines sharing an NFS folder see each other.

A call whose runner is killed under it three times (``max_attempts``) fails with PeersDied, as
designed: such a call is counted apart, not as a wrong answer (unlikely: its reruns must each be
hit by a kill while they run).

``PYTHAGORAS_FAULT_SEED=<seed>`` replays a run (the seed is printed, and named in failures).

Under random kills the time until a killed peer's call runs again includes its wait behind the
other pending calls. ``test_a_killed_peers_call_runs_elsewhere`` measures the recovery alone:
idle survivors, one call, its peer SIGKILLed as soon as the call starts.
"""

from __future__ import annotations

import os
import statistics
import time
from pathlib import Path

import _fault_functions as fx
import pytest
from _fault_checks import folder_state
from _fault_swarm import PeerProcesses, run_under_kills, seed_from_environment

from pythagoras import PythagorasExecutor

pytestmark = [
    pytest.mark.skipif(not hasattr(os, "killpg"), reason="process groups are POSIX"),
    pytest.mark.timeout(150),
]

CALLS = 200
PEERS = 3
LEASE = 2.0


@pytest.mark.parametrize("remote_looking", [False, True], ids=["same-host", "remote-looking"])
def test_random_sigkills_lose_no_call_and_answer_none_wrongly(tmp_path: Path,
                                                              remote_looking: bool) -> None:
    seed = seed_from_environment()
    figures, peers = run_under_kills(tmp_path, seed=seed, calls=CALLS, peers=PEERS,
                                     lease_timeout=LEASE, remote_looking=remote_looking,
                                     seconds=(0.05, 0.1), interval=(0.5, 1.5), deadline=100.0)
    print(figures.summary())
    replay = f"(replay with PYTHAGORAS_FAULT_SEED={seed})"
    assert not figures.lost, f"calls lost {replay}: {figures.lost}\n{peers.all_output()}"
    assert not figures.wrong, f"wrong answers {replay}: {figures.wrong}"
    assert not figures.never_ran, f"values without an execution {replay}: {figures.never_ran}"
    assert figures.kills > 0, f"the killer never struck {replay}"

    state = folder_state(peers.folder)
    print(f"left in the folder: {len(state.keys('requests'))} requests and "
          f"{len(state.keys('claims'))} claims of finished calls, {len(state.debris)} temp files")
    assert not state.corrupt, f"records that do not unframe {replay}: {state.corrupt}"
    # A call whose runners were all killed under it, max_attempts times, fails with PeersDied:
    # by design (counted apart above, and most unlikely); every other call has its result.
    assert len(state.keys("results")) == CALLS - len(figures.died)
    # A peer killed between storing a value and retiring its request and claim leaves them: they
    # hold nothing (the call is finished), the next pick or `pythagoras clear` removes them.
    assert not state.unfinished_requests(), f"requests of unfinished calls {replay}"
    assert not state.unfinished_claims(), f"claims of unfinished calls {replay}"


@pytest.mark.parametrize("remote_looking", [False, True], ids=["same-host", "remote-looking"])
def test_a_killed_peers_call_runs_elsewhere(tmp_path: Path, remote_looking: bool) -> None:
    rounds = 3
    peers = PeerProcesses(tmp_path, lease_timeout=LEASE, remote_looking=remote_looking,
                          deadline=60.0)
    restart, done = [], []
    try:
        for slot in range(PEERS):
            peers.start(slot)
        peers.wait_serving(list(range(PEERS)))
        with PythagorasExecutor(peers.folder, max_workers=0, lease_timeout=LEASE) as client:
            # Warm the peers' pools first (most likely each runs one), so that what is measured
            # is the recovery, not a survivor starting its first worker process.
            warm = [client.submit(fx.nap, x, 0.2) for x in range(2000, 2000 + 2 * PEERS)]
            assert [f.result(timeout=peers.remaining()) for f in warm] == [
                fx.answer(x) for x in range(2000, 2000 + 2 * PEERS)]
            for x in range(1000, 1000 + rounds):
                settled: list[float] = []
                future = client.submit(fx.nap, x, 0.5)
                future.add_done_callback(lambda _, settled=settled: settled.append(time.monotonic()))
                while not (first := [e for e in peers.executions() if e.x == x]):
                    assert peers.remaining() > 0, f"nobody started x={x}:\n{peers.all_output()}"
                    time.sleep(0.001)
                slot = next(s for s, p in peers.procs.items() if first[0].by(p.pid))
                kill = peers.kill(slot)
                peers.start(slot)
                assert future.result(timeout=peers.remaining()) == fx.answer(x)
                rerun = [e for e in peers.executions() if e.x == x and not e.by(kill.pid)]
                assert rerun, f"x={x} was never run again after its peer died"
                restart.append(rerun[0].t - kill.at)
                done.append(settled[0] - kill.at)
    finally:
        peers.close()
    kind = "remote-looking" if remote_looking else "same-host"
    print(f"recovery after a SIGKILL ({kind}, lease {LEASE:g} s, idle survivors): running again "
          f"after {', '.join(f'{t:.2f}' for t in restart)} s (median {statistics.median(restart):.2f}); "
          f"value at the caller after {', '.join(f'{t:.2f}' for t in done)} s "
          f"(median {statistics.median(done):.2f})")
