"""How ``map`` cuts its calls into chunks, each chunk one request: a size the caller gives, or
one sized by the calls' round trip (``chunksize=None``, as joblib's ``batch_size="auto"``).

A request costs about a millisecond of file operations whatever its calls cost, so a map of
trivial calls one request each runs at a small fraction of loky's rate, while a map of long
calls in big chunks leaves peers idle at its end. The first calls of an auto-sized map (the
probes) go out one request each; once they are all back, or :data:`PROBING` after the first went
out, the rest go out in chunks of about :data:`TARGET` seconds by the shortest round trip seen.
A map none of whose probes is back within :data:`PROBING` (calls of 25 ms or more, or nobody
serving) is sent one call a request, as with ``chunksize=1``.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator
from concurrent.futures import Future, wait
from typing import Any

TARGET = 0.1  # seconds of round trips an auto-sized chunk aims at
PROBING = 0.025  # seconds from the first probe sent to the chunk size measured, at most
LARGEST = 256  # calls in an auto-sized chunk at most, however fast they come back


class ChunkSizes:
    """The size of each next chunk of one ``map``: ``chunksize``, or if it is None, 1 until
    ``probes`` calls went to the swarm, then one size measured from the first to come back."""

    def __init__(self, chunksize: int | None, probes: int) -> None:
        self._size = chunksize
        self._probes = probes
        self._sent: list[Future[Any]] = []
        self._first_sent = 0.0
        self._round_trips: list[float] = []  # appended to by the threads that settle probes

    def next(self) -> int:
        if self._size is None:
            if len(self._sent) < self._probes:
                return 1
            self._size = self._measure()
        return self._size

    def sent(self, futures: list[Future[Any]], at: float) -> None:
        """Note calls sent to the swarm (not those read from the store) at ``at`` (monotonic,
        taken before sending) while still probing."""
        if self._size is not None or not futures:
            return
        if not self._sent:
            self._first_sent = at
        self._sent += futures
        for future in futures:
            future.add_done_callback(self._settled(at))

    def _settled(self, sent: float) -> Any:
        def settled(future: Future[Any]) -> None:
            if not future.cancelled():
                self._round_trips.append(time.monotonic() - sent)

        return settled

    def _measure(self) -> int:
        """Calls a chunk by the shortest round trip of the probes back by PROBING after the
        first went out (it waits until then, or until all are back); 1 if none is back."""
        wait(self._sent, timeout=max(0.0, self._first_sent + PROBING - time.monotonic()))
        round_trips = list(self._round_trips)
        self._sent = []  # no reference kept to futures the caller may drop
        if not round_trips:
            return 1
        return max(1, min(LARGEST, int(TARGET / max(min(round_trips), 1e-6))))


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
