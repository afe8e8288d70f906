"""Progress bars: ``sync_parallel(progress=...)``, ``PythagorasExecutor(progress=True)`` and the
joblib backend's ``progress=True`` draw tqdm bars on stderr that end at the number of calls,
with the hits and failures counted, on a real folder with real workers.

What the bar last showed is read from stderr (tqdm redraws a line with carriage returns); no
test depends on how fast anything ran.
"""

from __future__ import annotations

import io
import re
import time
from collections.abc import Iterator
from pathlib import Path

import child_processes
import pytest
from joblib import Parallel, delayed, parallel_config

from pythagoras import PythagorasExecutor, SharedStorage_P2P_Cloud, kw_args
from pythagoras.joblib_backend import shutdown_executors
from pythagoras.swarm.progress import wanted

#: Seconds for a closed executor's workers to exit; only a leak reaches it.
WORKERS_EXIT_WITHIN = 30.0


def square(x: int) -> int:
    return x * x


def refuse(x: int) -> int:
    raise ValueError(f"refused {x}")


def slow_square(*, x: int) -> int:
    return x * x


def final_bars(stderr: str) -> list[str]:
    """The last state of each bar drawn: the text before each newline, after its last \\r."""
    return [line.rpartition("\r")[2].strip() for line in stderr.split("\n") if line.strip()]


def counts(bar: str) -> tuple[int, int]:
    match = re.search(r"(\d+)/(\d+) \[", bar)
    assert match, bar
    return int(match.group(1)), int(match.group(2))


@pytest.fixture(autouse=True)
def no_workers_left() -> Iterator[None]:
    """Every test closes what it opened: no warm executor's workers outlive it."""
    before = frozenset(int(p.partition(":")[0]) for p in child_processes.pool_processes())
    yield
    deadline = time.monotonic() + WORKERS_EXIT_WITHIN
    while left := child_processes.pool_processes(besides=before):
        assert time.monotonic() < deadline, f"left running after the test: {left}"
        time.sleep(0.05)  # polling for the workers' exit, with a deadline


@pytest.fixture
def joblib_executors() -> Iterator[None]:
    """The joblib backend keeps one warm executor per location for the next Parallel call:
    shut down at the test's end."""
    yield
    shutdown_executors()


@pytest.fixture
def cloud(tmp_path: Path) -> Iterator[SharedStorage_P2P_Cloud]:
    cloud = SharedStorage_P2P_Cloud(shared_dir_name=str(tmp_path / "swarm"), max_workers=1)
    yield cloud
    cloud.close()


# -- when a bar is shown ---------------------------------------------------------------------


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_bar_is_shown_as_told_or_where_someone_watches(monkeypatch: pytest.MonkeyPatch) -> None:
    assert wanted(True) is True
    assert wanted(False) is False
    monkeypatch.setattr("sys.stderr", io.StringIO())  # a script's stderr piped to a file
    assert wanted(None) is False
    monkeypatch.setattr("sys.stderr", FakeTerminal())
    assert wanted(None) is True


# -- sync_parallel -----------------------------------------------------------------------------


def test_sync_parallel_draws_a_bar_of_its_calls_and_counts_hits(
    cloud: SharedStorage_P2P_Cloud, capsys: pytest.CaptureFixture[str]
) -> None:
    f = cloud.add_pure_function(slow_square)
    assert f.sync_parallel([kw_args(x=i) for i in range(10)], progress=True) == [i * i for i in range(10)]
    first = final_bars(capsys.readouterr().err)
    assert len(first) == 1 and first[0].startswith("slow_square:"), first
    assert counts(first[0]) == (10, 10)
    assert "hits" not in first[0]

    assert f.sync_parallel([kw_args(x=i) for i in range(12)], progress=True)[-1] == 121
    second = final_bars(capsys.readouterr().err)
    assert counts(second[0]) == (12, 12)
    assert "hits=10" in second[0]


def test_sync_parallel_shows_no_bar_in_a_script_by_default(
    cloud: SharedStorage_P2P_Cloud, capsys: pytest.CaptureFixture[str]
) -> None:
    f = cloud.add_pure_function(slow_square)
    assert f.sync_parallel([kw_args(x=i) for i in range(3)]) == [0, 1, 4]
    assert capsys.readouterr().err == ""  # stderr is not a terminal here


def test_sync_parallel_bar_stops_at_a_failure_and_the_failure_raises(
    cloud: SharedStorage_P2P_Cloud, capsys: pytest.CaptureFixture[str]
) -> None:
    def fails(*, x: int) -> int:
        raise ValueError(f"no {x}")

    f = cloud.add_pure_function(fails)
    with pytest.raises(ValueError, match="no 0"):
        f.sync_parallel([kw_args(x=0)], progress=True)
    bars = final_bars(capsys.readouterr().err)
    assert counts(bars[0]) == (1, 1) and "failed=1" in bars[0], bars


# -- the executor ------------------------------------------------------------------------------


def test_an_executor_bar_counts_its_own_calls_hits_and_failures(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    location = str(tmp_path / "swarm")
    with PythagorasExecutor(location, max_workers=1) as quiet, \
            PythagorasExecutor(location, max_workers=1, progress=True) as ex:
        assert list(quiet.map(square, range(100, 105))) == [x * x for x in range(100, 105)]
        assert list(ex.map(square, range(8))) == [x * x for x in range(8)]
        assert list(ex.map(square, range(10))) == [x * x for x in range(10)]
        with pytest.raises(ValueError):
            ex.submit(refuse, 1).result(timeout=60)
    bars = final_bars(capsys.readouterr().err)
    assert len(bars) == 1, bars  # one bar for the executor's life; none for the quiet one
    assert counts(bars[0]) == (19, 19)  # 8 + 10 + 1: the other executor's 5 calls are not its
    assert "hits=8" in bars[0] and "failed=1" in bars[0], bars[0]


def test_an_executor_without_progress_draws_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with PythagorasExecutor(str(tmp_path / "swarm"), max_workers=1) as ex:
        assert list(ex.map(square, range(3))) == [0, 1, 4]
    assert capsys.readouterr().err == ""


# -- the joblib backend ------------------------------------------------------------------------


def test_the_joblib_backend_draws_a_bar_per_parallel_call(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], joblib_executors: None
) -> None:
    with parallel_config(backend="pythagoras", location=str(tmp_path / "swarm"), max_workers=1,
                         progress=True):
        assert Parallel(n_jobs=2)(delayed(square)(i) for i in range(20)) == [i * i for i in range(20)]
        assert Parallel(n_jobs=2)(delayed(square)(i) for i in range(25))[-1] == 576
    bars = final_bars(capsys.readouterr().err)
    assert len(bars) == 2, bars
    assert counts(bars[0]) == (20, 20) and "hits" not in bars[0]
    assert counts(bars[1]) == (25, 25) and "hits=20" in bars[1]
