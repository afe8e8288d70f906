"""Real peers on one folder: work is shared, dead peers' calls rerun, workers serve clients.

Every peer is an interpreter of its own running ``_swarm_peer.py`` (or the ``pythagoras worker``
command), in its own session, released together by a start file. What the peers executed is
read from the execution log (a file, one line per execution), never inferred from timings:
nothing here asserts on wall-clock time, and the test waits on files, never on sleeps.
"""

from __future__ import annotations

import os
import re
import signal
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from _swarm_processes import DEADLINE, SwarmProcesses, worker_command

pytestmark = [
    pytest.mark.skipif(not hasattr(os, "killpg"), reason="process groups are POSIX"),
    pytest.mark.timeout(DEADLINE + 30),
]


@pytest.fixture
def swarm(tmp_path: Path) -> Iterator[SwarmProcesses]:
    processes = SwarmProcesses(tmp_path)
    try:
        yield processes
    finally:
        processes.close()


def test_two_peers_share_twelve_calls(swarm: SwarmProcesses) -> None:
    xs = [7, 2, 11, 0, 5, 9, 1, 10, 3, 8, 6, 4]  # not sorted: the order of results is the input's
    for name in ("a", "b"):
        swarm.peer(name, "sync_parallel", max_workers=1, xs=xs, seconds=0.5)
    swarm.wait_ready("a", "b")
    swarm.release()
    reports = {name: swarm.report(name) for name in ("a", "b")}

    for name, report in reports.items():
        assert report["results"] == [x * x for x in xs], name
    executions = swarm.executions()
    counts = Counter(e.x for e in executions)
    assert set(counts) == set(xs), f"calls never executed: {set(xs) - set(counts)}"
    assert len(executions) <= len(xs) + 1, f"more than one duplicate: {counts}"
    for name in ("a", "b"):
        assert any(e.by(swarm.procs[name]) for e in executions), f"peer {name} executed nothing"


def test_a_killed_peers_call_is_run_again_by_a_survivor(swarm: SwarmProcesses, tmp_path: Path) -> None:
    xs = list(range(8))
    for name in ("a", "b"):
        swarm.peer(name, "sync_parallel", max_workers=1, lease_timeout=3, xs=xs, seconds=0.3)
    # The victim's calls wait for a gate that never opens: it is killed in the middle of one.
    swarm.peer("victim", "sync_parallel", max_workers=1, lease_timeout=3, xs=xs, seconds=0.3,
               gate=tmp_path / "never")
    swarm.wait_ready("a", "b", "victim")
    swarm.release()
    victim = swarm.procs["victim"]
    swarm.wait_until(lambda: any(e.by(victim) for e in swarm.executions()),
                     "the victim starts a call", alive=["victim"])
    swarm.kill("victim")
    in_flight = [e.x for e in swarm.executions() if e.by(victim)]
    assert len(in_flight) == 1, f"the victim ran {in_flight} though each of its calls was held"

    for name in ("a", "b"):
        assert swarm.report(name)["results"] == [x * x for x in xs], name
    survivors = (swarm.procs["a"], swarm.procs["b"])
    rerun = [e for e in swarm.executions() if e.x == in_flight[0] and any(e.by(p) for p in survivors)]
    assert rerun, f"no survivor ran x={in_flight[0]} again after the victim died"
    assert {e.x for e in swarm.executions() if not e.by(victim)} == set(xs)


def test_a_worker_serves_a_client_and_stops_on_sigterm(swarm: SwarmProcesses) -> None:
    xs = [3, 1, 4, 5]
    worker = swarm.start("worker", [*worker_command(), "worker", str(swarm.store),
                                    "--max-workers", "1", "--lease-timeout", "3"], swarm.env())
    swarm.peer("client", "sync_parallel", max_workers=0, xs=xs, seconds=0.1)
    swarm.wait_until(lambda: "serving" in swarm.output("worker"), "the worker serves",
                     alive=["worker"])
    swarm.wait_ready("client")
    swarm.release()
    assert swarm.report("client")["results"] == [x * x for x in xs]

    worker.send_signal(signal.SIGTERM)
    assert swarm.wait_exit("worker") == 0, swarm.output("worker")
    executions = swarm.executions()
    assert sorted(e.x for e in executions) == sorted(xs)
    assert all(e.by(worker) for e in executions), "the client (max_workers=0) executed calls"
    log = swarm.output("worker")
    assert len(re.findall(r"pythagoras: gated_square done in", log)) == len(xs), log
    assert f"stopped after executing {len(xs)} calls" in log, log


