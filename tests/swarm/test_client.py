"""The public swarm client, in-process on a ``MemoryStore``: no process is started. Calls that
must run go to a peer whose engine is a thread pool of this process.

A stored value is answered from the store, without a request; a stored failure is raised again
with its own type, and ``retry`` clears it; the submitter's events fire in their order.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from pythagoras.errors import PurityError
from pythagoras.storage.hookspecs import hookimpl
from pythagoras.storage.memory import MemoryStore
from pythagoras.storage.plugins import plugin_manager
from pythagoras.swarm.call_future import CallFuture, read_from_store
from pythagoras.swarm.client import SwarmClient, make_call
from pythagoras.swarm.events import CallEvent
from pythagoras.swarm.options import SwarmOptions
from pythagoras.swarm.peer import Peer

TIMEOUT = 60.0  # only a hang reaches this

pytestmark = pytest.mark.timeout(4 * TIMEOUT)


class Refused(ValueError):
    pass


def square(x: int) -> int:
    return x * x


def refuse_once(path: str) -> str:
    """Raises Refused the first time (it leaves a file), returns ``path`` after."""
    if not os.path.exists(path):
        open(path, "x").close()
        raise Refused(f"refused {os.path.basename(path)}")
    return path


def generate(x: int) -> Iterator[int]:
    yield x


class Recorder:
    """The submitter's events, in order, as ``(hook, function, cached)``."""

    def __init__(self) -> None:
        self.events: list[tuple[str, str, bool]] = []
        self._lock = threading.Lock()

    def _record(self, hook: str, event: CallEvent) -> None:
        if event.side == "submitter":
            with self._lock:
                self.events.append((hook, event.function, event.cached))

    @hookimpl
    def pythagoras_call_submitted(self, event: CallEvent) -> None:
        self._record("submitted", event)

    @hookimpl
    def pythagoras_call_finished(self, event: CallEvent) -> None:
        self._record("finished", event)

    @hookimpl
    def pythagoras_call_failed(self, event: CallEvent) -> None:
        self._record("failed", event)


@pytest.fixture
def store() -> MemoryStore:
    return MemoryStore()


@pytest.fixture
def client(store: MemoryStore) -> Iterator[SwarmClient]:
    """A client on a peer that runs nothing (its calls stay pending unless stored)."""
    client = SwarmClient(Peer(store, max_workers=0))
    yield client
    client.peer.close(wait=False)


@pytest.fixture
def serving(store: MemoryStore) -> Iterator[SwarmClient]:
    """A client on a peer that runs calls on a pool of two threads of this process."""
    with ThreadPoolExecutor(2) as engine:
        peer = Peer(store, executor=engine, lease_timeout=60)
        peer.serve()
        client = SwarmClient(peer)
        yield client
        client.close()


@pytest.fixture
def recorder() -> Iterator[Recorder]:
    recorder = Recorder()
    plugin_manager().register(recorder)
    yield recorder
    plugin_manager().unregister(recorder)


def test_a_stored_value_is_answered_without_a_request(client: SwarmClient, store: MemoryStore) -> None:
    call = client.call(square, (3,), {})
    client.peer.swarm.finish(None, call.address, 9)
    [future] = client.submit([call])
    assert future.done() and future.result() == 9 and read_from_store(future)
    assert list(store.list("requests/")) == [] and client.outstanding() == []
    assert client.lookup(call.address) == 9


def test_a_call_not_stored_is_sent_once_as_one_request(client: SwarmClient, store: MemoryStore) -> None:
    calls = [client.call(square, (x,), {}) for x in (1, 2, 1)]
    futures = client.submit(calls)
    assert all(isinstance(f, CallFuture) and not f.done() for f in futures)
    assert len(list(store.list("requests/"))) == 1  # one batch request of the two distinct calls
    assert set(client.outstanding()) == set(futures)
    for future in futures:
        future.cancel()


