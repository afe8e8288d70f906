"""The events of calls (``pythagoras_call_submitted``, ``_started``, ``_finished``, ``_failed``),
as a plugin registered on the plugin manager receives them, on a real folder with real workers.

The submitter's events are fired before ``submit``/``map`` hands a future out and before the
future settles, so they are all there once a value is returned; the runner's are fired by the
peer's pool thread, so the tests wait for them (never longer than :data:`TIMEOUT`, which only
a hang reaches). No test asserts how long anything took.
"""

from __future__ import annotations

import logging
import os
import textwrap
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import child_processes
import pytest
from joblib import Parallel, delayed, parallel_backend

from pythagoras import PythagorasExecutor
from pythagoras.joblib_backend import executors as executors_module
from pythagoras.storage.hookspecs import hookimpl
from pythagoras.storage.plugins import plugin_manager
from pythagoras.swarm.events import CallEvent

TIMEOUT = 60.0  # only a hang reaches this

pytestmark = pytest.mark.timeout(4 * TIMEOUT)


# -- the functions the tests submit (loky's workers import this module by name) ---------------


class Refused(ValueError):
    pass


def square(x: int) -> int:
    return x * x


def refuse(x: int) -> int:
    raise Refused(f"refused {x}")


# -- a recording plugin --------------------------------------------------------------------------


class Recorder:
    """Every event it receives, in order, as ``(hook, event)`` with hook one of ``submitted``,
    ``started``, ``finished``, ``failed``."""

    def __init__(self) -> None:
        self.events: list[tuple[str, CallEvent]] = []
        self._cv = threading.Condition()

    def _record(self, hook: str, event: CallEvent) -> None:
        with self._cv:
            self.events.append((hook, event))
            self._cv.notify_all()

    @hookimpl
    def pythagoras_call_submitted(self, event: CallEvent) -> None:
        self._record("submitted", event)

    @hookimpl
    def pythagoras_call_started(self, event: CallEvent) -> None:
        self._record("started", event)

    @hookimpl
    def pythagoras_call_finished(self, event: CallEvent) -> None:
        self._record("finished", event)

    @hookimpl
    def pythagoras_call_failed(self, event: CallEvent) -> None:
        self._record("failed", event)

    def of(self, hook: str, side: str | None = None) -> list[CallEvent]:
        with self._cv:
            return [e for h, e in self.events if h == hook and side in (None, e.side)]

    def wait_for(self, hook: str, side: str, count: int) -> list[CallEvent]:
        """The ``hook`` events of ``side`` once there are at least ``count``."""
        with self._cv:
            if not self._cv.wait_for(lambda: len(self.of(hook, side)) >= count, TIMEOUT):
                got = [(h, e.side, e.function, e.cached) for h, e in self.events]
                pytest.fail(f"{count} {hook} events on the {side} side: not within {TIMEOUT} s; "
                            f"got {got}")
        return self.of(hook, side)

    def clear(self) -> None:
        with self._cv:
            self.events.clear()


class Raiser:
    """A plugin whose every event hook raises."""

    @hookimpl
    def pythagoras_call_submitted(self, event: CallEvent) -> None:
        raise RuntimeError("submitted hook broken")

    @hookimpl
    def pythagoras_call_started(self, event: CallEvent) -> None:
        raise RuntimeError("started hook broken")

    @hookimpl
    def pythagoras_call_finished(self, event: CallEvent) -> None:
        raise RuntimeError("finished hook broken")

    @hookimpl
    def pythagoras_call_failed(self, event: CallEvent) -> None:
        raise RuntimeError("failed hook broken")


@pytest.fixture
def recorder() -> Iterator[Recorder]:
    pm = plugin_manager()
    plugin = Recorder()
    pm.register(plugin, name="test-events-recorder")
    try:
        yield plugin
    finally:
        pm.unregister(plugin)


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    return tmp_path / "swarm"


@pytest.fixture
def open_executor(folder: Path) -> Iterator[Callable[..., PythagorasExecutor]]:
    """``open_executor(**options)``: an executor on the test's folder, shut down at the end."""
    opened: list[PythagorasExecutor] = []

    def open_one(**options: Any) -> PythagorasExecutor:
        executor = PythagorasExecutor(folder, **options)
        opened.append(executor)
        return executor

    try:
        yield open_one
    finally:
        for executor in opened:
            executor.shutdown(wait=True, cancel_futures=True)


# -- the tests -----------------------------------------------------------------------------------