def _check_raised(raised: dict[str, Any], who: str) -> None:
    assert raised["message"] == "boom 3", who
    assert raised["cause_is_remote_traceback"], who
    text = str(raised["cause_text"])
    assert ", in explode\n" in text and "Boom: boom 3" in text, f"{who}: {text}"
    assert raised["type"].endswith(".Boom"), who
    assert raised["caught_as_boom"] and raised["is_script_class"], (
        f"{who}: `except Boom` did not catch the call's exception, of class {raised['type']} "
        "but not the script's own Boom")


def test_a_raising_call_runs_once_and_again_on_retry(swarm: SwarmProcesses) -> None:
    # The executor runs the call; the caller (max_workers=0) only reads its failure from the store.
    swarm.peer("executor", "raise", max_workers=1, x=3, seconds=0.3, retry_after=["caller"])
    swarm.peer("caller", "raise", max_workers=0, x=3, seconds=0.3)
    swarm.wait_ready("executor", "caller")
    swarm.release()
    executor, caller = swarm.report("executor"), swarm.report("caller")

    assert executor["executions_before_retry"] == 1  # two sync_parallel calls in each peer
    executions = swarm.executions()
    assert len(executions) == 2  # and once more with retry=True
    assert all(e.by(swarm.procs["executor"]) for e in executions)
    assert len(executor["raised"]) == 3 and len(caller["raised"]) == 2
    for i, raised in enumerate(executor["raised"]):
        _check_raised(raised, f"executor, call {i + 1}")
    for i, raised in enumerate(caller["raised"]):
        _check_raised(raised, f"caller, call {i + 1}")


def test_a_direct_call_waits_for_the_peer_running_it(swarm: SwarmProcesses, tmp_path: Path) -> None:
    gate, start_b = tmp_path / "gate", tmp_path / "start-b"
    swarm.peer("a", "async_parallel", max_workers=1, lease_timeout=10, xs=[6], seconds=0.0, gate=gate)
    swarm.peer("b", "direct", max_workers=1, lease_timeout=10, x=6, seconds=0.0, gate=gate,
               start_file=start_b)
    swarm.wait_ready("a", "b")
    swarm.release()
    a, b = swarm.procs["a"], swarm.procs["b"]
    swarm.wait_until(lambda: any(e.by(a) for e in swarm.executions()), "a starts the call",
                     alive=["a"])
    swarm.release(start_b)
    # b is waiting once its peer has announced itself (its loop starts only to wait); if it
    # ran the call itself instead, the log shows it. Either way the gate opens then.
    swarm.wait_until(lambda: any(f"-{b.pid}-" in peer for peer in swarm.peer_records())
                     or any(e.by(b) for e in swarm.executions()), "b waits or runs the call",
                     alive=["a", "b"])
    gate.touch()

    assert swarm.report("a")["results"] == [36]
    assert swarm.report("b")["value"] == 36
    executions = swarm.executions()
    assert len(executions) == 1, f"executed {len(executions)} times: {executions}"
    assert executions[0].by(a)


@pytest.mark.parametrize("seconds, lease", [(0.5, 30.0), (4.0, 1.5)],
                         ids=["together", "longer-than-the-lease"])
def test_two_direct_calls_of_one_call_compute_it_once(swarm: SwarmProcesses, seconds: float,
                                                       lease: float) -> None:
    # The tutorial's cells 5-9 run on several machines at once: a call made directly by two
    # peers runs in one of them, and the other waits for its value. The second case outlasts
    # the lease several times over: the computing peer's heartbeat keeps its claim fresh.
    for name in ("a", "b"):
        swarm.peer(name, "direct", max_workers=1, lease_timeout=lease, x=7, seconds=seconds)
    swarm.wait_ready("a", "b")
    swarm.release()
    assert swarm.report("a")["value"] == 49
    assert swarm.report("b")["value"] == 49
    executions = swarm.executions()
    assert len(executions) == 1, f"executed {len(executions)} times: {executions}"
