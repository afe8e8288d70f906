"""MemoryStore: the store contract, and ages read from an injected clock."""

from __future__ import annotations

import pytest
from _store_contract import StoreContract
from fake_clock import FakeClock

from pythagoras.storage.memory import MemoryStore


class TestMemoryStore(StoreContract):
    @pytest.fixture
    def store(self) -> MemoryStore:
        return MemoryStore()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(1_000.0)


@pytest.fixture
def store(clock: FakeClock) -> MemoryStore:
    return MemoryStore(clock=clock)


def test_age_follows_the_clock(store: MemoryStore, clock: FakeClock) -> None:
    store.write("k", b"v")
    assert store.age("k") == 0.0
    clock.advance(30.0)
    assert store.age("k") == 30.0
    clock.advance(0.5)
    assert store.age("k") == 30.5


def test_a_write_dates_the_key_afresh(store: MemoryStore, clock: FakeClock) -> None:
    store.write("k", b"v")
    clock.advance(60.0)
    store.write("k", b"w")
    clock.advance(2.0)
    assert store.age("k") == 2.0


def test_create_dates_the_key_and_a_failed_create_does_not(
    store: MemoryStore, clock: FakeClock
) -> None:
    assert store.create("k", b"v") is True
    clock.advance(10.0)
    assert store.create("k", b"w") is False
    clock.advance(5.0)
    assert store.age("k") == 15.0


def test_each_key_has_its_own_age(store: MemoryStore, clock: FakeClock) -> None:
    store.write("old", b"v")
    clock.advance(100.0)
    store.write("new", b"v")
    clock.advance(1.0)
    assert store.age("old") == 101.0
    assert store.age("new") == 1.0
    assert store.age("absent") is None


def test_a_clock_that_goes_back_gives_age_zero(store: MemoryStore, clock: FakeClock) -> None:
    store.write("k", b"v")
    clock.advance(-50.0)
    assert store.age("k") == 0.0


def test_stores_are_independent() -> None:
    a, b = MemoryStore("a"), MemoryStore("b")
    a.write("k", b"v")
    assert b.read("k") is None
    assert repr(a) == "MemoryStore('a')"
