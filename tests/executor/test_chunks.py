"""``map(..., chunksize=N)``: one request per chunk of N calls, each call memoized on its own.

Real executors on a fresh folder. A pure client (``max_workers=0``) runs nothing, so the
requests it writes stay in the folder until it withdraws them or another executor on the
same folder serves them. Executions are counted in the execution log; nothing here sleeps
in place of waiting, and every wait has a deadline (:data:`TIMEOUT`).
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import _functions as fx
import pytest
from _executor_contract import TIMEOUT, keys, wait_until

from pythagoras import PythagorasExecutor
from pythagoras.executor import chunks
from pythagoras.swarm import pool as pool_module
from pythagoras.swarm.protocol import BATCH_FUNCTION, RemoteTraceback

pytestmark = pytest.mark.timeout(4 * TIMEOUT)


@pytest.fixture
def executor(open_executor: Callable[..., PythagorasExecutor]) -> PythagorasExecutor:
    return open_executor(max_workers=2)


def squares(xs: Any) -> list[int]:
    return [x * x for x in xs]


def executed(executions: Callable[[], list[Any]], name: str) -> Counter[Any]:
    """How many times each argument of ``name`` was executed."""
    return Counter(call[1] for call in executions() if call[0] == name)


def batches(executor: PythagorasExecutor) -> list[list[Any]]:
    """The requests pending in the folder, each as the addresses of its calls, in order."""
    swarm = executor._peer.swarm
    found = []
    for key in keys(executor, "requests/"):
        request = swarm.load_request(key)
        assert request is not None, key
        found.append([call.address for call in request.calls()])
    return found


def precompute(open_executor: Callable[..., PythagorasExecutor], xs: list[int]) -> None:
    """Store the squares of ``xs`` in the folder with an executor of its own, then shut it down."""
    computing = open_executor(max_workers=1)
    try:
        assert [computing.submit(fx.square, x).result(timeout=TIMEOUT) for x in xs] == squares(xs)
    finally:
        computing.shutdown(wait=True)


def within(seconds: float, condition: Callable[[], bool]) -> bool:
    """Whether ``condition()`` holds within ``seconds`` (polled): for the expected failures
    below, whose condition is met at once or never, so that they do not wait for TIMEOUT."""
    give_up = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > give_up:
            return False
        time.sleep(0.002)
    return True


# -- values and memoization --------------------------------------------------------------------


def test_values_in_input_order_and_every_call_memoized(
        executor: PythagorasExecutor, open_executor: Callable[..., PythagorasExecutor],
        executions: Callable[[], list[Any]]) -> None:
    assert list(executor.map(fx.square, range(10), chunksize=4, timeout=TIMEOUT)) == squares(range(10))
    assert executed(executions, "square") == Counter(range(10))  # each call once
    assert len(keys(executor, "results/")) == 10  # each under its own address
    for x in range(10):
        again = executor.submit(fx.square, x)
        assert again.done() and again.result(timeout=0) == x * x, x
    assert len(executions()) == 10  # hits: nothing ran again
    # Another peer on the folder finds them too.
    client = open_executor(max_workers=0)
    assert [client.submit(fx.square, x).result(timeout=0) for x in (0, 5, 9)] == [0, 25, 81]
    assert len(executions()) == 10
    wait_until(lambda: keys(executor, "requests/") == [], "the chunks' requests to be retired")
    wait_until(lambda: keys(executor, "claims/") == [], "the chunks' claims to be released")


@pytest.mark.parametrize("chunksize", [1, 3, 4, 10, 25])
def test_every_chunksize_gives_the_values_in_input_order(
        executor: PythagorasExecutor, executions: Callable[[], list[Any]], chunksize: int) -> None:
    results = executor.map(fx.power, range(10), [2] * 10, chunksize=chunksize, timeout=TIMEOUT)
    assert list(results) == squares(range(10))
    assert Counter(call[1] for call in executions()) == Counter(range(10))


def test_a_map_with_chunks_across_several_iterables_stops_at_the_shortest(
        executor: PythagorasExecutor) -> None:
    assert list(executor.map(fx.power, [2, 3, 4, 5, 6], [1, 2, 3], chunksize=2,
                             timeout=TIMEOUT)) == [2, 9, 64]
    assert list(executor.map(fx.power, [], [1, 2], chunksize=4, timeout=TIMEOUT)) == []


@pytest.mark.parametrize("chunksize", [0, -1])
def test_a_chunksize_below_one_is_refused(executor: PythagorasExecutor, chunksize: int) -> None:
    with pytest.raises(ValueError):
        executor.map(fx.square, range(10), chunksize=chunksize)
    assert keys(executor, "requests/") == [] and keys(executor, "results/") == []


def test_hits_and_misses_in_one_chunk(
        executor: PythagorasExecutor, executions: Callable[[], list[Any]]) -> None:
    computed_before = [1, 4, 6, 7]
    for x in computed_before:
        assert executor.submit(fx.square, x).result(timeout=TIMEOUT) == x * x
    results = executor.map(fx.square, range(9), chunksize=3, timeout=TIMEOUT)
    assert list(results) == squares(range(9))
    assert executed(executions, "square") == Counter(range(9))  # the hits did not run again


# -- chunks sized by the calls' round trip (chunksize=None, the default) -------------------------


def requests_sent(executor: PythagorasExecutor, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The number of calls in each request the executor sends from now on, in order."""
    sent: list[int] = []
    send = executor._peer.submit

    def counted(request: Any, waiting: list[Any]) -> None:
        sent.append(len(waiting))
        send(request, waiting)

    monkeypatch.setattr(executor._peer, "submit", counted)
    return sent


