"""``ChunkSizes``, how an auto-sized ``map`` cuts its calls into chunks: times of calls in a
worker given by hand (as a peer's runs report them), chunk sizes out. Futures are settled by
hand: no swarm, no process. The sizer's waits are real but bounded, or recorded (``waits``)."""

from __future__ import annotations

import time
from concurrent.futures import Future
from typing import Any

import pytest

from pythagoras.executor import chunks
from pythagoras.executor.chunks import LARGEST, TARGET, ChunkSizes, calls_in, chunks_of

F = "f" * 32  # the identity of the function mapped


class Times:
    """Seconds per call of each function, as the runner notes them from its outcomes."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    def __call__(self, function: str) -> float | None:
        return self.seconds.get(function)


def settled() -> Future[Any]:
    future: Future[Any] = Future()
    future.set_result(None)
    return future


def send_probes(sizes: ChunkSizes, count: int, at: float | None = None) -> list[Future[Any]]:
    """Send ``count`` chunks, each asserted to be of one call; their futures."""
    probes = []
    for _ in range(count):
        assert sizes.next() == 1
        probe: Future[Any] = Future()
        sizes.sent([probe], time.monotonic() if at is None else at, F)
        probes.append(probe)
    return probes


@pytest.fixture
def waits(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, float]]:
    """The sizer's waits as (how many futures, timeout), each done at once."""
    done: list[tuple[int, float]] = []

    def wait(futures: list[Future[Any]], timeout: float, return_when: str) -> None:
        done.append((len(futures), timeout))

    monkeypatch.setattr(chunks, "wait", wait)
    return done


def test_a_given_chunksize_is_every_chunk_s_size() -> None:
    sizes = ChunkSizes(7, workers=2, per_call=Times())
    sizes.sent([Future()], time.monotonic(), F)
    assert [sizes.next() for _ in range(3)] == [7, 7, 7]


def test_trivial_calls_grow_the_chunks_to_the_largest() -> None:
    times = Times()
    sizes = ChunkSizes(None, workers=2, per_call=times, starting=settled())
    probes = send_probes(sizes, 4)  # two per worker, one call each
    times.seconds[F] = 2e-6  # noted from the first outcome, before its future settles
    probes[0].set_result(4)
    assert sizes.next() == LARGEST
    assert sizes.next() == LARGEST


def probed(sizes: ChunkSizes, workers: int) -> None:
    """The map's probes sent (two per worker, one call each) and back."""
    for probe in send_probes(sizes, 2 * workers):
        probe.set_result(None)


def test_long_calls_shrink_the_chunks_to_one() -> None:
    times = Times()
    times.seconds[F] = 3 * TARGET
    sizes = ChunkSizes(None, workers=2, per_call=times, starting=settled())
    probed(sizes, 2)
    assert sizes.next() == 1
    times.seconds[F] = TARGET / 10  # ten calls a chunk
    assert sizes.next() == int(TARGET / (TARGET / 10)) == 10


def test_the_size_follows_the_calls_during_a_map() -> None:
    times = Times()
    sizes = ChunkSizes(None, workers=2, per_call=times, starting=settled())
    probed(sizes, 2)
    seen = []
    for seconds in (1e-6, TARGET / 50, 2 * TARGET, TARGET / 4, 1e-5):
        times.seconds[F] = seconds  # the runs of the chunks before report it
        seen.append(sizes.next())
    assert seen == [LARGEST, 50, 1, 4, LARGEST]


def test_a_map_s_even_share_per_worker_caps_its_chunks() -> None:
    times = Times()
    times.seconds[F] = 1e-6
    sizes = ChunkSizes(None, workers=4, calls=1000, per_call=times, starting=settled())
    probed(sizes, 4)
    assert sizes.next() == 250


def test_a_function_timed_here_before_is_probed_again_by_each_map() -> None:
    # A warm-up call of nap(0) before a map of nap(TARGET / 2): the time of the earlier run is
    # not this map's. Sized by it, the map went out as one chunk, and every peer that
    # submitted the same map ran the whole of it.
    times = Times()
    times.seconds[F] = 1e-6  # the warm-up's
    sizes = ChunkSizes(None, workers=2, calls=400, per_call=times, starting=settled())
    probes = send_probes(sizes, 4)  # each asserted to be one call
    times.seconds[F] = TARGET / 2  # the probes' own, noted as they come back
    for probe in probes:
        probe.set_result(None)
    assert sizes.next() == 2


