"""A clock that moves only when a test moves it: given to a ``MemoryStore`` (the dates of its
records) and to the swarm's parts, so that leases lapse without waiting."""

from __future__ import annotations


class FakeClock:
    """Seconds since the epoch, standing still until ``now`` is set or ``advance`` is called."""

    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds
