"""Claims on a batch's members, so that a call in several requests runs once.

A batch request is claimed by one claim, under the batch's address. Peers that submit the same
calls cut them into different chunks (each sizes its chunks by the times it measured, and a
joblib batch is sized by joblib), and a call may be requested alone too: the same call then
stands in several requests, each claimed by its own claim, and every holder ran it. Measured
with 8 peers mapping the same 400 calls of 50 ms: each call ran 5 times.

So the holder of a batch also claims each member under the member's own address, the claim a
request of that call alone takes (``create``: one store operation), and runs only the members
it claimed; the others are held by peers that run them. A member claim is renewed and released
with its batch's claim and never marked started: attempts are counted on the batch's claim.
A member's call is not claimed where it is known to take less than ``cheap`` seconds: there a
duplicate run costs less than the claims that would prevent it.

A batch run with members left out keeps its request when it settles: a member held elsewhere
is not finished, and its holder may have no request of its own (a call claimed at submit). The
request is retired by the peer that finds every member finished (``docs/protocol.md``).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence

from ..identity.address import CallAddress
from .protocol import Call, Claim, is_batch

__all__ = ["MemberClaims"]

#: A batch's members whose calls take less (seconds, measured here) are not claimed one by one:
#: a duplicate run costs less than a claim and its release (tens of µs on a folder, a round
#: trip or two on a remote store).
CHEAP_LOCAL = 0.002
CHEAP_REMOTE = 0.5

#: Claims a call for ``peer``, breaking a stale claim; None while another peer holds it.
Claimer = Callable[[CallAddress, str], "Claim | None"]


class MemberClaims:
    """The member claims each batch claim of this process holds, by the batch claim's nonce."""

    def __init__(self, claim: Claimer, *, remote: bool = False) -> None:
        self._claim = claim
        self.cheap = CHEAP_REMOTE if remote else CHEAP_LOCAL
        self._lock = threading.Lock()
        self._held: dict[str, list[Claim]] = {}  # batch claim nonce -> its member claims
        self._partial: set[str] = set()  # batch claim nonces whose run left members out

    def take(self, batch: Claim, calls: Sequence[Call],
             per_call: Callable[[str], float | None] = lambda function: None) -> list[Call]:
        """Of the calls of the claimed ``batch`` (of one call: all), those to run: each
        claimed here under its own address, unless it is cheap (``per_call``: the seconds a
        call of a function takes here, None if unknown)."""
        if not is_batch(batch.address):
            return list(calls)
        taken: list[Claim] = []
        run: list[Call] = []
        for call in calls:
            seconds = per_call(call.address.function)
            if seconds is not None and seconds < self.cheap:
                run.append(call)
                continue
            member = self._claim(call.address, batch.peer)
            if member is not None:
                taken.append(member)
                run.append(call)
        with self._lock:
            if taken:
                self._held.setdefault(batch.nonce, []).extend(taken)
            if len(run) < len(calls):
                self._partial.add(batch.nonce)
        return run

    def of(self, batch: Claim) -> list[Claim]:
        """The member claims the batch claim holds (to renew them with it)."""
        with self._lock:
            return list(self._held.get(batch.nonce, ()))

    def left_out(self, batch: Claim) -> bool:
        """True if the batch's run left out members that other peers held."""
        with self._lock:
            return batch.nonce in self._partial

    def drop(self, batch: Claim) -> list[Claim]:
        """Forget the batch claim: its member claims, to release with it."""
        with self._lock:
            self._partial.discard(batch.nonce)
            return self._held.pop(batch.nonce, [])
