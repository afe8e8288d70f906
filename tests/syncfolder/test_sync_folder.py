"""Peers on separate replicas of a synced folder, with a sync service between them.

The sync service is ``simulator.py``: it copies late, keeps conflict copies beside the
originals, delivers some files truncated first and whole later, and propagates deletions late.
There is no exclusive create across replicas, so claims are advisory and a call may run on both
sides; what must hold is that every caller gets every value, right and in input order, and that
no peer crashes on the debris or waits forever because files arrived out of order (invariants
2, 3 and 6 of the design).

Real processes in their own sessions (the copier, then the peers), released together by a start
file; one hard deadline; every process group killed on the way out.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import child_processes
import execution_log
import pytest

import pythagoras

CALLS = 10
SEED = 20261126
LEASE_TIMEOUT = 5.0  # renewed every 1.7 s; the copier is at most about 1 s late with a copy
DEADLINE = 30.0  # seconds for a whole test; only a hang or a crash reaches it
WAIT = 12.0  # sync_parallel's timeout: 10 calls of 0.3 s take about 3 s on one worker
HERE = Path(__file__).parent
SIMULATOR = HERE / "simulator.py"
PEER = HERE / "_sync_peer.py"
EXPECTED = [x * x for x in range(CALLS)]

pytestmark = [
    pytest.mark.skipif(not hasattr(os, "killpg"), reason="process groups are POSIX"),
    pytest.mark.timeout(DEADLINE + 20),
]


class SyncedFolder:
    """Two replicas, the copier between them, and the processes of one test."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp = tmp_path
        self.replicas = {"A": tmp_path / "replica-A", "B": tmp_path / "replica-B"}
        self.barrier = tmp_path / "barrier"
        self.barrier.mkdir()
        self.start_file, self.stop_file = tmp_path / "start", tmp_path / "stop"
        self.deadline = time.monotonic() + DEADLINE
        self.procs: dict[str, subprocess.Popen[str]] = {}
        self.ready: dict[str, Callable[[], bool]] = {}
        paths = [str(Path(pythagoras.__file__).resolve().parents[1]), str(HERE.parent)]
        # Every process imports this pythagoras (cwd is the test's folder, so `python -m` finds
        # no other) and execution_log, as do their loky workers.
        self.env = dict(os.environ)
        self.env["PYTHONPATH"] = os.pathsep.join(filter(None, [*paths, self.env.get("PYTHONPATH")]))

    def start(self, name: str, args: list[str], ready: Callable[[], bool] | None = None) -> None:
        self.procs[name] = child_processes.spawn([sys.executable, *args], env=self.env,
                                                 cwd=self.tmp)
        ready_file = self.barrier / f"ready-{name}"
        self.ready[name] = ready or ready_file.exists

    def start_copier(self) -> None:
        self.start("copier", [str(SIMULATOR), str(self.replicas["A"]), str(self.replicas["B"]),
                              "--seed", str(SEED), "--deadline", str(DEADLINE),
                              "--stop-file", str(self.stop_file),
                              "--ready-file", str(self.barrier / "ready-copier")])

    def start_peer(self, name: str, *, max_workers: int) -> None:
        config = {"name": name, "replica": str(self.replicas[name]), "max_workers": max_workers,
                  "barrier_dir": str(self.barrier), "start_file": str(self.start_file),
                  "calls": CALLS, "lease_timeout": LEASE_TIMEOUT, "timeout": WAIT,
                  "deadline": DEADLINE}
        self.start(name, [str(PEER), json.dumps(config)])

    def release(self) -> None:
        """Wait until every process is ready (fail early if one died first), then start them."""
        while not all(ready() for ready in self.ready.values()):
            for name, proc in self.procs.items():
                if not self.ready[name]() and proc.poll() is not None:
                    out, err = proc.communicate()
                    pytest.fail(f"{name} exited {proc.returncode} before it was ready:\n{out}{err}")
            if time.monotonic() > self.deadline:
                pytest.fail(f"not ready in time: {[n for n, r in self.ready.items() if not r()]}")
            time.sleep(0.005)
        self.start_file.touch()

    def finish(self, name: str) -> tuple[str, str]:
        """The process's stdout and stderr, once it has exited; a hang fails the test."""
        try:
            return self.procs[name].communicate(timeout=max(0.0, self.deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            pytest.fail(f"{name} did not finish within {DEADLINE} s (a hang)")

    def peer_report(self, name: str) -> dict[str, Any]:
        out, err = self.finish(name)
        code = self.procs[name].returncode
        assert out.strip(), f"peer {name} exited {code} saying nothing:\n{err}"
        report: dict[str, Any] = json.loads(out)
        log = "\n".join(f"  {level}: {text}" for level, text in report["log"])
        assert "error" not in report, f"peer {name}: {report['error']}\nits log:\n{log}\n{err}"
        assert self.procs[name].returncode == 0, err
        errors = [text for level, text in report["log"] if level in ("ERROR", "CRITICAL")]
        assert not errors, f"peer {name}'s loop failed:\n" + "\n".join(errors)
        return report

    def stop_copier(self) -> dict[str, Any]:
        self.stop_file.touch()
        out, err = self.finish("copier")
        assert self.procs["copier"].returncode == 0, err
        counts: dict[str, Any] = json.loads(out)
        print("copier:", json.dumps({k: v for k, v in counts.items() if k != "conflict_copies"}))
        return counts

    def kill_all(self) -> None:
        for proc in self.procs.values():
            child_processes.signal_group(proc)  # exited or not: what it started goes too
            try:
                proc.communicate(timeout=5)
            except (subprocess.TimeoutExpired, ValueError):
                pass


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[SyncedFolder]:
    monkeypatch.setenv(execution_log.VARIABLE, str(tmp_path / "executions.jsonl"))
    synced = SyncedFolder(tmp_path)
    try:
        yield synced
    finally:
        synced.kill_all()


def test_two_peers_on_synced_replicas_both_get_every_value(folder: SyncedFolder) -> None:
    folder.start_copier()
    folder.start_peer("A", max_workers=1)
    folder.start_peer("B", max_workers=1)
    folder.release()
    reports = {name: folder.peer_report(name) for name in ("A", "B")}
    counts = folder.stop_copier()

    for name, report in reports.items():
        corrupt = sum("corrupt" in text for _, text in report["log"])
        print(f"peer {name}: executed {report['executed']}, read {corrupt} corrupt records")
        assert report["results"] == EXPECTED, f"peer {name} returned wrong values"

    # Every call ran somewhere; some may have run on both peers, which a sync folder allows.
    executions = Counter(execution_log.calls())
    assert set(executions) == set(range(CALLS))
    assert sum(executions.values()) == sum(r["executed"] for r in reports.values())

    # The run really went through the debris a sync service leaves.
    assert counts["conflicts"] > 0 and counts["conflict_copies"], counts
    assert counts["truncated"] > 0, counts
    assert counts["deletions"] > 0, counts


def test_a_worker_on_the_other_replica_serves_a_submitter_without_workers(
        folder: SyncedFolder) -> None:
    """The tutorial's set-up: the caller only submits; a worker elsewhere runs every call.

    The sync service delivers the caller's request files and its function record in any order,
    some truncated at first; the worker must not give up on a request it met before it could
    load the request's function.
    """
    worker_peers = folder.replicas["B"] / "peers"
    folder.start_copier()
    folder.start_peer("A", max_workers=0)
    folder.start("worker", ["-m", "pythagoras", "worker", str(folder.replicas["B"]),
                            "--max-workers", "1", "--lease-timeout", str(LEASE_TIMEOUT)],
                 ready=lambda: worker_peers.is_dir() and any(worker_peers.iterdir()))
    folder.release()
    try:
        report = folder.peer_report("A")
    finally:
        folder.procs["worker"].send_signal(signal.SIGTERM)  # the worker's own way to stop
        _, worker_err = folder.finish("worker")
        print("worker's log:\n" + worker_err)  # shown by pytest when the test fails
    counts = folder.stop_copier()

    assert report["results"] == EXPECTED
    assert report["executed"] == 0
    assert set(execution_log.calls()) == set(range(CALLS))
    assert "error in its loop" not in worker_err, worker_err
    assert counts["truncated"] > 0, counts