def test_a_failure_is_raised_with_its_type_and_retry_clears_it(serving: SwarmClient,
                                                                tmp_path: Path) -> None:
    call = serving.call(refuse_once, (str(tmp_path / "once"),), {})
    [first] = serving.submit([call])
    with pytest.raises(Refused, match="refused once"):
        first.result(timeout=TIMEOUT)
    [again] = serving.submit([call])  # the failure is stored: raised again, not run again
    assert read_from_store(again)
    with pytest.raises(Refused, match="refused once"):
        again.result(timeout=0)
    [retried] = serving.submit([call], retry=True)  # cleared, and run again
    assert not read_from_store(retried)
    assert retried.result(timeout=TIMEOUT) == str(tmp_path / "once")
    assert serving.peer.swarm.failure(call.address) is None


def test_a_call_run_by_a_peer_after_the_callers_look_is_not_run_again(
        serving: SwarmClient, tmp_path: Path) -> None:
    # The client looked the call up and missed; another peer then ran it and let its claim
    # go. The submit that follows claims the call, and must answer it from the store.
    call = serving.call(refuse_once, (str(tmp_path / "ran"),), {})
    serving.peer.swarm.finish(None, call.address, "stored by another peer")
    peer = serving.peer
    future: Future[Any] = Future()
    peer.submit(peer.swarm.prepare([call], peer.id), [(call.address, future)])
    assert future.result(timeout=TIMEOUT) == "stored by another peer"
    assert not (tmp_path / "ran").exists()


def test_events_fire_in_order(serving: SwarmClient, recorder: Recorder, tmp_path: Path) -> None:
    stored = serving.call(square, (2,), {})
    serving.peer.swarm.finish(None, stored.address, 4)
    hit, sent = serving.submit([stored, serving.call(square, (5,), {})])
    assert hit.result() == 4 and sent.result(timeout=TIMEOUT) == 25
    assert recorder.events == [("submitted", "square", True), ("submitted", "square", False),
                               ("finished", "square", True), ("finished", "square", False)]
    recorder.events.clear()
    [failed] = serving.submit([serving.call(refuse_once, (str(tmp_path / "x"),), {})])
    assert isinstance(failed.exception(timeout=TIMEOUT), Refused)
    assert recorder.events == [("submitted", "refuse_once", False), ("failed", "refuse_once", False)]


def test_an_uncached_client_gives_every_call_an_address_of_its_own(store: MemoryStore) -> None:
    client = SwarmClient(Peer(store, max_workers=0), cache=False)
    try:
        first, second = client.call(square, (3,), {}), client.call(square, (3,), {})
        assert first.unique and first.address != second.address
        assert first.address.function == make_call(square, (3,), {}).address.function
    finally:
        client.peer.close(wait=False)


def test_a_call_that_cannot_be_sent_fails_at_the_caller(client: SwarmClient, store: MemoryStore) -> None:
    with pytest.raises(PurityError, match="generator or coroutine function"):
        client.call(generate, (1,), {})
    with pytest.raises(TypeError):
        client.call(square, (threading.Lock(),), {})
    assert list(store.list("")) == []


def test_options_are_checked_once_with_the_front_ends_messages() -> None:
    with pytest.raises(ValueError, match="max_workers must be None or >= 0, not -1"):
        SwarmOptions.of(max_workers=-1)
    with pytest.raises(ValueError, match="lease_timeout must be a positive number of seconds"):
        SwarmOptions.of(lease_timeout=0)
    with pytest.raises(TypeError, match="engine= must be a concurrent.futures.Executor"):
        SwarmOptions.of(engine=object())  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="secret is empty"):
        SwarmOptions.of(secret="")
    options = SwarmOptions.of("/tmp/x", secret="s" * 16, lease_timeout=5)
    assert options.secret == b"s" * 16 and options.lease_timeout == 5.0 and options.where == "/tmp/x"
    assert options.replace(cache=False).key() != options.key()


def test_the_options_object_is_frozen() -> None:
    options: Any = SwarmOptions.of()
    with pytest.raises(AttributeError):
        options.max_workers = 3
