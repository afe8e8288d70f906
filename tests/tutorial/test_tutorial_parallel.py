"""The tutorial's cells 10-11: sync_parallel and async_parallel on one peer with a real pool."""

from __future__ import annotations

import concurrent.futures
import time
from collections.abc import Iterator
from concurrent.futures import Future, wait
from pathlib import Path

import execution_log
import pytest

from pythagoras import CallTimeout, PurityError, SharedStorage_P2P_Cloud, kw_args


@pytest.fixture
def cloud(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[SharedStorage_P2P_Cloud]:
    monkeypatch.setenv(execution_log.VARIABLE, str(tmp_path / "executions.jsonl"))
    cloud = SharedStorage_P2P_Cloud(shared_dir_name=str(tmp_path / "my_project"), max_workers=1)
    yield cloud
    cloud.close()


def very_slow_function(*, important_parameter: int) -> int:
    """Stands for an hour; runs in the peer's worker process."""
    execution_log.record(important_parameter)
    time.sleep(0.01)
    return important_parameter**2


EXPECTED = [4000000, 4004001, 4008004, 4012009, 4016016, 4020025, 4024036, 4028049, 4032064, 4036081]


def test_cells_10_and_11(cloud: SharedStorage_P2P_Cloud) -> None:
    f = cloud.add_pure_function(very_slow_function)
    assert f.sync_parallel(kw_args(important_parameter=i) for i in range(2000, 2010)) == EXPECTED
    assert sorted(execution_log.calls()) == list(range(2000, 2010))
    assert f.sync_parallel(kw_args(important_parameter=i) for i in range(2000, 2010)) == EXPECTED
    assert len(execution_log.calls()) == 10  # cell 11: every result came from the folder
    assert f(important_parameter=2003) == 4012009 and len(execution_log.calls()) == 10
    assert not list(cloud.store.list("requests/")) and not list(cloud.store.list("claims/"))


def test_async_parallel_returns_futures_at_once(cloud: SharedStorage_P2P_Cloud) -> None:
    f = cloud.add_pure_function(very_slow_function)
    f(important_parameter=1)
    futures = f.async_parallel([kw_args(important_parameter=1), kw_args(important_parameter=2)])
    assert all(isinstance(x, Future) for x in futures)
    assert futures[0].done() and futures[0].result() == 1  # a hit is resolved at once
    done, not_done = wait(futures, timeout=60)
    assert not not_done
    assert [x.result() for x in futures] == [1, 4]


def test_a_bad_call_among_many_fails_before_anything_is_submitted(cloud: SharedStorage_P2P_Cloud) -> None:
    f = cloud.add_pure_function(very_slow_function)
    calls = [kw_args(important_parameter=1), kw_args(important_parameter=2, extra=3)]
    with pytest.raises(PurityError, match="unexpected keyword"):
        f.sync_parallel(calls)
    assert not list(cloud.store.list(""))


def test_sync_parallel_times_out(cloud: SharedStorage_P2P_Cloud) -> None:
    client = SharedStorage_P2P_Cloud(shared_dir_name=cloud.store.location, max_workers=0)
    f = client.add_pure_function(very_slow_function)
    calls = [kw_args(important_parameter=4), kw_args(important_parameter=5)]
    with pytest.raises(CallTimeout, match=r"very_slow_function\.sync_parallel\(\): 2 of 2") as raised:
        f.sync_parallel(calls, timeout=0.2)  # no peer serves the folder
    assert isinstance(raised.value, TimeoutError)
    assert isinstance(raised.value, concurrent.futures.TimeoutError)
    assert execution_log.calls() == []
    client.close()


class Refused(ValueError):
    pass


def refuses(*, x: int) -> int:
    execution_log.record(x)
    raise Refused(f"no {x}")


def test_a_raising_call_is_final_until_retried_or_cleared(cloud: SharedStorage_P2P_Cloud) -> None:
    f = cloud.add_pure_function(refuses)
    for _ in range(2):
        with pytest.raises(Refused, match="no 7") as caught:
            f.sync_parallel([kw_args(x=7)], timeout=60)
        assert "refuses" in str(caught.value.__cause__)  # the remote traceback
    assert execution_log.calls() == [7]
    with pytest.raises(Refused):
        f.sync_parallel([kw_args(x=7)], timeout=60, retry=True)
    assert execution_log.calls() == [7, 7]
    assert f.clear_failure(x=7) and not f.clear_failure(x=7)
    with pytest.raises(Refused):
        f.sync_parallel([kw_args(x=7)], timeout=60)
    assert execution_log.calls() == [7, 7, 7]


def test_sync_parallel_of_values_not_keywords_says_what_to_pass(cloud: SharedStorage_P2P_Cloud) -> None:
    f = cloud.add_pure_function(very_slow_function)
    with pytest.raises(PurityError, match=r"not 1: pass kw_args\(important_parameter=\.\.\.\) per call"):
        f.sync_parallel([1, 2])
    with pytest.raises(PurityError, match="kw_args"):
        f.async_parallel(range(3))
    assert not list(cloud.store.list(""))  # nothing was written


debugging_log: list[int] = []


def appends_to_what_it_reads(*, x: int) -> int:
    debugging_log.append(x)
    return x + len(debugging_log) * 0


def test_a_function_that_changes_what_it_reads_warns_once(cloud: SharedStorage_P2P_Cloud) -> None:
    from pythagoras.errors import PurityWarning

    f = cloud.add_pure_function(appends_to_what_it_reads)
    with pytest.warns(PurityWarning, match="none of its calls can ever be a hit"):
        assert f(x=1) == 1
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # once: the next computed call does not warn again
        assert f(x=2) == 2
    g = cloud.add_pure_function(very_slow_function)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a function that leaves what it reads alone: no warning
        assert g(important_parameter=3) == 9
