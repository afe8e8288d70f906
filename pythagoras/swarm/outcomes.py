"""What a run comes to: each call's outcome from what its worker returned, the failure of a
call whose workers kept dying, the events that announce the outcomes, and how long the calls
of each function take in a worker (:class:`CallTimes`)."""

from __future__ import annotations

import threading
from collections import defaultdict
from typing import Any

from ..identity.address import CallAddress
from ..records.frames import Pickled
from . import events
from .protocol import Call, Failure
from .worker import Outcome

__all__ = ["CallTimes", "Outcomes", "announce", "described", "died", "outcomes_of", "run_name"]

#: Each call's address, value (a :class:`Pickled` one or None) and failure (or None).
Outcomes = list[tuple[CallAddress, Any, Failure | None]]


def run_name(calls: list[Call]) -> str:
    """A run's calls in a few words, for the log and failures."""
    return calls[0].name if len(calls) == 1 else f"a batch of {len(calls)} calls"


def outcomes_of(calls: list[Call], outcomes: list[Outcome], peer: str, attempt: int) -> Outcomes:
    """The outcomes a worker returned, as the swarm stores them."""
    return [(call.address, Pickled(value) if ok else None,
             None if ok else Failure.raised(value, text, peer, attempt))
            for call, (ok, value, text, _) in zip(calls, outcomes, strict=True)]


def died(calls: list[Call], crash: BaseException, deaths: int, peer: str) -> Failure:
    """The failure of calls whose workers died ``deaths`` times running them."""
    return Failure("peers_died", "PeersDied",
                   f"the worker process running {run_name(calls)} died {deaths} time"
                   f"{'s' if deaths != 1 else ''} while running it ({described(crash)}); "
                   "it may crash its interpreter or exhaust memory. Clear the "
                   "failure to try again", "", peer, deaths)


def described(crash: BaseException) -> str:
    """A worker's death in a line: loky's explanation is a paragraph, its exit codes the news."""
    text = str(crash)
    for line in text.splitlines():
        if "exit codes" in line:
            return f"{type(crash).__name__}: {line.strip().removesuffix('.')}"
    return f"{type(crash).__name__}: {text.splitlines()[0]}" if text else type(crash).__name__


def announce(calls: list[Call], settled: Outcomes, seconds: float, location: str,
             peer: str) -> None:
    """The runner's ``finished`` or ``failed`` for each call run, its outcome published."""
    for call, (_, _, failure) in zip(calls, settled, strict=True):
        if failure is None:
            events.fire(events.FINISHED, events.CallEvent.of(
                call, location, peer, "runner", seconds=seconds))
        else:
            error = failure.exception if failure.exception is not None else failure.to_exception()
            events.fire(events.FAILED, events.CallEvent.of(
                call, location, peer, "runner", seconds=seconds, error=events.describe(error)))


class CallTimes:
    """The seconds a call of each function takes in a worker, as this peer's runs report them
    (:data:`~pythagoras.swarm.worker.Outcome`): what an auto-sized ``map`` cuts its chunks by.

    A function's figure is the mean per call of its latest run: the calls' cost as it is now,
    which a map follows as its calls turn out slower or quicker."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._seconds: dict[str, float] = {}  # function identity -> seconds per call

    def note(self, calls: list[Call], outcomes: list[Outcome]) -> None:
        """The outcomes of a run of ``calls``, in their order."""
        spent: dict[str, list[float]] = defaultdict(list)
        for call, outcome in zip(calls, outcomes, strict=True):
            spent[call.address.function].append(outcome[3])
        with self._lock:
            for function, seconds in spent.items():
                self._seconds[function] = sum(seconds) / len(seconds)

    def per_call(self, function: str) -> float | None:
        """Seconds a call of the function takes in a worker; None if none has run here."""
        with self._lock:
            return self._seconds.get(function)
