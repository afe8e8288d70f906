"""An empty claim does not hold its call for ever (issue 21).

A claim is empty for a moment while its peer writes it in place, so an empty claim holds its
call while it is fresh. But its date is the writer's to choose: a writer of the folder without
the secret (an empty record is never refused: it holds no bytes to check) touching an empty
claim every second kept it fresh, and its call was never run. Now a claim that a peer has seen
unreadable for a short grace is stale, however recent its date.
"""

from __future__ import annotations

import pytest

from pythagoras.identity.address import CallAddress
from pythagoras.records.keys import claim_key
from pythagoras.storage.memory import MemoryStore
from pythagoras.storage.signed import SignedStore
from pythagoras.swarm import swarm_store
from pythagoras.swarm.swarm_store import SwarmStore

SECRET = b"the team's secret, long enough"


def test_an_empty_claim_touched_by_an_attacker_is_broken_after_a_grace(
    monkeypatch: pytest.MonkeyPatch
) -> None:
    now = [1000.0]
    monkeypatch.setattr(swarm_store.time, "monotonic", lambda: now[0])
    inner = MemoryStore(clock=lambda: now[0])
    swarm = SwarmStore(SignedStore(inner, SECRET), lease_timeout=30.0)
    address = CallAddress("a" * 32, "b" * 32)
    inner.write(claim_key(address), b"")  # the attacker's empty claim
    assert swarm.claim(address, "vm-1-abc") is None  # it may be one being written: held
    for _ in range(5):  # touched every second: always fresh by its date
        now[0] += 1.0
        inner.write(claim_key(address), b"")
    claim = swarm.claim(address, "vm-1-abc")
    assert claim is not None and claim.peer == "vm-1-abc" and claim.attempt == 1


def test_an_empty_claim_is_held_within_the_grace() -> None:
    inner = MemoryStore()
    swarm = SwarmStore(SignedStore(inner, SECRET), lease_timeout=30.0)
    address = CallAddress("c" * 32, "d" * 32)
    inner.write(claim_key(address), b"")  # a peer writing its claim in place
    assert swarm.claim(address, "vm-1-abc") is None
    assert swarm.claim(address, "vm-1-abc") is None
