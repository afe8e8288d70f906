"""``ChunkSizes``, how an auto-sized ``map`` cuts its calls into chunks, with futures settled
by hand: no swarm, no process. The waits here are the sizer's own, bounded by ``PROBING``."""

from __future__ import annotations

import time
from concurrent.futures import Future
from typing import Any

import pytest

from pythagoras.executor import chunks
from pythagoras.executor.chunks import ChunkSizes, chunks_of


def futures(n: int) -> list[Future[Any]]:
    return [Future() for _ in range(n)]


def test_a_given_chunksize_is_every_chunk_s_size() -> None:
    sizes = ChunkSizes(7, probes=2)
    sizes.sent(futures(1), time.monotonic())
    assert [sizes.next() for _ in range(3)] == [7, 7, 7]


def test_auto_sends_the_probes_alone_then_chunks_of_the_target_by_their_round_trip(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(chunks, "PROBING", 10.0)  # far more than it takes: all probes settle
    sizes = ChunkSizes(None, probes=2)
    probes = futures(2)
    for probe in probes:
        assert sizes.next() == 1
        sizes.sent([probe], time.monotonic() - 0.01)  # sent 10 ms ago
        probe.set_result(None)
    size = sizes.next()
    # TARGET over a round trip of at least 10 ms (and a little more, as the clock ran on)
    assert 2 <= size <= chunks.TARGET / 0.01
    assert sizes.next() == size  # measured once


def test_auto_caps_the_chunk_of_calls_that_come_back_at_once() -> None:
    sizes = ChunkSizes(None, probes=1)
    probe: Future[Any] = Future()
    probe.set_result(None)
    sizes.sent([probe], time.monotonic())
    assert sizes.next() == chunks.LARGEST


def test_auto_sends_calls_alone_when_no_probe_comes_back_while_probing(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(chunks, "PROBING", 0.01)
    sizes = ChunkSizes(None, probes=2)
    slow, cancelled = futures(2)
    sizes.sent([slow, cancelled], time.monotonic())
    assert cancelled.cancel()  # settled, but not by a call that came back
    assert sizes.next() == 1
    slow.set_result(None)  # too late: the size is taken
    assert sizes.next() == 1


def test_calls_only_read_from_the_store_are_not_probes() -> None:
    sizes = ChunkSizes(None, probes=2)
    sizes.sent([], time.monotonic())  # a chunk whose calls were all stored
    assert sizes.next() == 1


def test_chunks_of_takes_each_size_as_it_is_asked_for() -> None:
    sizes = ChunkSizes(None, probes=1)
    taken = chunks_of(iter([(i,) for i in range(6)]), sizes)
    assert next(taken) == [(0,)]
    probe: Future[Any] = Future()
    probe.set_result(None)
    sizes.sent([probe], time.monotonic())
    assert list(taken) == [[(i,) for i in range(1, 6)]]  # LARGEST, cut by the end
