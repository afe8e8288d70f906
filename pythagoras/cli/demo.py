"""``pythagoras demo``: a swarm of three local peers runs a slow function over a list, twice.

The demo opens the location (default: the embedded default location), starts two extra peers
(``pythagoras worker``, one worker process each) beside its own, and runs the tutorial's
``very_slow_function`` over a list with ``sync_parallel`` and a progress bar: the calls are
shared by the three peers. Then it runs the same calls again: every result is read back from
the location. It prints the timings, the speed-ups and how many calls each peer ran, and stops
its peers, also on Ctrl-C or an error.

Each demo run computes calls of its own (a run number is one of the arguments), so that the
first pass always has work to share; the results stay at the location, as results do
(``pythagoras clear LOCATION --all`` removes them).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

from ..storage.location import resolve_location
from ..storage.plugins import open_store
from ..storage.unique import unique_hex
from ..swarm.swarm_store import SwarmStore
from ..tutorial.cloud import SharedStorage_P2P_Cloud
from ..tutorial.pure_function import kw_args

__all__ = ["run", "very_slow_function"]

START_TIMEOUT = 60.0  # seconds for the extra peers to announce themselves


def very_slow_function(*, important_parameter: int, seconds: float, run: str) -> int:
    """The tutorial's function: an hour there, ``seconds`` here."""
    import time

    time.sleep(seconds)
    return important_parameter**2


def _worker_command() -> list[str]:
    return [sys.executable, "-m", "pythagoras", "worker"]


class _Peers:
    """The extra peers: ``pythagoras worker`` processes, each in a session of its own (so
    that stopping one stops its pool too), their output in files of a temp folder."""

    def __init__(self, location: str, count: int) -> None:
        self.location = location
        self.folder = Path(tempfile.mkdtemp(prefix="pythagoras-demo-"))
        self.procs: list[subprocess.Popen[bytes]] = []
        for i in range(count):
            with open(self.folder / f"peer{i}.log", "wb") as log:
                self.procs.append(subprocess.Popen(
                    [*_worker_command(), location, "--max-workers", "1"],
                    stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                    start_new_session=True))

    def wait_ready(self, swarm: SwarmStore, own: int) -> int:
        """Wait until every extra peer has announced itself; the live peers' workers."""
        deadline = time.monotonic() + START_TIMEOUT
        pids = {str(p.pid) for p in self.procs}
        while True:
            live = swarm.live_peers()
            seen = {peer.rsplit("-", 2)[1] for peer in live} & pids
            if seen == pids:
                return own + sum(int(info.get("workers", 0)) for peer, info in live.items()
                                 if peer.rsplit("-", 2)[1] in pids)
            for i, proc in enumerate(self.procs):
                if proc.poll() is not None:
                    raise RuntimeError(f"peer {i + 1} exited with code {proc.returncode}:\n"
                                       f"{self.log(i)}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"the extra peers did not start within {START_TIMEOUT:.0f} s")
            time.sleep(0.05)  # polling the location for the peers' records

    def log(self, i: int) -> str:
        return (self.folder / f"peer{i}.log").read_text(errors="replace")

    def executed(self, i: int) -> int | None:
        found = re.findall(r"stopped after executing (\d+) calls", self.log(i))
        return int(found[-1]) if found else None

    def stop(self) -> None:
        """SIGTERM (a worker releases its calls and exits), then SIGKILL what is left."""
        for proc in self.procs:
            if proc.poll() is None:
                _signal_group(proc, signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                _signal_group(proc, signal.SIGKILL)
                proc.wait()

    def remove(self) -> None:
        for path in self.folder.iterdir():
            path.unlink()
        self.folder.rmdir()


def _signal_group(proc: subprocess.Popen[bytes], signum: int) -> None:
    try:
        if hasattr(os, "killpg"):
            os.killpg(proc.pid, signum)
        else:  # Windows: no process groups; the worker's pool ends with it
            proc.send_signal(getattr(signal, "CTRL_BREAK_EVENT", signum) if signum == signal.SIGTERM
                             else signum)
    except ProcessLookupError:
        pass


def _two_runs(cloud: SharedStorage_P2P_Cloud, say: Callable[[str], None], *, calls: int,
              seconds: float, peers: int) -> None:
    """The calls shared by the peers, then the same calls read back; each run timed."""
    f = cloud.add_pure_function(very_slow_function)
    run_id = unique_hex(20)
    batch = [kw_args(important_parameter=i, seconds=seconds, run=run_id) for i in range(calls)]
    work = calls * seconds
    say(f"\nfirst run: {calls} calls of very_slow_function, {seconds:g} s each, shared by "
        f"the {peers + 1} peers")
    started = time.perf_counter()
    values = f.sync_parallel(batch, timeout=max(60.0, 10 * work), progress=True)
    first = time.perf_counter() - started
    say(f"  {first:.2f} s for {work:g} s of work: {work / first:.1f}x faster than one worker")

    say("\nsecond run: the same calls")
    started = time.perf_counter()
    again = f.sync_parallel(batch, timeout=60.0, progress=True)
    second = time.perf_counter() - started
    say(f"  {second * 1000:.1f} ms: every value read back from the swarm, "
        f"{first / second:.0f}x faster than the first run")
    if again != values:
        raise AssertionError("the second run read back other values than the first computed")
    say(f"\nvalues: {values}")


def run(location: str | None = None, *, calls: int = 12, seconds: float = 1.0, peers: int = 2,
        out: TextIO | None = None) -> int:
    """Run the demo; the exit code (0)."""
    out = out or sys.stdout
    where = resolve_location(location)

    def say(text: str) -> None:
        print(text, file=out, flush=True)

    say(f"pythagoras demo: the swarm at {where}")
    store = open_store(where)
    say(f"starting {peers} more peers (pythagoras worker, one worker process each) ...")
    extra = _Peers(store.location, peers)
    cloud: SharedStorage_P2P_Cloud | None = None
    own = 0
    try:
        cloud = SharedStorage_P2P_Cloud(shared_dir_name=store.location, max_workers=1)
        workers = extra.wait_ready(cloud.peer.swarm, own=1)
        say(f"  ready: {peers + 1} peers on this machine, {workers} worker processes")
        _two_runs(cloud, say, calls=calls, seconds=seconds, peers=peers)
    finally:
        if cloud is not None:
            own = cloud.peer.executed
            cloud.close()
        extra.stop()
    ran = [extra.executed(i) for i in range(peers)]
    say(f"calls run by each peer: this process {own}, "
        + ", ".join(f"worker {i + 1} {'?' if n is None else n}" for i, n in enumerate(ran)))
    extra.remove()
    say(f"\nthe peers are stopped. On another machine that sees {where}, run "
        f"`pythagoras worker {where}` to join the swarm, or run this demo there.")
    return 0
