"""What a run comes to: each call's outcome from what its worker returned, the failure of a
call whose workers kept dying, and the events that announce the outcomes."""

from __future__ import annotations

from typing import Any

from ..identity.address import CallAddress
from ..records.frames import Pickled
from . import events
from .protocol import Call, Failure
from .worker import Outcome

__all__ = ["Outcomes", "announce", "described", "died", "outcomes_of", "run_name"]

#: Each call's address, value (a :class:`Pickled` one or None) and failure (or None).
Outcomes = list[tuple[CallAddress, Any, Failure | None]]


def run_name(calls: list[Call]) -> str:
    """A run's calls in a few words, for the log and failures."""
    return calls[0].name if len(calls) == 1 else f"a batch of {len(calls)} calls"


def outcomes_of(calls: list[Call], outcomes: list[Outcome], peer: str, attempt: int) -> Outcomes:
    """The outcomes a worker returned, as the swarm stores them."""
    return [(call.address, Pickled(value) if ok else None,
             None if ok else Failure.raised(value, text, peer, attempt))
            for call, (ok, value, text) in zip(calls, outcomes, strict=True)]


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
