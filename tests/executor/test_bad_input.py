"""Bad input gets a clear exception at the caller, naming the fix, and nothing is written:
unpicklable arguments, arguments over the size limit, generator and coroutine functions."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

from pythagoras import (
    ArgumentTooLarge,
    PurityError,
    PythagorasExecutor,
    SharedStorage_P2P_Cloud,
    UnhashableArgument,
)


def size(data: Any) -> int:
    return len(data)


def numbers(n: int) -> Any:
    yield from range(n)


async def later(n: int) -> int:
    return n


async def agen(n: int) -> Any:
    yield n


def records(folder: Path) -> list[str]:
    kinds = ("requests", "results", "values", "functions", "claims", "failures")
    return sorted(str(p.relative_to(folder)) for kind in kinds for p in (folder / kind).rglob("*")
                  if p.is_file())


@pytest.fixture
def ex(tmp_path: Path) -> Any:
    with PythagorasExecutor(str(tmp_path / "swarm"), max_workers=1) as ex:
        yield ex


def test_an_unpicklable_argument(ex: PythagorasExecutor, tmp_path: Path) -> None:
    with pytest.raises(UnhashableArgument, match="picklable"):
        ex.submit(size, threading.Lock())
    assert records(tmp_path / "swarm") == []


def test_an_argument_over_the_size_limit(ex: PythagorasExecutor, tmp_path: Path,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTHAGORAS_MAX_ARGUMENT_BYTES", "100000")
    with pytest.raises(ArgumentTooLarge,
                       match=r"over the swarm's limit of 100,000.*PYTHAGORAS_MAX_ARGUMENT_BYTES"):
        ex.submit(size, b"x" * 200_000)
    assert records(tmp_path / "swarm") == []
    assert ex.submit(size, b"x" * 50_000).result(timeout=60) == 50_000  # under it: runs
    monkeypatch.setenv("PYTHAGORAS_MAX_ARGUMENT_BYTES", "lots")
    with pytest.raises(ValueError, match="must be a number of bytes"):
        ex.submit(size, b"y")


@pytest.mark.parametrize("fn", [numbers, later, agen], ids=["generator", "coroutine", "async-generator"])
def test_generator_and_coroutine_functions(ex: PythagorasExecutor, tmp_path: Path, fn: Any) -> None:
    with pytest.raises(PurityError, match="generator or coroutine function"):
        ex.submit(fn, 3)
    with pytest.raises(PurityError):
        list(ex.map(fn, [1, 2]))
    assert records(tmp_path / "swarm") == []
    cloud = SharedStorage_P2P_Cloud(str(tmp_path / "swarm"), max_workers=0)
    with pytest.raises(PurityError, match="generator or coroutine"):
        cloud.add_pure_function(fn)
