"""dask as a peer's engine, against a real dask.distributed LocalCluster on 127.0.0.1.

The joblib issue's grid search under ``parallel_backend("pythagoras",
engine=client.get_executor())`` scores as ``n_jobs=1`` does, and a plain loky peer in a new
process reads every fit back; two processes, each with its own cluster, mapping the same calls
on one folder execute each call once.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("distributed")
pytest.importorskip("sklearn")

import _engine_calls as calls
import _search
import child_processes
from distributed.cfexecutor import ClientExecutor

from pythagoras import PythagorasExecutor
from pythagoras.joblib_backend import PythagorasBackend
from pythagoras.swarm.engines import Engine, engine_key

HERE = Path(__file__).resolve().parent
DEADLINE = 120.0  # for a process the tests start: only a hang reaches this

pytestmark = pytest.mark.timeout(3 * DEADLINE)


def environment() -> dict[str, str]:
    """This process's environment, with the test folders importable (``_engine_calls``,
    ``execution_log``)."""
    path = os.pathsep.join([str(HERE), str(HERE.parent), os.environ.get("PYTHONPATH", "")])
    return {**os.environ, "PYTHONPATH": path.rstrip(os.pathsep)}


def run_script(*args: str) -> dict[str, Any]:
    done = child_processes.run(args, timeout=DEADLINE, env=environment())
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout.splitlines()[-1])
    return result


def count_submissions(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """The tasks handed to dask's ClientExecutors from now on (every one of this test)."""
    submitted: list[Any] = []
    submit = ClientExecutor.submit

    def counted(self: ClientExecutor, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        submitted.append(fn)
        return submit(self, fn, *args, **kwargs)

    monkeypatch.setattr(ClientExecutor, "submit", counted)
    return submitted


def test_the_engine_of_a_dask_client_counts_its_threads(dask_client: Any) -> None:
    engine = Engine(dask_client.get_executor())
    assert engine.client is dask_client
    assert engine.capacity() == 2  # one worker, two threads
    assert Engine(dask_client.get_executor(), max_workers=1).capacity() == 1
    # The client itself will do: it is taken as its get_executor().
    itself = Engine(dask_client)
    assert isinstance(itself.executor, ClientExecutor) and itself.capacity() == 2
    assert engine_key(dask_client) == engine_key(dask_client.get_executor()) == engine.key()


def test_a_dask_engine_runs_the_misses_and_never_sees_the_hits(
        folder: Path, dask_client: Any, monkeypatch: pytest.MonkeyPatch,
        executions: Callable[[], list[Any]]) -> None:
    submitted = count_submissions(monkeypatch)
    with PythagorasExecutor(folder, engine=dask_client) as executor:
        # One call a request (chunksize=1), so that the engine's tasks count the calls it ran.
        assert list(executor.map(calls.square, range(4), timeout=DEADLINE, chunksize=1)) == [
            0, 1, 4, 9]
        assert len(submitted) == 4
        assert list(executor.map(calls.square, range(6), timeout=DEADLINE, chunksize=1)) == [
            0, 1, 4, 9, 16, 25]
        assert len(submitted) == 6
    assert sorted(e[1] for e in executions() if e[0] == "square") == list(range(6))
    assert dask_client.submit(abs, -1).result(timeout=DEADLINE) == 1  # still the caller's


def test_the_backend_shares_one_executor_for_every_get_executor_of_a_client(
        folder: Path, dask_client: Any) -> None:
    first = PythagorasBackend(location=str(folder), engine=dask_client.get_executor())
    again = PythagorasBackend(location=str(folder), engine=dask_client.get_executor())
    assert first.executor is again.executor
    assert first.effective_n_jobs(-1) == 2  # the cluster's threads


def test_a_grid_search_on_dask_scores_as_n_jobs_1_and_a_loky_peer_reads_it_back(
        folder: Path, dask_client: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    submitted = count_submissions(monkeypatch)
    sequential = _search.search("sequential", str(folder))
    on_dask = _search.search("dask", str(folder), engine=dask_client.get_executor())
    assert on_dask["scores"] == pytest.approx(sequential["scores"], abs=1e-12)
    assert on_dask["best_params"] == sequential["best_params"]
    assert on_dask["executed"] == _search.FITS  # every fit ran here, on the cluster
    assert submitted and not on_dask["pool_started"]  # ... and none on a loky pool
    # A new process with a plain loky peer on the same folder: every fit is read back.
    again = run_script(str(HERE / "_search.py"), "loky", str(folder))
    assert again["scores"] == on_dask["scores"] and again["best_params"] == on_dask["best_params"]
    assert again["executed"] == 0  # its pool starts with it, as a serving peer's does: idle


def test_two_processes_each_with_its_own_cluster_execute_every_call_once(
        folder: Path, tmp_path: Path, executions: Callable[[], list[Any]]) -> None:
    calls = 16
    barrier = tmp_path / "barrier"
    barrier.mkdir()
    peers = [child_processes.spawn([sys.executable, str(HERE / "_dask_peer.py"), str(folder),
                                    str(barrier), name, str(calls)], env=environment())
             for name in ("a", "b")]
    reports = []
    deadline = time.monotonic() + DEADLINE
    try:
        for peer in peers:
            done = child_processes.finish(peer, timeout=max(0.0, deadline - time.monotonic()))
            assert done.returncode == 0, done.stderr
            reports.append(json.loads(done.stdout.splitlines()[-1]))
    finally:
        for peer in peers:
            child_processes.kill_group(peer)
    for report in reports:
        assert report["values"] == [x * x for x in range(calls)]
    ran = Counter(e[1] for e in executions() if e[0] == "work")
    assert set(ran) == set(range(calls))
    duplicates = sum(ran.values()) - calls
    assert duplicates <= 1, ran  # no lease expires here; at most one race at a call's end
    assert sum(r["executed"] for r in reports) == sum(ran.values())


def test_nested_calls_on_a_dask_worker_of_one_thread_lend_it_and_sign(tmp_path: Path) -> None:
    # The dask worker is a process of its own: the calls' own calls reach the swarm through the
    # peer's store (its secret included), and the one thread lends itself while it waits.
    folder = tmp_path / "swarm"
    secret = "a-secret-of-the-team-7d21"
    done = child_processes.run([str(HERE / "_dask_nested.py"), str(folder)], timeout=DEADLINE,
                               env={**environment(), "PYTHAGORAS_SECRET": secret})
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.splitlines()[-1])
    assert result["got"] == result["want"] and result["stored"]
    assert not (folder / "quarantine").exists() or not any((folder / "quarantine").rglob("*.*"))
