"""The "pythagoras" joblib backend: joblib's contract, and what the swarm adds to it.

Real joblib, a real executor with worker processes on a fresh folder for each test.
"""

from __future__ import annotations

import concurrent.futures
import functools
import multiprocessing
import pickle
import threading
import time
from concurrent.futures import Future
from pathlib import Path

import _tasks
import joblib
import numpy as np
import pytest
from joblib import Parallel, delayed, parallel_backend, parallel_config
from joblib._parallel_backends import AutoBatchingMixin

import pythagoras
from pythagoras import CallTimeout, PythagorasExecutor
from pythagoras.joblib_backend import NoWorkers, PythagorasBackend, register
from pythagoras.swarm.protocol import RemoteTraceback

TIMEOUT = 60.0  # only a hang reaches this

pytestmark = pytest.mark.timeout(4 * TIMEOUT)


def test_registered_on_import_and_by_register() -> None:
    assert joblib.parallel.BACKENDS["pythagoras"] is PythagorasBackend
    del joblib.parallel.BACKENDS["pythagoras"]
    register()
    assert joblib.parallel.BACKENDS["pythagoras"] is PythagorasBackend
    assert pythagoras.joblib_backend.PythagorasBackend is PythagorasBackend


def test_joblib_s_auto_batching_is_the_one_used() -> None:
    # The mixin must come before ParallelBackendBase, or the base's batch size of 1 wins.
    assert PythagorasBackend.compute_batch_size is AutoBatchingMixin.compute_batch_size
    assert PythagorasBackend.batch_completed is AutoBatchingMixin.batch_completed
    assert PythagorasBackend.default_n_jobs == -1
    assert PythagorasBackend.supports_retrieve_callback


def test_constructible_without_arguments_and_picklable(monkeypatch: pytest.MonkeyPatch,
                                                        tmp_path: Path) -> None:
    monkeypatch.setenv("PYTHAGORAS_LOCATION", str(tmp_path))
    assert PythagorasBackend().location is None  # the default, resolved when first used
    backend = PythagorasBackend(location=str(tmp_path), max_workers=3, cache=False,
                                lease_timeout=7.0)
    copy = pickle.loads(pickle.dumps(backend))
    assert isinstance(copy, PythagorasBackend)
    assert copy.options == backend.options


def test_results_in_order_under_both_context_managers(folder: str) -> None:
    with parallel_backend("pythagoras", location=folder, max_workers=2):
        assert Parallel()(delayed(_tasks.square)(i) for i in range(30)) == [i * i for i in range(30)]
    with parallel_config(backend="pythagoras", location=folder, max_workers=2):
        assert Parallel(n_jobs=2)(delayed(_tasks.square)(i) for i in range(40)) == [
            i * i for i in range(40)]


def test_calls_are_memoized_one_by_one(folder: str) -> None:
    with parallel_config(backend="pythagoras", location=folder, max_workers=2):
        first = Parallel(batch_size=4)(delayed(_tasks.pid_of)(i) for i in range(8))
        # Other batches, partly overlapping: the calls stored come back unchanged.
        again = Parallel(batch_size=3)(delayed(_tasks.pid_of)(i) for i in range(4, 12))
    assert again[:4] == first[4:]
    executor = PythagorasBackend(location=folder, max_workers=2).executor
    assert executor._peer.executed == 12


def test_a_batch_of_hits_does_not_recurse(folder: str) -> None:
    # Every batch of the second run is done at once; callbacks run synchronously inside
    # submit would dispatch the next batch from inside submit until RecursionError.
    calls = [delayed(_tasks.square)(i) for i in range(3000)]
    with parallel_config(backend="pythagoras", location=folder, max_workers=2):
        Parallel(batch_size=50)(calls)
        assert Parallel(batch_size=1, pre_dispatch="2*n_jobs")(calls) == [i * i for i in range(3000)]