def test_an_auto_sized_map_of_quick_calls_sends_them_in_chunks_each_call_memoized(
        executor: PythagorasExecutor, executions: Callable[[], list[Any]],
        monkeypatch: pytest.MonkeyPatch) -> None:
    # The thresholds scaled up so that no slow moment of a busy machine can make these calls
    # look slow: every probe is waited for, and a call's time gives chunks of a worker's share.
    monkeypatch.setattr(chunks, "PROBING", TIMEOUT)
    monkeypatch.setattr(chunks, "TARGET", TIMEOUT)
    sent = requests_sent(executor, monkeypatch)
    assert list(executor.map(fx.square, range(300), timeout=TIMEOUT)) == squares(range(300))
    probes = 2 * executor._peer.max_workers
    assert sent[0] == 1 and max(sent[:probes + 1]) > 1  # one call a request until one is back
    assert sum(sent) == 300 and max(sent) <= 150  # no chunk over a worker's even share
    assert executed(executions, "square") == Counter(range(300))
    assert len(keys(executor, "results/")) == 300  # each under its own address


def test_a_fresh_executor_s_first_map_is_sized_by_its_calls_not_by_the_pool_s_start(
        open_executor: Callable[..., PythagorasExecutor], gates: Any,
        monkeypatch: pytest.MonkeyPatch) -> None:
    # Its workers start only once the gate opens, after the map's probes went out: their
    # round trip is the pool's start-up. Sized by it, every call would go alone.
    gate = gates.new()
    monkeypatch.setenv(fx.POOL_GATE, gate)
    monkeypatch.setattr(pool_module, "enter_worker", fx.enter_worker_at_gate)
    monkeypatch.setattr(chunks, "PROBING", TIMEOUT)  # however slow the first call is back
    monkeypatch.setattr(chunks, "TARGET", TIMEOUT)  # and however slow it looks: a share each
    executor = open_executor(max_workers=2)
    sent = requests_sent(executor, monkeypatch)
    probes = 2 * executor._peer.max_workers
    opener = threading.Thread(target=lambda: (
        wait_until(lambda: len(sent) >= probes, "the probes to be sent"), gates.open(gate)))
    opener.start()
    try:
        assert list(executor.map(fx.square, range(300), timeout=TIMEOUT)) == squares(range(300))
    finally:
        gates.open(gate)
        opener.join(TIMEOUT)
    assert sent[:probes] == [1] * probes and len(sent) <= probes + 2, sent


