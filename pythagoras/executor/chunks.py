"""How ``map`` cuts its calls into chunks, each chunk one request: a size the caller gives, or
one sized by the time its calls take in a worker (``chunksize=None``, as joblib's
``batch_size="auto"``).

A request costs about a millisecond of file operations whatever its calls cost, so a map of
trivial calls one request each runs at a small fraction of loky's rate, while a map of long
calls in big chunks leaves peers idle at its end. An auto-sized chunk holds about
:data:`TARGET` seconds of calls, by the seconds a call of the function takes in a worker of
this process (every outcome reports them: ``CallTimes`` in ``swarm/outcomes.py``), at most
:data:`LARGEST` calls and at most an even share of the map per worker. The size is taken anew
for each chunk, so it follows the calls as they turn out slower or quicker during the map.

Not a round trip: the first round trip of a fresh executor is its pool's start-up (loky's
workers take some hundreds of milliseconds to boot), which is no call's cost. For a function
none of whose calls ran here yet, the first calls (the probes, two per worker, enough to keep
every worker busy meanwhile) go out one request each; then the map waits for them to come
back: while the pool starts (at most :data:`STARTING`), then :data:`PROBING` more. A call
another peer ran reports no time: its round trip, an upper bound, stands in. With none back
by then (calls of ``PROBING`` or more), each chunk is one call until a time is known.

Every map probes, also of a function whose calls ran here before: the time of an earlier run
may not hold for this map's arguments (a warm-up call of ``nap(0)`` before a map of
``nap(0.05)`` sized the map as one chunk, and peers that submitted the same map each ran the
whole of it).
"""

from __future__ import annotations

import itertools
import operator
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ALL_COMPLETED, FIRST_COMPLETED, Future, wait
from typing import Any

TARGET = 0.1  # seconds of calls in a worker an auto-sized chunk aims at
LARGEST = 1024  # calls in an auto-sized chunk at most, however quick they are
PROBING = 0.2  # seconds to wait for a probe once the pool is up, at most
STARTING = 30.0  # seconds to wait for the pool to start, at most

#: Seconds a call of a function (by its identity) takes in a worker here; None if unknown.
PerCall = Callable[[str], "float | None"]


class ChunkSizes:
    """The size of each next chunk of one ``map``: ``chunksize``, or if it is None, by the
    seconds a call takes in a worker (``per_call``), among ``workers`` workers, for a map of
    ``calls`` calls (None: unknown). ``starting`` is done once the pool is up; no wait lasts
    past ``deadline`` (monotonic)."""

    def __init__(self, chunksize: int | None, *, workers: int = 1, calls: int | None = None,
                 per_call: PerCall = lambda function: None, starting: Future[Any] | None = None,
                 deadline: float | None = None) -> None:
        self._fixed = chunksize
        workers = max(1, workers)
        self._probes = 2 * workers
        self._share = LARGEST if calls is None else max(1, -(-calls // workers))
        self._per_call = per_call
        self._starting = starting
        self._deadline = deadline
        self._function: str | None = None
        self._probing: list[Future[Any]] = []  # probes sent, until they are waited for
        self._waited = False
        self._round_trips: list[float] = []  # appended to by the threads that settle probes

    def next(self) -> int:
        if self._fixed is not None:
            return self._fixed
        if not self._waited:  # every map probes: a time from an earlier run may not hold
            if len(self._probing) < self._probes:  # for this one's arguments (a warm-up call)
                return 1
            self._wait_for_probes()
        seconds = self._seconds()
        if seconds is None:
            return 1
        return max(1, min(int(TARGET / max(seconds, 1e-9)), LARGEST, self._share))

    def sent(self, futures: list[Future[Any]], at: float, function: str) -> None:
        """Note calls of ``function`` sent to the swarm (not those read from the store) at
        ``at`` (monotonic, taken before sending)."""
        self._function = function
        probes = [] if self._waited else futures[:self._probes - len(self._probing)]
        self._probing += probes
        for future in probes:
            future.add_done_callback(self._settled(at))

    def _settled(self, sent: float) -> Callable[[Future[Any]], None]:
        def settled(future: Future[Any]) -> None:
            if not future.cancelled():
                self._round_trips.append(time.monotonic() - sent)

        return settled

    def _seconds(self) -> float | None:
        """Seconds a call takes: in a worker here, else at most a probe's round trip."""
        known = None if self._function is None else self._per_call(self._function)
        if known is None and self._round_trips:
            return min(self._round_trips)
        return known

    def _wait_for_probes(self) -> None:
        """Wait for the probes to come back: while the pool starts, then PROBING more. All of
        them, where they come back by then: a worker's first call of a function may be slow
        (what it does once: an import, a cache) where those after it are not."""
        self._waited = True
        probes, self._probing = self._probing, []  # no reference kept to futures the caller drops
        if self._starting is not None and not self._starting.done():
            wait([*probes, self._starting], self._left(STARTING), FIRST_COMPLETED)
        wait(probes, self._left(PROBING), ALL_COMPLETED)

    def _left(self, seconds: float) -> float:
        if self._deadline is None:
            return seconds
        return max(0.0, min(seconds, self._deadline - time.monotonic()))


def calls_in(iterables: Iterable[Iterable[Any]]) -> int | None:
    """How many calls a map of ``iterables`` makes, at most, where their lengths tell."""
    known = [n for iterable in iterables if (n := operator.length_hint(iterable, -1)) >= 0]
    return min(known) if known else None


def chunks_of(calls: Iterator[tuple[Any, ...]], sizes: ChunkSizes) -> Iterator[list[tuple[Any, ...]]]:
    """The calls in chunks, each of the size ``sizes`` gives when it is taken."""
    while chunk := list(itertools.islice(calls, sizes.next())):
        yield chunk


def take(iterator: Iterator[Any], count: int) -> Iterator[Any]:
    """At most ``count`` items of ``iterator``, taken one by one as they are asked for."""
    for _ in range(count):
        try:
            yield next(iterator)
        except StopIteration:
            return
