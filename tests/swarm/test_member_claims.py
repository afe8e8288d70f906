"""Claims on a batch's members (``pythagoras/swarm/member_claims.py``), in-process on a memory
store with a fake clock: peers that submit the same calls in different batches, or alone, run
each call once; a member held elsewhere keeps its batch's request, so that nothing is lost if
its holder dies."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fake_clock import FakeClock
from test_runner import LEASE, RAN, InlineEngine, Parts, call, drain, publish

from pythagoras.storage.memory import MemoryStore
from pythagoras.swarm.protocol import Call, Claim
from pythagoras.swarm.swarm_store import SwarmStore


@pytest.fixture
def store(clock: FakeClock) -> MemoryStore:
    return MemoryStore(clock=clock)


@pytest.fixture
def parts(store: MemoryStore) -> Iterator[Parts]:
    RAN.clear()
    parts = Parts(store, InlineEngine(), peer="peer-b")
    parts.swarm.members.cheap = 0.0  # these calls are instant: claimed all the same
    yield parts
    parts.close()


def holding(store: MemoryStore, *calls: Call) -> tuple[SwarmStore, Claim]:
    """Another peer that claimed a batch of ``calls`` and its members, and runs them."""
    other = SwarmStore(store, lease_timeout=LEASE)
    batch = other.prepare(list(calls), "peer-a")
    claim = other.claim(batch.address, "peer-a")
    assert claim is not None
    assert other.members.take(claim, list(calls)) == list(calls)
    return other, claim


def settle(other: SwarmStore, claim: Claim, *calls: Call) -> None:
    x = [c.kwargs["x"] for c in calls]
    other.settle(claim, [(c.address, v * v, None) for c, v in zip(calls, x, strict=True)])


def test_a_batch_runs_only_the_members_no_other_peer_holds(parts: Parts, store: MemoryStore) -> None:
    other, claim = holding(store, call(1), call(2), call(3))
    key = publish(parts.swarm, call(2), call(3), call(4))  # the same calls, cut differently
    drain_once(parts)
    assert RAN == [4]  # 2 and 3 run on the peer that holds them
    assert store.age(key) is not None  # kept: its members 2 and 3 are not finished
    settle(other, claim, call(1), call(2), call(3))
    assert list(store.list("claims/")) == []  # the batch's member claims went with it
    parts.runner.skip(key, 0)  # left for a while after a pick that found all it holds held
    drain(parts)
    assert RAN == [4] and store.age(key) is None  # all finished: retired, nothing run again
    assert [parts.swarm.lookup(call(x).address) for x in (1, 2, 3, 4)] == [1, 4, 9, 16]


def test_a_call_requested_alone_is_not_run_while_a_batch_holds_it(parts: Parts,
                                                                   store: MemoryStore) -> None:
    holding(store, call(1), call(2))
    key = publish(parts.swarm, call(1))
    drain_once(parts)
    assert RAN == [] and store.age(key) is not None


def test_members_held_by_a_peer_that_died_run_once_its_lease_lapses(
        parts: Parts, store: MemoryStore, clock: FakeClock) -> None:
    holding(store, call(1), call(2))  # and then its peer dies
    key = publish(parts.swarm, call(1), call(2), call(3))
    drain_once(parts)
    assert RAN == [3]
    clock.now += LEASE + 1
    parts.runner.skip(key, 0)
    drain(parts)
    assert sorted(RAN) == [1, 2, 3]
    assert [parts.swarm.lookup(call(x).address) for x in (1, 2, 3)] == [1, 4, 9]


def test_member_claims_are_renewed_with_their_batch(store: MemoryStore, clock: FakeClock) -> None:
    other, claim = holding(store, call(1), call(2))
    clock.now += LEASE * 0.9
    assert other.renew(claim)
    clock.now += LEASE * 0.9  # past the first lease: held only if the renewal rewrote it
    assert other.claimed(call(1).address) and other.claimed(call(2).address)


def test_calls_known_to_be_cheap_are_not_claimed_one_by_one(parts: Parts, store: MemoryStore) -> None:
    batch = parts.swarm.prepare([call(1), call(2)], "peer-b")
    claim = parts.swarm.claim(batch.address, "peer-b")
    assert claim is not None
    parts.swarm.members.cheap, cheap = 0.002, 0.0001
    assert parts.swarm.members.take(claim, [call(1), call(2)], lambda f: cheap) == [call(1), call(2)]
    assert list(store.list("claims/")) == ["claims/" + f"{batch.address.function}.{batch.address.arguments}"]


def drain_once(parts: Parts) -> None:
    """Pick until nothing more is picked (requests may be left: held elsewhere)."""
    for _ in range(20):
        assert parts.leases.wait_idle(timeout=10)
        parts.runner.list_again()
        if not parts.runner.pick():
            assert parts.leases.wait_idle(timeout=10)
            return
    raise AssertionError("still picking after 20 picks")
