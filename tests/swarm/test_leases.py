"""The lease keeper in-process, on a memory store with a fake clock: it renews the claims it
holds, releases them once, retries a release the store refused, and renews a lost lease no more."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from fake_clock import FakeClock

from pythagoras.identity.address import CallAddress
from pythagoras.identity.values import hash_value
from pythagoras.storage.memory import MemoryStore
from pythagoras.swarm.leases import LeaseKeeper
from pythagoras.swarm.protocol import Claim
from pythagoras.swarm.swarm_store import SwarmStore

LEASE = 30.0


class RefusingStore(MemoryStore):
    """A memory store that refuses deletes while ``refusing`` (a folder turned read-only)."""

    refusing = False

    def delete(self, key: str) -> None:
        if self.refusing:
            raise PermissionError(f"read-only: {key}")
        super().delete(key)

    def discard(self, key: str) -> None:
        if self.refusing:
            raise PermissionError(f"read-only: {key}")
        super().discard(key)


@pytest.fixture
def store(clock: FakeClock) -> RefusingStore:
    return RefusingStore(clock=clock)


@pytest.fixture
def swarm(store: RefusingStore) -> SwarmStore:
    return SwarmStore(store, lease_timeout=LEASE)


@pytest.fixture
def keeper(swarm: SwarmStore) -> Iterator[LeaseKeeper]:
    keeper = LeaseKeeper(swarm)
    yield keeper
    keeper.close()


def address(number: int) -> CallAddress:
    return CallAddress("f" * 32, hash_value(number).hex())


def claimed(swarm: SwarmStore, number: int, peer: str = "peer-a") -> Claim:
    claim = swarm.claim(address(number), peer)
    assert claim is not None
    return claim


def test_renewal_keeps_running_and_held_claims_fresh(
        keeper: LeaseKeeper, swarm: SwarmStore, clock: FakeClock) -> None:
    running, held = claimed(swarm, 1), claimed(swarm, 2)
    assert keeper.start(running)
    keeper.hold(held)
    for _ in range(4):  # four lease periods, renewed at each third of one
        clock.now += LEASE / 3
        keeper.renew()
        clock.now += LEASE / 3
        keeper.renew()
        clock.now += LEASE / 3
        keeper.renew()
    assert swarm.claim(address(1), "peer-b") is None  # still ours: not stale
    assert swarm.claim(address(2), "peer-b") is None


def test_an_unrenewed_claim_lapses(keeper: LeaseKeeper, swarm: SwarmStore, clock: FakeClock) -> None:
    # The counterpart of the test above: without the keeper, the claim is taken over.
    claimed(swarm, 1)
    clock.now += LEASE + 1
    assert swarm.claim(address(1), "peer-b") is not None


def test_a_claim_renewed_as_started_once_its_run_has_begun(
        keeper: LeaseKeeper, swarm: SwarmStore, clock: FakeClock) -> None:
    claim = claimed(swarm, 1)
    keeper.start(claim)
    keeper.renew(begun=lambda c: False)
    assert not claim.started
    keeper.renew(begun=lambda c: c is claim)
    assert claim.started
    clock.now += LEASE + 1  # its holder died: breaking the claim charges an attempt
    broken = swarm.claim(address(1), "peer-b")
    assert broken is not None and broken.attempt == 2


def test_close_releases_what_runs_and_takes_no_more(keeper: LeaseKeeper, swarm: SwarmStore) -> None:
    claim = claimed(swarm, 1)
    keeper.start(claim)
    assert keeper.close() == [claim]
    assert not swarm.claimed(address(1))  # released: another peer may take it at once
    assert not keeper.start(claimed(swarm, 2))  # closed: the caller releases it


def test_let_go_releases_a_held_claim_and_renews_it_no_more(
        keeper: LeaseKeeper, swarm: SwarmStore, clock: FakeClock) -> None:
    claim = claimed(swarm, 1)
    keeper.hold(claim)
    keeper.let_go(claim)
    assert not swarm.claimed(address(1))
    other = claimed(swarm, 1, "peer-b")
    clock.now += LEASE / 2
    keeper.renew()  # must not write our claim back over peer-b's
    assert swarm.renew(other)


def test_a_release_the_store_refused_is_retried_at_the_next_heartbeat(
        keeper: LeaseKeeper, swarm: SwarmStore, store: RefusingStore,
        caplog: pytest.LogCaptureFixture) -> None:
    claim = claimed(swarm, 1)
    claim_key = f"claims/{address(1).function}.{address(1).arguments}"
    keeper.start(claim)
    store.refusing = True
    with caplog.at_level(logging.WARNING, logger="pythagoras"):
        keeper.end(claim.address)
        keeper.release(claim)
    assert "cannot release the claim" in caplog.text
    assert store.age(claim_key) is not None
    keeper.renew()  # still read-only: kept for the next heartbeat
    store.refusing = False
    assert store.age(claim_key) is not None
    keeper.renew()
    assert store.age(claim_key) is None


def test_a_lost_lease_is_renewed_no_more(
        keeper: LeaseKeeper, swarm: SwarmStore, clock: FakeClock, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    claim = claimed(swarm, 1)
    keeper.start(claim)
    clock.now += LEASE + 1  # the heartbeat stalled: another peer breaks the lease
    theirs = swarm.claim(address(1), "peer-b")
    assert theirs is not None
    renewals: list[Claim] = []
    renew = swarm.renew
    monkeypatch.setattr(swarm, "renew", lambda c: renewals.append(c) or renew(c))
    with caplog.at_level(logging.WARNING, logger="pythagoras"):
        keeper.renew()
        keeper.renew()
    assert renewals == [claim]  # tried once, then dropped
    assert caplog.text.count("lost the lease") == 1
    assert keeper.running(address(1))  # its run goes on: the worker is busy until it ends
    keeper.end(address(1))
    assert not keeper.running(address(1))


def test_wait_idle_returns_once_the_last_run_ends(keeper: LeaseKeeper, swarm: SwarmStore) -> None:
    claim = claimed(swarm, 1)
    keeper.start(claim)
    assert not keeper.wait_idle(timeout=0.01)
    keeper.end(claim.address)
    assert keeper.wait_idle(timeout=0.01)