def test_a_pure_client_s_auto_sized_map_gives_every_serving_worker_a_share(
        open_executor: Callable[..., PythagorasExecutor], monkeypatch: pytest.MonkeyPatch) -> None:
    # Chunks as large as the calls allow: only the share per worker bounds them.
    monkeypatch.setattr(chunks, "PROBING", TIMEOUT)
    monkeypatch.setattr(chunks, "TARGET", TIMEOUT)
    server = open_executor(max_workers=2)  # the peer that serves the folder: 2 workers
    server.client.starting.result(timeout=TIMEOUT)  # up: a round trip is not its start-up
    client = open_executor(max_workers=0)
    sent = requests_sent(client, monkeypatch)
    assert list(client.map(fx.square, range(100), timeout=TIMEOUT)) == squares(range(100))
    assert sum(sent) == 100 and max(sent) <= 50, sent  # not all to the one worker that claims it


def test_a_serving_peer_s_auto_sized_map_shares_its_calls_with_the_other_serving_peers(
        open_executor: Callable[..., PythagorasExecutor], monkeypatch: pytest.MonkeyPatch) -> None:
    # Peers that submit the same map each served it whole to their one worker, the others idle.
    monkeypatch.setattr(chunks, "PROBING", TIMEOUT)
    monkeypatch.setattr(chunks, "TARGET", TIMEOUT)
    other = open_executor(max_workers=3)
    other.client.starting.result(timeout=TIMEOUT)
    executor = open_executor(max_workers=1)  # 4 serving workers in all
    sent = requests_sent(executor, monkeypatch)
    assert list(executor.map(fx.square, range(100), timeout=TIMEOUT)) == squares(range(100))
    assert sum(sent) == 100 and max(sent) <= 25, sent


def test_an_auto_sized_map_of_calls_of_more_than_the_target_sends_each_call_alone(
        executor: PythagorasExecutor, monkeypatch: pytest.MonkeyPatch) -> None:
    sent = requests_sent(executor, monkeypatch)
    seconds = 1.5 * chunks.TARGET  # back or not while probing: a chunk of one call
    assert list(executor.map(fx.nap, range(6), [seconds] * 6, timeout=TIMEOUT)) == list(range(6))
    assert sent == [1] * 6


def test_an_auto_sized_map_of_stored_calls_writes_no_request(
        executor: PythagorasExecutor, open_executor: Callable[..., PythagorasExecutor],
        monkeypatch: pytest.MonkeyPatch) -> None:
    precompute(open_executor, list(range(5)))
    sent = requests_sent(executor, monkeypatch)
    assert list(executor.map(fx.square, range(7), timeout=TIMEOUT)) == squares(range(7))
    assert sent == [1, 1]  # the two new calls, probes both


# -- requests: one per chunk, served by any peer ------------------------------------------------


def test_a_pure_client_writes_one_request_per_chunk_and_another_peer_serves_them(
        open_executor: Callable[..., PythagorasExecutor],
        executions: Callable[[], list[Any]]) -> None:
    client = open_executor(max_workers=0)
    results = client.map(fx.square, range(10), chunksize=4, timeout=TIMEOUT)
    requests = keys(client, "requests/")
    assert len(requests) == 3
    assert all(key.rpartition("/")[2].startswith(BATCH_FUNCTION + ".") for key in requests)
    members = batches(client)
    assert sorted(len(m) for m in members) == [2, 4, 4]
    assert len({address for m in members for address in m}) == 10  # every call, once
    assert executions() == []  # a client runs nothing
    open_executor(max_workers=2)  # a peer that serves the folder
    assert list(results) == squares(range(10))
    assert executed(executions, "square") == Counter(range(10))
    wait_until(lambda: keys(client, "requests/") == [], "the served requests to be retired")
    wait_until(lambda: keys(client, "claims/") == [], "the served claims to be released")