def test_a_stored_batch_completes_on_the_submitting_thread_a_sent_one_elsewhere(folder: str) -> None:
    # A stored batch's callback runs at once, here: joblib then finds it done when it starts
    # waiting, instead of sleeping 10 ms to poll for it. A batch sent to the swarm settles on a
    # peer's thread, and its callback runs on the completion thread, not there.
    backend = PythagorasBackend(location=folder, max_workers=1)
    backend.configure(n_jobs=2)
    threads: dict[str, int] = {}
    sent_done = threading.Event()
    sent = backend.submit(functools.partial(_tasks.square, 7), callback=lambda f: (
        threads.setdefault("sent", threading.get_ident()), sent_done.set()))
    assert sent_done.wait(TIMEOUT) and backend.retrieve_result_callback(sent) == 49
    assert threads["sent"] != threading.get_ident()
    stored = backend.submit(functools.partial(_tasks.square, 7),  # stored now: done at submit
                            callback=lambda f: threads.setdefault("stored", threading.get_ident()))
    assert threads["stored"] == threading.get_ident()
    assert isinstance(stored, Future) and backend.retrieve_result_callback(stored) == 49


def test_a_stored_batch_submitted_by_a_callback_completes_after_it_not_inside(folder: str) -> None:
    # joblib's callback dispatches the next batch: were a stored batch's callback run inside
    # submit, a run of stored batches would recurse through all of them.
    backend = PythagorasBackend(location=folder, max_workers=1)
    backend.configure(n_jobs=2)
    one, two = functools.partial(_tasks.square, 1), functools.partial(_tasks.square, 2)
    for task in (one, two):
        backend.retrieve_result(backend.submit(task), timeout=TIMEOUT)  # stored from now on
    order: list[str] = []

    def outer(_: Future[int]) -> None:
        order.append("outer starts")
        backend.submit(two, callback=lambda f: order.append("inner"))
        order.append("outer ends")

    backend.submit(one, callback=outer)
    assert order == ["outer starts", "outer ends", "inner"]


@pytest.mark.parametrize("return_as", ["generator", "generator_unordered"])
def test_generators(folder: str, return_as: str) -> None:
    if return_as == "generator_unordered" and tuple(map(int, joblib.__version__.split(".")[:2])) < (1, 4):
        pytest.skip("joblib < 1.4 has no generator_unordered")
    with parallel_config(backend="pythagoras", location=folder, max_workers=2):
        results = Parallel(return_as=return_as)(delayed(_tasks.square)(i) for i in range(20))
        assert not isinstance(results, list)
        values = list(results)
    expected = [i * i for i in range(20)]
    assert values == expected if return_as == "generator" else sorted(values) == expected


def test_timeout_raises_and_cancels(folder: str, tmp_path: Path) -> None:
    gate = tmp_path / "never"  # the calls wait for a file that is only created afterwards
    try:
        with parallel_config(backend="pythagoras", location=folder, max_workers=1):
            with pytest.raises(multiprocessing.TimeoutError):  # what joblib raises for every backend
                Parallel(timeout=0.5)(delayed(_tasks.gate_then)(str(gate), i) for i in range(4))
    finally:
        gate.touch()  # release the call that runs, so the executor can shut down


def test_retrieve_result_times_out_with_the_builtin_and_the_futures_timeout_error(
        folder: str) -> None:
    # joblib takes results through retrieve_result_callback (supports_retrieve_callback);
    # retrieve_result, with its timeout, is the contract's other way, and must keep it too.
    backend = PythagorasBackend(location=folder, max_workers=0)
    batch: Future[list[int]] = Future()
    with pytest.raises(CallTimeout, match="a joblib batch did not finish") as raised:
        backend.retrieve_result(batch, timeout=0)
    assert isinstance(raised.value, TimeoutError)
    assert isinstance(raised.value, concurrent.futures.TimeoutError)
    batch.set_exception(TimeoutError("the batch's own"))
    with pytest.raises(TimeoutError, match="the batch's own") as raised:
        backend.retrieve_result(batch, timeout=0)
    assert not isinstance(raised.value, CallTimeout)


