"""A peer closed while it runs a call waits for the run with its claim kept fresh: the loop
that renews leases has stopped, so the wait renews them itself, or another peer would break the
claim and run the call twice, charging it an attempt."""

from __future__ import annotations

import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from pythagoras.storage.memory import MemoryStore
from pythagoras.swarm.client import make_call
from pythagoras.swarm.peer import Peer

LEASE = 0.6
GATE = threading.Event()


def gated(x: int) -> int:
    assert GATE.wait(60), "the test never opened the gate"
    return x + 1


def test_close_keeps_the_lease_of_a_run_fresh_until_it_ends() -> None:
    GATE.clear()
    engine = ThreadPoolExecutor(1)
    peer = Peer(MemoryStore(), max_workers=1, lease_timeout=LEASE, executor=engine)
    try:
        peer.serve()
        call = make_call(gated, (1,), {})
        prepared = peer.swarm.prepare([call], peer.id)
        future: Future[Any] = Future()
        peer.submit(prepared, [(call.address, future)])
        assert peer.leases.running(prepared.address)
        closing = threading.Thread(target=peer.close, kwargs={"wait": True, "timeout": 60})
        closing.start()
        ends = time.monotonic() + 4 * LEASE  # four leases long: unrenewed, it would be stale
        while time.monotonic() < ends:
            assert peer.swarm.claimed(prepared.address), "the claim went stale while closing"
            time.sleep(LEASE / 6)
        assert closing.is_alive()  # still waiting for the run
        GATE.set()
        closing.join(60)
        assert not closing.is_alive()
        assert future.result(timeout=0) == 2
        assert not peer.swarm.claimed(prepared.address)
    finally:
        GATE.set()
        peer.close(wait=False)
        engine.shutdown()
