"""The swarm on S3: real processes on one bucket of a real S3 API server (moto, loopback).

Claims on S3 are conditional PUTs (``If-None-Match: *``) that the server enforces, so of
several processes creating one claim at once exactly one wins, on any number of machines.
Processes are released together by a start file and waited on with one deadline; nothing
here asserts on wall-clock time (the speed-up of two peers is in ``benchmarks/stores.py``).
"""

from __future__ import annotations

import json
import os
import signal
import sys
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import child_processes
import pytest
from _swarm_processes import DEADLINE, PEER_MARGIN, SwarmProcesses, worker_command
from s3_server import S3Location

from pythagoras.identity.address import CallAddress
from pythagoras.storage.plugins import open_store
from pythagoras.swarm.protocol import new_peer_id
from pythagoras.swarm.swarm_store import SwarmStore

pytestmark = [
    pytest.mark.skipif(not hasattr(os, "killpg"), reason="process groups are POSIX"),
    pytest.mark.timeout(DEADLINE + 30),
]

RACER = Path(__file__).with_name("_claim_racer.py")


@pytest.fixture
def swarm(tmp_path: Path, s3: S3Location) -> Iterator[SwarmProcesses]:
    processes = SwarmProcesses(tmp_path, s3.url, s3.storage_options)
    try:
        yield processes
    finally:
        processes.close()


def test_two_executors_on_s3_share_ten_half_second_calls(swarm: SwarmProcesses) -> None:
    xs = [4, 9, 0, 7, 2, 8, 5, 1, 6, 3]
    for name in ("a", "b"):
        swarm.peer(name, "executor_map", max_workers=1, xs=xs, seconds=0.5)
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
    # Every result is in the bucket, where a third process reads it without running anything.
    assert len(list(open_store(swarm.store, swarm.storage_options).list("results/"))) >= len(xs)


def addresses(count: int) -> list[CallAddress]:
    return [CallAddress(uuid.uuid4().hex, uuid.uuid4().hex) for _ in range(count)]


def race(swarm: SwarmProcesses, racers: int, contested: list[CallAddress],
         lease_timeout: float) -> list[list[bool]]:
    """Start ``racers`` processes, release them together, and return what each won."""
    names = [f"racer{i}" for i in range(racers)]
    for name in names:
        config = {"name": name, "store": swarm.store, "storage_options": swarm.storage_options,
                  "barrier_dir": str(swarm.barrier_dir), "start_file": str(swarm.start_file),
                  "addresses": [[a.function, a.arguments] for a in contested], "racers": names,
                  "lease_timeout": lease_timeout,
                  "deadline": max(0.0, swarm.remaining() - PEER_MARGIN)}
        swarm.start(name, [sys.executable, str(RACER), json.dumps(config)], swarm.env())
    swarm.wait_ready(*names)
    swarm.release()
    return [swarm.report(name)["won"] for name in names]


def test_eight_processes_claim_one_call_on_s3_and_exactly_one_wins(swarm: SwarmProcesses) -> None:
    contested = addresses(5)  # five races in a row, the same eight contenders
    won = race(swarm, 8, contested, lease_timeout=30.0)
    for i, address in enumerate(contested):
        winners = [racer for racer, outcome in enumerate(won) if outcome[i]]
        assert len(winners) == 1, f"race {i} ({address}): winners {winners}"


def test_eight_processes_break_one_dead_peers_lease_on_s3_and_exactly_one_wins(
    swarm: SwarmProcesses,
) -> None:
    # The leases are fresh, but their holder was a process of this machine that has exited:
    # every racer sees it gone and races to break them, through a create of a break marker.
    holder_id = new_peer_id().replace(f"-{os.getpid()}-", f"-{child_processes.exited_pid()}-")
    contested = addresses(3)
    holder = SwarmStore(open_store(swarm.store, swarm.storage_options))
    for address in contested:
        assert holder.claim(address, holder_id) is not None
    won = race(swarm, 8, contested, lease_timeout=30.0)
    for i, address in enumerate(contested):
        winners = [racer for racer, outcome in enumerate(won) if outcome[i]]
        assert len(winners) == 1, f"race {i} ({address}): winners {winners}"


def test_a_worker_command_serves_a_client_on_s3(swarm: SwarmProcesses) -> None:
    # `pythagoras worker s3://... --storage-options JSON` on one side, a client with no
    # workers of its own on the other: every call runs in the worker, through the bucket.
    xs = [3, 1, 4]
    worker = swarm.start("worker", [*worker_command(), "worker", swarm.store, "--max-workers", "1",
                                    "--storage-options", json.dumps(swarm.storage_options)],
                         swarm.env())
    swarm.peer("client", "sync_parallel", max_workers=0, xs=xs, seconds=0.0)
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
