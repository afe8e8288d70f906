"""The functions the fault tests run: a module of its own, importable by every peer and worker.

Each one appends a line to the execution log (``tests/execution_log.py``: a file named by an
environment variable, so the function stays pure) before it does anything else: the argument,
the executing process and its parent (a call runs in a worker process of a peer's pool, whose
parent is the peer), and the time on the machine's monotonic clock, which every process of this
machine shares. The tests count executions, tell which peer ran what and time recoveries from it.
"""

from __future__ import annotations

import os
import signal
import time

import execution_log

#: Set in the environment of the peers the fault tests start, in their own sessions.
PEER_MARK = "PYTHAGORAS_FAULT_PEER"


def answer(x: int) -> int:
    """The value every call of ``x`` must return: not one a wrong record could give by chance."""
    return (x * 2654435761 + 12345) % 4294967291


def _log(name: str, x: int) -> None:
    execution_log.record({"f": name, "x": x, "pid": os.getpid(), "ppid": os.getppid(),
                          "t": time.monotonic()})


def nap(x: int, seconds: float) -> int:
    """``answer(x)``, after staying running for ``seconds``."""
    _log("nap", x)
    time.sleep(seconds)
    return answer(x)


def big(x: int, size: int) -> bytes:
    """``size`` bytes: a result that may not fit the disk."""
    _log("big", x)
    return bytes([x % 256]) * size


def kill_my_worker(x: int) -> int:
    """A poison call: it ends its own worker process, as a segfault or the OOM killer would."""
    _log("kill_my_worker", x)
    os._exit(70)


def kill_my_peer(x: int) -> int:
    """A poison call that takes its whole peer down: its worker process and the peer itself
    (every process of the peer's process group; each fault test starts peers in sessions
    of their own)."""
    if not os.environ.get(PEER_MARK):  # never the test process's own group
        raise RuntimeError("kill_my_peer runs only in a peer started by the fault tests")
    _log("kill_my_peer", x)
    os.killpg(os.getpgrp(), signal.SIGKILL)
    return x  # never reached


def gated(x: int, gate: str) -> int:
    """``answer(x)``, once the file ``gate`` exists (at most a minute: only a failed test waits
    that long)."""
    _log("gated", x)
    give_up = time.monotonic() + 60.0
    while not os.path.exists(gate) and time.monotonic() < give_up:
        time.sleep(0.005)
    return answer(x)


def weigh(x: int, blob: bytes) -> int:
    """``answer(x)`` plus the length of ``blob``: a call with an argument large enough to be
    stored in a record of its own (``values/``)."""
    _log("weigh", x)
    return answer(x) + len(blob)