def test_the_probes_are_awaited_while_the_pool_starts_and_sized_by_their_time_in_a_worker(
        monkeypatch: pytest.MonkeyPatch) -> None:
    times = Times()
    starting: Future[Any] = Future()
    sizes = ChunkSizes(None, workers=1, per_call=times, starting=starting)
    # Sent long ago: their round trip is the pool's start-up, no call's cost.
    probes = send_probes(sizes, 2, at=time.monotonic() - 10 * TARGET)
    waited: list[list[Future[Any]]] = []
    wait = chunks.wait

    def pool_starts_while_waited_for(futures: list[Future[Any]], timeout: float,
                                     return_when: str) -> Any:
        waited.append(list(futures))
        if not starting.done():  # the pool is up, and the probes ran in 2 us
            starting.set_result(None)
            times.seconds[F] = 2e-6
            for probe in probes:
                probe.set_result(1)
        return wait(futures, timeout, return_when)

    monkeypatch.setattr(chunks, "wait", pool_starts_while_waited_for)
    assert sizes.next() == LARGEST
    assert starting in waited[0]  # it waited for the pool, not a fixed time
    assert sizes.next() == LARGEST  # and only once


class Clock:
    """The sizer's clock, standing still."""

    def __init__(self) -> None:
        self.now = 1000.0

    def monotonic(self) -> float:
        return self.now


def test_calls_run_by_other_peers_are_sized_by_their_round_trip(
        monkeypatch: pytest.MonkeyPatch) -> None:
    clock = Clock()
    monkeypatch.setattr(chunks, "time", clock)
    sizes = ChunkSizes(None, workers=1, per_call=Times(), starting=settled())
    probes = send_probes(sizes, 2, at=clock.now - TARGET / 10)
    for probe in probes:
        probe.set_result(None)  # no time noted here: another peer ran it
    assert sizes.next() == 10  # a round trip of TARGET / 10: a call takes that at most


def test_with_no_probe_back_calls_go_alone_until_a_time_is_known(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(chunks, "PROBING", 0.01)
    times = Times()
    sizes = ChunkSizes(None, workers=1, per_call=times, starting=settled())
    probes = send_probes(sizes, 2)
    assert sizes.next() == 1  # none came back while probing: long calls, or nobody serving
    assert sizes.next() == 1  # without waiting again
    times.seconds[F] = TARGET / 5
    probes[1].cancel()
    assert sizes.next() == 5


def test_no_wait_lasts_past_the_map_s_deadline(waits: list[tuple[int, float]]) -> None:
    sizes = ChunkSizes(None, workers=1, per_call=Times(), starting=Future(),
                       deadline=time.monotonic() - 1)
    send_probes(sizes, 2)
    assert sizes.next() == 1
    assert waits and all(timeout == 0 for _, timeout in waits)


def test_calls_only_read_from_the_store_are_not_probes() -> None:
    sizes = ChunkSizes(None, workers=1, per_call=Times())
    sizes.sent([], time.monotonic(), F)  # a chunk whose calls were all stored
    assert sizes.next() == 1


def test_chunks_of_takes_each_size_as_it_is_asked_for() -> None:
    times = Times()
    sizes = ChunkSizes(None, workers=1, per_call=times, starting=settled())
    taken = chunks_of(iter([(i,) for i in range(7)]), sizes)
    for i in range(2):  # the probes
        assert next(taken) == [(i,)]
        sizes.sent([settled()], time.monotonic(), F)
    times.seconds[F] = TARGET / 2
    assert next(taken) == [(2,), (3,)]
    times.seconds[F] = 1e-6
    assert list(taken) == [[(i,) for i in range(4, 7)]]  # LARGEST, cut by the end


def test_calls_in_a_map_where_the_iterables_tell() -> None:
    assert calls_in([range(10), [1, 2, 3]]) == 3
    assert calls_in([iter(x for x in range(5)), range(7)]) == 7  # at most
    assert calls_in([iter(x for x in range(5))]) is None
