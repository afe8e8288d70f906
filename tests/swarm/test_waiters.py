"""The waiters of a peer, in-process on a memory store: each future waits for its own call's
outcome, whatever other futures wait on the same call and however they end."""

from __future__ import annotations

from concurrent.futures import Future
from typing import Any

import pytest

from pythagoras.identity.address import CallAddress
from pythagoras.records.frames import MISSING
from pythagoras.storage.memory import MemoryStore
from pythagoras.swarm.swarm_store import SwarmStore
from pythagoras.swarm.waiters import Waiters

ADDRESS = CallAddress("ab" * 16, "cd" * 16)


@pytest.fixture
def swarm() -> SwarmStore:
    return SwarmStore(MemoryStore(), lease_timeout=30.0)


def test_a_direct_wait_ends_with_the_claim_and_a_submitted_one_waits_on(swarm: SwarmStore) -> None:
    # A pure function called directly waits while another peer holds the claim, and computes
    # the call itself if the claim goes with no record; a call submitted from another thread
    # of the same process, to the same address, must wait for a value, never take MISSING.
    waiters = Waiters(swarm, 30.0)
    claim = swarm.claim(ADDRESS, "other-peer-1-ab", started=True)
    assert claim is not None
    direct: Future[Any] = Future()
    submitted: Future[Any] = Future()
    waiters.add(ADDRESS, direct, direct=True)
    waiters.add(ADDRESS, submitted)
    assert not waiters.poll([ADDRESS])
    swarm.release(claim)  # the other peer's computation raised: no record, no claim
    assert waiters.poll([ADDRESS])
    assert direct.result(timeout=0) is MISSING
    assert not submitted.done() and waiters.awaited(ADDRESS)
    swarm.finish(None, ADDRESS, 42)
    assert waiters.poll([ADDRESS])
    assert submitted.result(timeout=0) == 42 and not waiters.awaited(ADDRESS)


def test_forgetting_some_futures_of_a_call_leaves_the_others_waiting(swarm: SwarmStore) -> None:
    waiters = Waiters(swarm, 30.0)
    theirs: Future[Any] = Future()
    ours: Future[Any] = Future()
    waiters.add(ADDRESS, theirs)
    waiters.add(ADDRESS, ours)
    waiters.forget([(ADDRESS, ours)])  # our run could not start: we wait by another way
    swarm.finish(None, ADDRESS, 7)
    assert waiters.poll([ADDRESS])
    assert theirs.result(timeout=0) == 7 and not ours.done()