def test_a_miss_fires_submitted_started_and_finished_on_both_sides(
        recorder: Recorder, open_executor: Callable[..., PythagorasExecutor]) -> None:
    ex = open_executor(max_workers=1)
    future = ex.submit(square, 3)
    assert future.result(TIMEOUT) == 9
    # The submitter's events are there once the value is returned.
    [submitted] = recorder.of("submitted")
    [finished] = recorder.of("finished", "submitter")
    [started] = recorder.wait_for("started", "runner", 1)
    [ran] = recorder.wait_for("finished", "runner", 1)
    assert recorder.of("failed") == []

    address = submitted.address
    assert len(address) == 65 and address[32] == "/"
    for event in (submitted, finished, started, ran):
        assert event.address == address
        assert event.function == "square"
        assert event.location == ex.location
        assert event.peer == ex._peer.id
        assert not event.cached and event.error is None
    assert submitted.side == finished.side == "submitter"
    assert started.side == ran.side == "runner"
    assert submitted.seconds is None and finished.seconds is None and started.seconds is None
    assert ran.seconds is not None and ran.seconds >= 0
    order = recorder.events.index
    assert order(("submitted", submitted)) < order(("started", started)) < order(("finished", ran))
    assert order(("submitted", submitted)) < order(("finished", finished))


def test_a_hit_fires_submitted_and_finished_cached_and_no_runner_event(
        recorder: Recorder, open_executor: Callable[..., PythagorasExecutor]) -> None:
    ex = open_executor(max_workers=1)
    assert ex.submit(square, 4).result(TIMEOUT) == 16
    recorder.wait_for("finished", "runner", 1)
    recorder.clear()

    assert ex.submit(square, 4).result(TIMEOUT) == 16
    assert list(ex.map(square, [4, 4])) == [16, 16]

    assert [(hook, event.side, event.cached) for hook, event in recorder.events] == [
        ("submitted", "submitter", True), ("finished", "submitter", True)] * 3
    assert all(event.function == "square" for _, event in recorder.events)


def test_a_raising_call_fires_failed_with_its_error_on_both_sides(
        recorder: Recorder, open_executor: Callable[..., PythagorasExecutor]) -> None:
    ex = open_executor(max_workers=1)
    with pytest.raises(Refused, match="refused 5"):
        ex.submit(refuse, 5).result(TIMEOUT)
    [failed] = recorder.of("failed", "submitter")
    [raised] = recorder.wait_for("failed", "runner", 1)
    assert failed.error == raised.error == "Refused: refused 5"
    assert not failed.cached and raised.seconds is not None
    assert recorder.of("finished") == []

    # A failure stored already is raised again at once: failed, cached, and nothing runs.
    recorder.clear()
    with pytest.raises(Refused):
        ex.submit(refuse, 5).result(TIMEOUT)
    assert [(hook, event.side, event.cached, event.error) for hook, event in recorder.events] == [
        ("submitted", "submitter", True, None), ("failed", "submitter", True, "Refused: refused 5")]


def test_a_batch_fires_one_started_per_call_it_runs(
        recorder: Recorder, open_executor: Callable[..., PythagorasExecutor]) -> None:
    ex = open_executor(max_workers=1)
    assert ex.submit(square, 1).result(TIMEOUT) == 1
    recorder.wait_for("finished", "runner", 1)
    recorder.clear()

    # Two chunks, two batch requests: [0, 2] (1 is stored) and [3, 4, 5].
    assert list(ex.map(square, range(6), chunksize=3)) == [0, 1, 4, 9, 16, 25]
    submitted = recorder.of("submitted")
    assert len(submitted) == 6
    assert [e.cached for e in submitted].count(True) == 1
    assert len(recorder.of("finished", "submitter")) == 6
    misses = {e.address for e in submitted if not e.cached}
    started = recorder.wait_for("started", "runner", 5)
    ran = recorder.wait_for("finished", "runner", 5)
    assert sorted(e.address for e in started) == sorted(misses)
    assert sorted(e.address for e in ran) == sorted(misses)
    # Each batch was one run: its members share its time.
    assert len({e.seconds for e in ran}) <= 2


def test_a_plugin_that_raises_breaks_no_call_and_no_other_plugin(
        recorder: Recorder, open_executor: Callable[..., PythagorasExecutor],
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.ERROR, logger="pythagoras")
    pm = plugin_manager()
    raiser = Raiser()
    pm.register(raiser, name="test-events-raiser")  # registered last: called first
    try:
        ex = open_executor(max_workers=1)
        assert ex.submit(square, 6).result(TIMEOUT) == 36
        with pytest.raises(Refused):
            ex.submit(refuse, 6).result(TIMEOUT)
        assert ex.submit(square, 6).result(TIMEOUT) == 36  # a hit
        recorder.wait_for("finished", "runner", 1)
        recorder.wait_for("failed", "runner", 1)
    finally:
        pm.unregister(raiser)
    assert len(recorder.of("submitted")) == 3
    assert len(recorder.of("started")) == 2
    assert len(recorder.of("finished", "submitter")) == 2
    assert len(recorder.of("failed", "submitter")) == 1

    logged = [r for r in caplog.records if r.name == "pythagoras" and r.exc_info
              and isinstance(r.exc_info[1], RuntimeError)]
    assert all("test-events-raiser" in r.getMessage() for r in logged)
    broken = {str(r.exc_info[1]) for r in logged if r.exc_info}
    assert broken == {"submitted hook broken", "started hook broken", "finished hook broken",
                      "failed hook broken"}
    # Each event the raiser received logged once: 3 submitted (2 misses, 1 hit), 2 started,
    # 3 finished (the miss on both sides, the hit) and 2 failed (both sides).
    assert len(logged) == 10