def test_a_chunk_of_hits_writes_no_request_and_a_chunk_of_misses_only_its_misses(
        open_executor: Callable[..., PythagorasExecutor],
        executions: Callable[[], list[Any]]) -> None:
    before = [0, 1, 2, 3, 5, 8, 9, 10]
    precompute(open_executor, before)
    client = open_executor(max_workers=0)
    results = client.map(fx.square, range(12), chunksize=4, timeout=TIMEOUT)
    # [0, 1, 2, 3]: all stored; [4, 5, 6, 7]: a batch of 4, 6 and 7; [8, 9, 10, 11]: 11 alone.
    swarm = client._peer.swarm
    expected = sorted([sorted(str(client.client.call(fx.square, (x,), {}).address) for x in (4, 6, 7)),
                       [str(client.client.call(fx.square, (11,), {}).address)]])
    assert sorted(sorted(str(a) for a in m) for m in batches(client)) == expected
    single = [key for key in keys(client, "requests/")
              if not key.rpartition("/")[2].startswith(BATCH_FUNCTION)]
    assert [swarm.address_of(key) for key in single] == [client.client.call(fx.square, (11,), {}).address]
    open_executor(max_workers=1)  # a peer that serves the folder
    assert list(results) == squares(range(12))
    assert executed(executions, "square") == Counter(range(12))  # the stored ones ran once, before
    wait_until(lambda: keys(client, "requests/") == [], "the served requests to be retired")


# -- a call that raises --------------------------------------------------------------------------


@pytest.mark.parametrize("position", [0, 2, 3], ids=["first", "middle", "last"])
def test_a_raising_call_raises_at_its_place_and_the_rest_of_its_chunk_is_kept(
        executor: PythagorasExecutor, executions: Callable[[], list[Any]], position: int) -> None:
    xs = list(range(1, 9))  # chunks [1, 2, 3, 4] and [5, 6, 7, 8]
    refused = [i == position for i in range(len(xs))]
    results = executor.map(fx.refuse_if, xs, refused, chunksize=4, timeout=TIMEOUT)
    for x in xs[:position]:
        assert next(results) == x * x
    with pytest.raises(fx.Refused, match=f"refused {xs[position]}") as raised:
        next(results)
    assert isinstance(raised.value.__cause__, RemoteTraceback)
    # The chunk ran as a unit: every other call of it has its value, stored under its own address.
    for i, x in enumerate(xs[:4]):
        again = executor.submit(fx.refuse_if, x, refused[i])
        assert again.done(), x
        if i == position:
            assert isinstance(again.exception(timeout=0), fx.Refused)
        else:
            assert again.result(timeout=0) == x * x
    counts = executed(executions, "refuse_if")
    assert all(counts[x] == 1 for x in xs[:4]), counts
    assert all(counts[x] <= 1 for x in xs), counts


def test_a_raising_call_of_a_chunk_served_by_another_peer(
        open_executor: Callable[..., PythagorasExecutor],
        executions: Callable[[], list[Any]]) -> None:
    client = open_executor(max_workers=0)
    results = client.map(fx.refuse_if, [1, 2, 3], [False, True, False], chunksize=3,
                         timeout=TIMEOUT)
    assert len(batches(client)) == 1
    open_executor(max_workers=1)
    assert next(results) == 1
    with pytest.raises(fx.Refused, match="refused 2"):
        next(results)
    # A batch's records are published one by one: 3's may land just after 2's failure.
    assert client.submit(fx.refuse_if, 3, False).result(timeout=TIMEOUT) == 9
    assert executed(executions, "refuse_if") == Counter([1, 2, 3])  # 3 ran once, in the batch


# -- withdrawing ----------------------------------------------------------------------------------


def shut_down_within_deadline(executor: PythagorasExecutor) -> None:
    """shutdown(wait=True), which must return: nothing is left for it to wait for."""
    done = threading.Thread(target=executor.shutdown, kwargs={"wait": True}, daemon=True)
    done.start()
    done.join(TIMEOUT)
    assert not done.is_alive(), "shutdown(wait=True) still waits for calls the map dropped"