def test_exception_keeps_its_type_and_the_remote_traceback(folder: str) -> None:
    with parallel_config(backend="pythagoras", location=folder, max_workers=1):
        with pytest.raises(_tasks.Boom, match="boom 3") as raised:
            Parallel()(delayed(_tasks.explode)(i) for i in [3])
    cause = raised.value.__cause__
    assert isinstance(cause, RemoteTraceback) and "explode" in cause.text


def test_a_failure_is_run_again_in_a_later_search(folder: str, tmp_path: Path) -> None:
    # joblib does not remember exceptions: neither does the backend (the decorator does).
    for _ in range(2):
        with parallel_config(backend="pythagoras", location=folder, max_workers=1):
            with pytest.raises(_tasks.Boom):
                Parallel()(delayed(_tasks.explode)(i) for i in [5])
    assert PythagorasBackend(location=folder, max_workers=1).executor._peer.executed == 2


def test_a_large_argument_is_stored_once(folder: str) -> None:
    big = np.arange(300_000, dtype=np.float64)  # 2.4 MB
    # A pure client publishes every batch as a request, for the other peer to run.
    worker = PythagorasExecutor(folder, max_workers=2)
    try:
        with parallel_config(backend="pythagoras", location=folder, max_workers=0):
            values = Parallel(batch_size=2)(delayed(_tasks.total)(big, i) for i in range(10))
    finally:
        worker.shutdown()
    assert worker._peer.executed == 10
    assert values == [float(big.sum()) + i for i in range(10)]
    stored = [p for p in (Path(folder) / "values").rglob("*") if p.is_file()]
    assert len(stored) == 1


def test_n_jobs_minus_one_counts_the_workers_of_live_peers(folder: str) -> None:
    other = PythagorasExecutor(folder, max_workers=3)
    try:
        backend = PythagorasBackend(location=folder, max_workers=1)
        deadline = time.monotonic() + TIMEOUT
        while backend.effective_n_jobs(-1) != 4:  # until the other peer's heartbeat is written
            assert time.monotonic() < deadline, backend.effective_n_jobs(-1)
            time.sleep(0.01)
        assert backend.effective_n_jobs(-2) == 3
        assert backend.effective_n_jobs(3) == 3
        with pytest.raises(ValueError):
            backend.effective_n_jobs(0)
    finally:
        other.shutdown()


def test_no_worker_anywhere_is_a_clear_error(folder: str) -> None:
    with parallel_config(backend="pythagoras", location=folder, max_workers=0):
        with pytest.raises(NoWorkers, match="pythagoras worker"):
            Parallel()(delayed(_tasks.square)(i) for i in range(2))
    assert not [p for p in Path(folder).rglob("*") if p.is_file()]  # nothing was written


def test_verbose_progress_as_joblib_prints_it(folder: str, capfd: pytest.CaptureFixture[str]) -> None:
    with parallel_config(backend="pythagoras", location=folder, max_workers=2):
        Parallel(n_jobs=2, verbose=10)(delayed(_tasks.square)(i) for i in range(6))
    err = capfd.readouterr().err
    assert "Using backend PythagorasBackend with 2 concurrent workers" in err
    assert "Done   6 out of   6" in err or "Done 6 out of 6" in err.replace("  ", " ")


def test_unpicklable_argument_raises_at_the_caller_and_writes_nothing(folder: str) -> None:
    with parallel_config(backend="pythagoras", location=folder, max_workers=1):
        with pytest.raises(TypeError, match="picklable"):
            Parallel()(delayed(_tasks.square)(threading.Lock()) for _ in range(1))
    # The peer's record is all there is: no request, function or value.
    assert [p.parent.name for p in Path(folder).rglob("*") if p.is_file()] == ["peers"]