def test_a_cancelled_future_fires_neither_finished_nor_failed(
        recorder: Recorder, open_executor: Callable[..., PythagorasExecutor]) -> None:
    client = open_executor(max_workers=0)  # runs nothing: the calls wait for a worker
    cancelled = client.submit(square, 7)
    kept = client.submit(square, 7)
    assert cancelled.cancel()
    open_executor(max_workers=1)  # a worker on the folder runs the call
    assert kept.result(TIMEOUT) == 49

    mine = [(hook, e) for hook, e in recorder.events if e.side == "submitter"]
    assert [hook for hook, _ in mine] == ["submitted", "submitted", "finished"]
    assert all(e.peer == client._peer.id for _, e in mine)
    recorder.wait_for("finished", "runner", 1)
    assert recorder.of("failed") == []


def test_the_joblib_backend_fires_the_submitter_s_events(
        recorder: Recorder, folder: Path) -> None:
    try:
        with parallel_backend("pythagoras", location=str(folder), max_workers=1):
            assert Parallel(n_jobs=2)(delayed(square)(i) for i in range(4)) == [0, 1, 4, 9]
            submitted = recorder.of("submitted")
            finished = recorder.of("finished", "submitter")
            assert sorted(e.function for e in submitted) == ["square"] * 4
            assert len({e.address for e in submitted}) == 4
            assert {e.address for e in finished} == {e.address for e in submitted}
            assert len(finished) == 4
            recorder.wait_for("finished", "runner", 4)

            recorder.clear()  # run again: every call is a hit
            assert Parallel(n_jobs=2)(delayed(square)(i) for i in range(4)) == [0, 1, 4, 9]
            assert sorted((h, e.cached) for h, e in recorder.events) == (
                [("finished", True)] * 4 + [("submitted", True)] * 4)
    finally:
        with executors_module._executors_lock:
            stale = [key for key in executors_module._executors if key[0] == str(folder)]
            executors = [executors_module._executors.pop(key) for key in stale]
        for executor in executors:
            executor.shutdown(wait=True, cancel_futures=True)


RECORDER_MODULE = '''
import os
import threading

from pythagoras import hookimpl

_cv = threading.Condition()
_count = 0


def _record(hook, event):
    global _count
    with _cv:
        with open(os.environ["RECORDER_LOG"], "a") as log:
            log.write(f"{hook} {event.side} {event.cached}\\n")
        _count += 1
        _cv.notify_all()


def wait_for(count, timeout):
    with _cv:
        return _cv.wait_for(lambda: _count >= count, timeout)


@hookimpl
def pythagoras_call_submitted(event):
    _record("submitted", event)


@hookimpl
def pythagoras_call_started(event):
    _record("started", event)


@hookimpl
def pythagoras_call_finished(event):
    _record("finished", event)


@hookimpl
def pythagoras_call_failed(event):
    _record("failed", event)
'''

CHILD = '''
import sys

from pythagoras import PythagorasExecutor
from pythagoras.storage.plugins import plugin_manager


def cube(x):
    return x ** 3


if __name__ == "__main__":
    with PythagorasExecutor(sys.argv[1], max_workers=1) as ex:
        print(list(ex.map(cube, range(3))))
    import recorder_module  # loaded already, by the entry point; wait for the runner's events
    assert plugin_manager().get_plugin("recorder") is recorder_module
    assert recorder_module.wait_for(12, timeout=float(sys.argv[2]))
'''


def test_a_plugin_of_an_entry_point_receives_the_events_in_another_process(
        tmp_path: Path, folder: Path) -> None:
    site = tmp_path / "site"
    dist = site / "x-0.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: x\nVersion: 0\n")
    (dist / "entry_points.txt").write_text("[pythagoras]\nrecorder = recorder_module\n")
    (site / "recorder_module.py").write_text(textwrap.dedent(RECORDER_MODULE))
    (tmp_path / "child.py").write_text(textwrap.dedent(CHILD))
    log = tmp_path / "events.log"
    path = os.pathsep.join(p for p in (str(site), os.environ.get("PYTHONPATH")) if p)
    env = dict(os.environ, PYTHONPATH=path, RECORDER_LOG=str(log))

    done = child_processes.run([str(tmp_path / "child.py"), str(folder), str(TIMEOUT)], env=env,
                               timeout=2 * TIMEOUT)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[0, 1, 8]"
    assert sorted(log.read_text().splitlines()) == sorted(
        ["submitted submitter False", "started runner False", "finished runner False",
         "finished submitter False"] * 3)