def test_closing_a_pure_clients_map_withdraws_its_batch_requests(
        open_executor: Callable[..., PythagorasExecutor],
        executions: Callable[[], list[Any]]) -> None:
    precompute(open_executor, [0])
    client = open_executor(max_workers=0)
    # [0 (stored), 1, 2, 3], [4, 5, 6, 7], [8, 9]: three requests, nothing will run them.
    results = client.map(fx.square, range(10), chunksize=4)
    assert len(keys(client, "requests/")) == 3
    assert next(results) == 0  # the stored value: the iterator has started
    results.close()
    wait_until(lambda: keys(client, "requests/") == [], "the dropped map's requests to be withdrawn")
    assert executed(executions, "square") == Counter([0])
    shut_down_within_deadline(client)
    assert len(keys(client, "results/")) == 1  # only the one stored before


def test_a_pure_clients_map_that_times_out_withdraws_its_batch_requests(
        open_executor: Callable[..., PythagorasExecutor],
        executions: Callable[[], list[Any]]) -> None:
    client = open_executor(max_workers=0)
    results = client.map(fx.square, range(10), chunksize=4, timeout=0.05)
    assert len(keys(client, "requests/")) == 3
    with pytest.raises(TimeoutError):
        next(results)
    wait_until(lambda: keys(client, "requests/") == [], "the timed-out map's requests to be withdrawn")
    assert executions() == []
    shut_down_within_deadline(client)


def test_closing_a_pure_clients_map_before_iterating_withdraws_its_batch_requests(
        open_executor: Callable[..., PythagorasExecutor]) -> None:
    client = open_executor(max_workers=0)
    results = client.map(fx.square, range(10), chunksize=4)
    assert len(keys(client, "requests/")) == 3
    results.close()
    assert within(5.0, lambda: keys(client, "requests/") == [])


# -- equal calls --------------------------------------------------------------------------------


def test_equal_calls_in_one_chunk_run_once(
        executor: PythagorasExecutor, executions: Callable[[], list[Any]]) -> None:
    results = executor.map(fx.square, [2, 2, 2, 2, 3], chunksize=4, timeout=TIMEOUT)
    assert list(results) == [4, 4, 4, 4, 9]
    assert executed(executions, "square") == Counter([2, 3])


@pytest.mark.parametrize("dropped_first", [True, False])
def test_a_batch_request_shared_by_two_maps_stays_while_one_of_them_waits(
        open_executor: Callable[..., PythagorasExecutor],
        executions: Callable[[], list[Any]], dropped_first: bool) -> None:
    client = open_executor(max_workers=0)
    if dropped_first:
        dropped = client.map(fx.square, range(4), chunksize=4, timeout=0.05)
        kept = client.map(fx.square, range(4), chunksize=4, timeout=TIMEOUT)
    else:
        kept = client.map(fx.square, range(4), chunksize=4, timeout=TIMEOUT)
        dropped = client.map(fx.square, range(4), chunksize=4, timeout=0.05)
    assert len(keys(client, "requests/")) == 1  # equal chunks: one batch request
    with pytest.raises(TimeoutError):
        next(dropped)
    assert len(keys(client, "requests/")) == 1  # the other map still waits for it
    open_executor(max_workers=1)  # a peer that serves the folder
    assert list(kept) == squares(range(4))
    assert executed(executions, "square") == Counter(range(4))


@pytest.mark.parametrize("first", ["map", "submit"])
def test_cancelling_every_future_withdraws_a_batch_and_a_request_sharing_a_call(
        open_executor: Callable[..., PythagorasExecutor], first: str) -> None:
    client = open_executor(max_workers=0)
    alone = client.submit(fx.square, 5)  # a request of its own
    results = client.map(fx.square, range(4, 8), chunksize=4, timeout=0.05)  # 5 again, in a batch
    assert len(keys(client, "requests/")) == 2
    if first == "submit":
        assert alone.cancel()
    with pytest.raises(TimeoutError):
        next(results)  # cancels every call of the map
    if first == "map":
        assert alone.cancel()
    assert within(5.0, lambda: keys(client, "requests/") == [])
