"""The swarm protocol on an in-memory store with a fake clock: claims, leases, failures."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

import child_processes
import pytest
from fake_clock import FakeClock

from pythagoras.errors import PeersDied, RemoteError, UnhashableArgument
from pythagoras.identity.address import CallAddress
from pythagoras.identity.values import hash_value
from pythagoras.records.frames import MISSING
from pythagoras.storage.base import is_debris
from pythagoras.storage.memory import MemoryStore
from pythagoras.swarm.protocol import (
    BATCH_FUNCTION,
    LARGE_ARGUMENT,
    Call,
    Failure,
    RemoteTraceback,
    failure_key,
    run_call,
)
from pythagoras.swarm.swarm_store import SwarmStore

LEASE = 30.0


class CountingStore(MemoryStore):
    """A memory store that counts listings, to check what a pick costs."""

    def __init__(self, clock: FakeClock) -> None:
        super().__init__(clock=clock)
        self.listings = 0

    def list(self, prefix: str = "") -> Iterator[str]:
        self.listings += 1
        return super().list(prefix)


@pytest.fixture
def store(clock: FakeClock) -> CountingStore:
    return CountingStore(clock)


@pytest.fixture
def swarm(store: CountingStore) -> SwarmStore:
    return SwarmStore(store, lease_timeout=LEASE, max_attempts=3)


def address(number: int) -> CallAddress:
    return CallAddress("f" * 32, hash_value(number).hex())


def _square(*, x: int) -> int:
    return x * x


def submit(swarm: SwarmStore, number: int, **kwargs: Any) -> str:
    return swarm.submit(address(number), _square, "square", (), kwargs or {"x": number}, "submitter")


def test_one_claim_per_call_while_its_lease_is_fresh(swarm: SwarmStore, clock: FakeClock) -> None:
    submit(swarm, 1)
    first = swarm.claim(address(1), "peer-a")
    assert first is not None and first.attempt == 1
    assert swarm.claim(address(1), "peer-b") is None
    assert swarm.claimed(address(1))
    clock.now += LEASE  # exactly the lease: still fresh
    assert swarm.claim(address(1), "peer-b") is None


def test_a_claim_found_empty_is_one_being_written_and_holds_the_call_until_stale(
        swarm: SwarmStore, store: CountingStore, clock: FakeClock, caplog: pytest.LogCaptureFixture) -> None:
    # A claim is written in place: another peer may find the file empty, between its creation
    # and its one write (or for good, if the writer died just then).
    claim_key = f"claims/{address(1).function}.{address(1).arguments}"
    store.write(claim_key, b"")
    with caplog.at_level(logging.WARNING, logger="pythagoras"):
        assert swarm.claim(address(1), "peer-b") is None
        clock.now += LEASE
        assert swarm.claim(address(1), "peer-b") is None
    assert caplog.text == ""  # not reported as corrupt: nothing is wrong with it
    clock.now += 1
    taken = swarm.claim(address(1), "peer-b")
    # An empty claim's run never started: breaking it charges no attempt.
    assert taken is not None and taken.attempt == 1 and taken.broke is not None


def test_renewal_keeps_a_lease_fresh(swarm: SwarmStore, clock: FakeClock) -> None:
    claim = swarm.claim(address(1), "peer-a")
    assert claim is not None
    for _ in range(5):
        clock.now += LEASE / 3
        assert swarm.renew(claim)
    assert swarm.claim(address(1), "peer-b") is None


def test_a_stale_lease_is_broken_by_exactly_one_peer(swarm: SwarmStore, clock: FakeClock) -> None:
    submit(swarm, 1)
    dead = swarm.claim(address(1), "peer-dead", started=True)
    assert dead is not None
    clock.now += LEASE + 1
    winners: list[Any] = []
    barrier = threading.Barrier(8)

    def contend(i: int) -> None:
        barrier.wait()
        winners.append(swarm.claim(address(1), f"peer-{i}"))

    threads = [threading.Thread(target=contend, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    taken = [w for w in winners if w is not None]
    assert len(taken) == 1
    assert taken[0].attempt == 2 and taken[0].broke is not None
    assert not swarm.renew(dead)  # the dead peer, back from a pause, learns it lost the lease


def test_skew_measured_by_the_store_corrects_lease_ages(swarm: SwarmStore, clock: FakeClock) -> None:
    swarm.claim(address(1), "peer-a")
    clock.now += LEASE - 5
    swarm.skew = 10.0  # this machine's clock runs 10 s ahead of the store's
    other = SwarmStore(swarm.store, lease_timeout=LEASE)
    other.skew = 10.0
    clock.now += 10
    assert other.claim(address(1), "peer-b") is None  # 35 s by our clock, 25 s by the store's


def test_announce_measures_skew_against_the_store(swarm: SwarmStore, store: MemoryStore,
                                                  clock: FakeClock) -> None:
    swarm.announce("peer-a", {"workers": 1})
    assert swarm.skew == 0.0
    assert store.read("peers/peer-a") is not None


def test_calls_whose_peers_keep_dying_end_in_a_failure(swarm: SwarmStore, clock: FakeClock) -> None:
    key = submit(swarm, 1)
    attempts = []
    for i in range(3):
        claim = swarm.claim(address(1), f"peer-{i}", started=True)
        assert claim is not None
        attempts.append(claim.attempt)
        clock.now += LEASE + 1
    assert attempts == [1, 2, 3]
    assert swarm.claim(address(1), "peer-last") is None
    failure = swarm.failure(address(1))
    assert failure is not None and failure.kind == "peers_died" and failure.attempts == 3
    error = failure.to_exception()
    assert isinstance(error, PeersDied) and "died 3 times" in str(error)
    assert swarm.store.read(key) is None  # the request is retired: no retry storm
    assert not swarm.claimed(address(1))
    assert list(swarm.store.list("breaks/")) == []  # no dead breaker's marker is left behind


def test_breaking_a_dead_breakers_claim_removes_its_marker(swarm: SwarmStore, clock: FakeClock) -> None:
    submit(swarm, 1)
    swarm.claim(address(1), "peer-a", started=True)
    clock.now += LEASE + 1
    assert swarm.claim(address(1), "peer-b", started=True) is not None  # b breaks a's lease, then dies too
    clock.now += LEASE + 1
    claim = swarm.claim(address(1), "peer-c")
    assert claim is not None and claim.attempt == 3
    assert list(swarm.store.list("breaks/")) == [claim.broke]  # only c's own marker
    swarm.finish(claim, address(1), 1)
    assert list(swarm.store.list("breaks/")) == []


def test_finish_publishes_then_retires_request_and_claim(swarm: SwarmStore, clock: FakeClock) -> None:
    key = submit(swarm, 7)
    claim = swarm.claim(address(7), "peer-a")
    assert swarm.lookup(address(7)) is MISSING
    swarm.finish(claim, address(7), 49)
    assert swarm.lookup(address(7)) == 49
    assert swarm.store.read(key) is None
    assert not swarm.claimed(address(7))
    assert list(swarm.store.list("breaks/")) == []


def test_finish_after_a_break_removes_its_break_marker(swarm: SwarmStore, clock: FakeClock) -> None:
    submit(swarm, 7)
    swarm.claim(address(7), "peer-dead")
    clock.now += LEASE + 1
    claim = swarm.claim(address(7), "peer-b")
    assert claim is not None and list(swarm.store.list("breaks/"))
    swarm.finish(claim, address(7), 49)
    assert list(swarm.store.list("breaks/")) == []


class Custom(ValueError):
    pass


def test_a_raised_exception_is_recorded_and_rebuilt_with_its_type(swarm: SwarmStore) -> None:
    submit(swarm, 3)
    claim = swarm.claim(address(3), "peer-a")
    ok, error, text = run_call(_raises, (), {"x": 3})
    assert not ok and isinstance(error, Custom) and "_raises" in text
    swarm.fail(address(3), claim, Failure.raised(error, text, "peer-a", 1))
    failure = swarm.failure(address(3))
    assert failure is not None
    rebuilt = failure.to_exception()
    assert type(rebuilt) is Custom and str(rebuilt) == "bad 3"
    assert isinstance(rebuilt.__cause__, RemoteTraceback) and "_raises" in str(rebuilt.__cause__)
    assert swarm.clear_failure(address(3)) and swarm.failure(address(3)) is None


def _raises(*, x: int) -> int:
    raise Custom(f"bad {x}")


def test_an_unpicklable_exception_travels_as_type_and_message() -> None:
    ok, error, text = run_call(_raises_unpicklable, (), {})
    assert not ok and isinstance(error, RemoteError)
    assert "Unpicklable" in str(error) and "a lock inside" in str(error)


class Unpicklable(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.lock = threading.Lock()


def _raises_unpicklable() -> None:
    raise Unpicklable("a lock inside")


def test_a_corrupt_failure_record_reads_as_absent(swarm: SwarmStore) -> None:
    swarm.store.write(failure_key(address(4)), b"garbage")
    assert swarm.failure(address(4)) is None


def test_large_arguments_are_stored_once_and_shared(swarm: SwarmStore) -> None:
    big = "x" * (LARGE_ARGUMENT + 1)
    first = submit(swarm, 1, text=big, n=1)
    second = submit(swarm, 2, text=big, n=2)
    assert len(list(swarm.store.list("values/"))) == 1
    for key, n in ((first, 1), (second, 2)):
        request = swarm.load_request(key)
        assert request is not None and request.kwargs == {"text": big, "n": n}
    assert len(swarm.store.read(first) or b"") < LARGE_ARGUMENT  # the request holds a reference


def test_request_keys_give_back_their_address(swarm: SwarmStore) -> None:
    assert SwarmStore.address_of(submit(swarm, 12345)) == address(12345)


@pytest.mark.parametrize("pending", [20, 2000])
def test_a_pick_lists_one_bucket_not_the_whole_queue(swarm: SwarmStore, store: CountingStore,
                                                     pending: int) -> None:
    for n in range(pending):
        submit(swarm, n)
    store.listings = 0
    keys = swarm.candidates()
    assert keys and store.listings <= 16
    bucket = {k.split("/")[1] for k in keys}
    assert len(bucket) == 1
    assert len(keys) < pending  # one bucket's share, not every request


def test_no_pending_requests_costs_sixteen_listings_at_most(swarm: SwarmStore, store: CountingStore) -> None:
    assert swarm.candidates() == []
    assert store.listings == 16


def test_an_unpicklable_argument_fails_at_submit_and_writes_nothing(swarm: SwarmStore) -> None:
    with pytest.raises(TypeError, match="cannot be sent to the swarm"):
        swarm.submit(address(1), _square, "square", (), {"x": threading.Lock()}, "submitter")
    with pytest.raises(TypeError, match="cannot be sent to the swarm"):
        swarm.submit(address(2), threading.Lock(), "lock", (1,), {}, "submitter")
    assert list(swarm.store.list("")) == []


def test_positional_arguments_travel_too(swarm: SwarmStore) -> None:
    key = swarm.submit(address(1), divmod, "divmod", (7, "x" * (LARGE_ARGUMENT + 1)), {}, "peer")
    request = swarm.load_request(key)
    assert request is not None and request.args == (7, "x" * (LARGE_ARGUMENT + 1))
    assert run_call(divmod, (7, 2), {}) == (True, (3, 1), "")


def test_names_pythagoras_did_not_write_are_no_requests(swarm: SwarmStore) -> None:
    key = submit(swarm, 5)
    folder, _, name = key.rpartition("/")
    function, _, arguments = name.partition(".")
    assert SwarmStore.address_of(f"{folder}/{function}-LAPTOP.{arguments}") is None  # OneDrive's copy
    assert SwarmStore.address_of(f"{folder}/{function}.{arguments[:-1]}") is None
    assert is_debris(f"{function} (1).{arguments}")  # Drive's and Dropbox's copies
    assert is_debris(f"{name} (conflicted copy 2026-11-26)")
    assert not is_debris(name)


# -- batch requests: several calls under one key, one claim and one lease -----------------------


def call(number: int, **kwargs: Any) -> Call:
    return Call(address(number), _square, "square", (), kwargs or {"x": number})


def _cube(*, x: int) -> int:
    return x * x * x


CUBE = "c" * 32  # the function part of the addresses of _cube's calls


def cube_call(number: int) -> Call:
    return Call(CallAddress(CUBE, hash_value(number).hex()), _cube, "cube", (), {"x": number})


def publish_batch(swarm: SwarmStore, numbers: list[int], submitter: str = "submitter") -> str:
    return swarm.publish(swarm.prepare([call(n) for n in numbers], submitter))


def test_a_batch_of_calls_is_one_request(swarm: SwarmStore) -> None:
    prepared = swarm.prepare([call(1), call(2), call(3)], "submitter")
    assert list(swarm.store.list("")) == []  # prepare writes nothing
    assert prepared.address.function == BATCH_FUNCTION
    assert prepared.address not in (address(1), address(2), address(3))
    key = swarm.publish(prepared)
    assert list(swarm.store.list("requests/")) == [key]
    assert SwarmStore.address_of(key) == prepared.address
    request = swarm.load_request(key)
    assert request is not None and request.address == prepared.address
    assert [m.address for m in request.members] == [address(1), address(2), address(3)]
    assert [m.kwargs for m in request.members] == [{"x": 1}, {"x": 2}, {"x": 3}]
    assert [m.address for m in request.calls()] == [address(1), address(2), address(3)]
    # Nothing is published under a member's own request key.
    assert all(swarm.address_of(k) not in (address(1), address(2), address(3))
               for k in swarm.store.list("requests/"))


def test_a_single_call_is_a_plain_request_under_its_own_address(swarm: SwarmStore) -> None:
    prepared = swarm.prepare([call(1)], "submitter")
    assert prepared.address == address(1)
    key = swarm.publish(prepared)
    assert SwarmStore.address_of(key) == address(1)
    request = swarm.load_request(key)
    assert request is not None and request.members == () and request.kwargs == {"x": 1}


def test_equal_batches_share_one_key_across_swarms(store: CountingStore) -> None:
    first, second = SwarmStore(store, lease_timeout=LEASE), SwarmStore(store, lease_timeout=LEASE)
    key = publish_batch(first, [1, 2, 3], "peer-a")
    assert publish_batch(second, [1, 2, 3], "peer-b") == key  # the submitter is not in the key
    assert list(store.list("requests/")) == [key]
    other = publish_batch(second, [1, 2, 4], "peer-b")  # other calls: another batch
    reordered = publish_batch(second, [3, 2, 1], "peer-b")  # the hash is of the calls in order
    assert len({key, other, reordered}) == 3
    assert sorted(store.list("requests/")) == sorted([key, other, reordered])


def test_pending_calls_skip_members_with_a_result_or_a_failure(swarm: SwarmStore,
                                                               store: CountingStore) -> None:
    key = publish_batch(swarm, [1, 2, 3, 4])
    swarm.results.publish(address(2), 4)  # run meanwhile as a call of its own
    swarm.fail(address(4), None, Failure.raised(Custom("bad 4"), "", "peer-x", 1))
    # Another peer: it loads the functions from the store.
    other = SwarmStore(store, lease_timeout=LEASE)
    request = other.load_request(key)
    assert request is not None
    pending = other.pending_calls(request)
    assert [c.address for c in pending] == [address(1), address(3)]
    assert [c.func(*c.args, **c.kwargs) for c in pending] == [1, 9]
    swarm.results.publish(address(1), 1)
    swarm.results.publish(address(3), 9)
    assert other.pending_calls(request) == []


def test_a_single_call_run_meanwhile_is_not_pending(swarm: SwarmStore, store: CountingStore) -> None:
    # A picker looked before its claim; the peer that ran the call let its claim go since.
    key = submit(swarm, 5)
    request = swarm.load_request(key)
    assert request is not None and [c.address for c in swarm.pending_calls(request)] == [address(5)]
    swarm.results.publish(address(5), 25)
    assert swarm.pending_calls(request) == []


def test_pending_calls_load_the_functions_of_every_member(swarm: SwarmStore, store: CountingStore) -> None:
    key = swarm.publish(swarm.prepare([call(2), cube_call(2), call(3)], "submitter"))
    assert sorted(store.list("functions/")) == [f"functions/{CUBE}", f"functions/{'f' * 32}"]
    other = SwarmStore(store, lease_timeout=LEASE)
    request = other.load_request(key)
    assert request is not None
    pending = other.pending_calls(request)
    assert [c.name for c in pending] == ["square", "cube", "square"]
    assert [c.func(*c.args, **c.kwargs) for c in pending] == [4, 8, 9]


def test_large_arguments_of_batch_members_are_stored_once(swarm: SwarmStore) -> None:
    big = "x" * (LARGE_ARGUMENT + 1)
    key = swarm.publish(swarm.prepare([call(1, text=big, n=1), call(2, text=big, n=2)], "submitter"))
    assert len(list(swarm.store.list("values/"))) == 1
    assert len(swarm.store.read(key) or b"") < LARGE_ARGUMENT  # the request holds references
    request = swarm.load_request(key)
    assert request is not None
    assert [m.kwargs for m in request.members] == [{"text": big, "n": 1}, {"text": big, "n": 2}]


def test_settle_publishes_each_member_then_retires_request_and_claim(swarm: SwarmStore) -> None:
    key = publish_batch(swarm, [1, 2, 3])
    batch = SwarmStore.address_of(key)
    assert batch is not None
    claim = swarm.claim(batch, "peer-a")
    assert claim is not None and swarm.claimed(batch)
    ok, error, text = run_call(_raises, (), {"x": 2})
    assert not ok
    swarm.settle(claim, [(address(1), 1, None),
                         (address(2), None, Failure.raised(error, text, "peer-a", 1)),
                         (address(3), 9, None)])
    assert swarm.lookup(address(1)) == 1 and swarm.lookup(address(3)) == 9
    assert swarm.lookup(address(2)) is MISSING
    assert swarm.failure(address(1)) is None and swarm.failure(address(3)) is None
    failure = swarm.failure(address(2))
    assert failure is not None and failure.kind == "raised"
    rebuilt = failure.to_exception()
    assert type(rebuilt) is Custom and str(rebuilt) == "bad 2"
    assert swarm.store.read(key) is None
    assert list(swarm.store.list("requests/")) == []
    assert list(swarm.store.list("claims/")) == []
    assert not swarm.claimed(batch)


def test_settle_after_a_break_removes_its_break_marker(swarm: SwarmStore, clock: FakeClock) -> None:
    key = publish_batch(swarm, [1, 2])
    batch = SwarmStore.address_of(key)
    assert batch is not None
    assert swarm.claim(batch, "peer-dead", started=True) is not None
    clock.now += LEASE + 1
    claim = swarm.claim(batch, "peer-b")
    assert claim is not None and claim.attempt == 2 and list(swarm.store.list("breaks/"))
    swarm.settle(claim, [(address(1), 1, None), (address(2), 4, None)])
    assert swarm.lookup(address(1)) == 1 and swarm.lookup(address(2)) == 4
    assert list(swarm.store.list("breaks/")) == []
    assert list(swarm.store.list("claims/")) == []
    assert swarm.store.read(key) is None


def test_a_batch_whose_peers_keep_dying_fails_each_unfinished_member(
        swarm: SwarmStore, clock: FakeClock) -> None:
    key = publish_batch(swarm, [1, 2, 3])
    batch = SwarmStore.address_of(key)
    assert batch is not None
    swarm.results.publish(address(1), 1)  # one member finished, as a call of its own
    attempts = []
    for i in range(3):
        claim = swarm.claim(batch, f"peer-{i}", started=True)
        assert claim is not None
        attempts.append(claim.attempt)
        clock.now += LEASE + 1
    assert attempts == [1, 2, 3]
    assert swarm.claim(batch, "peer-last") is None
    for number in (2, 3):
        failure = swarm.failure(address(number))
        assert failure is not None and failure.kind == "peers_died" and failure.attempts == 3
        assert isinstance(failure.to_exception(), PeersDied)
    assert swarm.failure(address(1)) is None and swarm.lookup(address(1)) == 1
    assert sorted(swarm.store.list("failures/")) == sorted(failure_key(address(n)) for n in (2, 3))
    assert swarm.store.read(key) is None  # the request is retired: no retry storm
    assert list(swarm.store.list("claims/")) == []
    assert not swarm.claimed(batch)


def test_a_batch_given_up_keeps_a_member_failure_already_recorded(
        swarm: SwarmStore, clock: FakeClock) -> None:
    key = publish_batch(swarm, [1, 2])
    batch = SwarmStore.address_of(key)
    assert batch is not None
    swarm.fail(address(1), None, Failure.raised(Custom("bad 1"), "", "peer-x", 1))
    for i in range(3):
        assert swarm.claim(batch, f"peer-{i}", started=True) is not None
        clock.now += LEASE + 1
    assert swarm.claim(batch, "peer-last") is None
    failure = swarm.failure(address(2))
    assert failure is not None and failure.kind == "peers_died"
    # address(1) was finished (it raised) before the batch was given up: pending_calls skips it.
    kept = swarm.failure(address(1))
    assert kept is not None and kept.kind == "raised"
    assert type(kept.to_exception()) is Custom


@pytest.mark.parametrize("bad", [0, 1, 2], ids=["first", "middle", "last"])
def test_a_batch_with_an_unpicklable_argument_fails_at_prepare_and_writes_nothing(
        swarm: SwarmStore, bad: int) -> None:
    calls = [call(1), call(2), call(3)]
    calls[bad] = Call(address(9), _square, "square", (), {"x": threading.Lock()})
    with pytest.raises(UnhashableArgument, match="cannot be sent to the swarm") as raised:
        swarm.prepare(calls, "submitter")
    assert isinstance(raised.value, TypeError)
    assert list(swarm.store.list("")) == []
    # An unpicklable function, too (a function of its own: its identity is not _square's).
    lock = Call(CallAddress("e" * 32, hash_value(8).hex()), threading.Lock(), "lock", (1,), {})
    with pytest.raises(TypeError, match="cannot be sent to the swarm"):
        swarm.prepare([call(1), lock], "submitter")
    assert list(swarm.store.list("")) == []
    # The refused batches left no trace: a good one still publishes its function.
    publish_batch(swarm, [1, 2])
    assert list(swarm.store.list("functions/")) == [f"functions/{'f' * 32}"]


@pytest.mark.skipif(not os.path.exists("/proc/self/stat"), reason="zombies are read from /proc (Linux)")
def test_a_process_that_exited_but_is_not_reaped_holds_nothing() -> None:
    """A zombie (a killed peer whose parent has not waited for it yet) still answers signal 0."""
    from pythagoras.swarm.protocol import _HOST, holder_is_gone

    # Not child_processes: the test needs the child unreaped; it imports nothing and exits.
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    try:
        deadline = time.monotonic() + 30
        while True:  # exited: a zombie until waited for (os.waitid with WNOWAIT leaves it so)
            info = os.waitid(os.P_PID, child.pid, os.WEXITED | os.WNOWAIT | os.WNOHANG)
            if info is not None:
                break
            assert time.monotonic() < deadline, "the child never exited"
            time.sleep(0.01)
        os.kill(child.pid, 0)  # signal 0 still finds it
        assert holder_is_gone(f"{_HOST}-{child.pid}-abcdef")
    finally:
        child.wait(timeout=30)


def test_a_fresh_claim_of_a_process_of_this_machine_that_is_gone_is_broken_at_once(
        swarm: SwarmStore, clock: FakeClock) -> None:
    from pythagoras.swarm.protocol import _HOST, holder_is_gone

    ended = child_processes.exited_pid()
    gone = f"{_HOST}-{ended}-abcdef"  # a process of this machine, exited
    alive = f"{_HOST}-{os.getppid()}-abcdef"
    assert holder_is_gone(gone)
    assert not holder_is_gone(alive)
    assert not holder_is_gone(f"{_HOST}-{os.getpid()}-abcdef")  # this process itself
    assert not holder_is_gone(f"elsewhere-{ended}-abcdef")  # another machine's
    submit(swarm, 1)
    submit(swarm, 2)
    assert swarm.claim(address(1), alive) is not None
    assert swarm.claim(address(1), "peer-b") is None  # a live holder keeps its lease
    assert swarm.claim(address(2), gone, started=True) is not None
    taken = swarm.claim(address(2), "peer-b")  # no time has passed: the holder is gone
    assert taken is not None and taken.attempt == 2


def test_breaking_the_claim_of_a_run_that_never_started_charges_no_attempt(
        swarm: SwarmStore, clock: FakeClock) -> None:
    # Holders that die between claiming and their worker starting the call (a cold pool, a kill
    # in between) never count against the call, however many there are.
    submit(swarm, 1)
    for i in range(5):
        claim = swarm.claim(address(1), f"peer-{i}")
        assert claim is not None and claim.attempt == 1
        clock.now += LEASE + 1
    assert swarm.failure(address(1)) is None
    started = swarm.claim(address(1), "peer-runs", started=True)
    assert started is not None and started.attempt == 1
    clock.now += LEASE + 1
    taken = swarm.claim(address(1), "peer-next")
    assert taken is not None and taken.attempt == 2  # that one had started: charged


def test_a_break_marker_whose_breaker_died_is_passed_over_after_a_lease(
        swarm: SwarmStore, store: MemoryStore, clock: FakeClock) -> None:
    submit(swarm, 1)
    dead = swarm.claim(address(1), "peer-a", started=True)
    assert dead is not None
    clock.now += LEASE + 1
    # A breaker created its marker and died before it replaced the claim.
    claim_key = f"claims/{address(1).function}.{address(1).arguments}"
    marker = f"breaks/{claim_key.partition('/')[2]}.{dead.nonce}"
    assert store.create(marker, b"peer-b 0")
    assert swarm.claim(address(1), "peer-c") is None  # the breaker may still be at work
    clock.now += LEASE + 1
    taken = swarm.claim(address(1), "peer-c")
    assert taken is not None and taken.attempt == 2 and taken.broke == f"{marker}.1"
    assert list(store.list("breaks/")) == [f"{marker}.1"]  # the dead breaker's is removed
    swarm.finish(taken, address(1), 1)
    assert list(store.list("breaks/")) == []
