"""Worker peers on one folder, killed and restarted at random while a client's calls run.

Each peer is ``_fault_peer.py`` (a ``pythagoras worker``) in a session of its own, so that its
process group holds it and its pool's worker processes, and one ``killpg`` takes the whole peer
down as a power cut or the OOM killer would. A killer thread kills a random peer after a random
interval (the fault itself, drawn from a seeded generator) and starts a new one in its slot at
once. The client is an executor in the test's process that runs nothing (``max_workers=0``), so
every call goes through the peers, and records when each future settles.

What ran is read from the execution log (``_fault_functions``), never inferred from timings;
times are only measured, for the figures, never asserted. One deadline bounds a whole run; every
process started is killed on the way out, whatever happened.
"""

from __future__ import annotations

import json
import os
import random
import signal
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter
from concurrent.futures import FIRST_COMPLETED, Future, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import _fault_functions as fx
import child_processes
import execution_log

import pythagoras
from pythagoras import PythagorasExecutor
from pythagoras.errors import PeersDied

HERE = Path(__file__).resolve().parent
PEER_SCRIPT = HERE / "_fault_peer.py"
POLL = 0.01
MAX_ATTEMPTS = 3  # the swarm's default: a call whose runners die this often fails, PeersDied


def seed_from_environment() -> int:
    """``$PYTHAGORAS_FAULT_SEED`` to replay a run, else a fresh seed (the tests print it)."""
    text = os.environ.get("PYTHAGORAS_FAULT_SEED", "").strip()
    return int(text) if text else random.SystemRandom().randrange(2**32)


@dataclass(frozen=True)
class Kill:
    at: float  # time.monotonic() just before the signal
    slot: int
    pid: int
    signal: int


@dataclass(frozen=True)
class Execution:
    f: str
    x: int
    pid: int
    ppid: int
    t: float

    def by(self, pid: int) -> bool:
        """True if the peer ``pid`` ran it: in one of its pool's workers, or itself."""
        return pid in (self.pid, self.ppid)


class PeerProcesses:
    """The worker peers of one test, each in a numbered slot that a restart fills again."""

    def __init__(self, tmp_path: Path, *, lease_timeout: float, max_workers: int = 1,
                 remote_looking: bool = False, deadline: float = 90.0) -> None:
        self.tmp = tmp_path
        self.folder = tmp_path / "swarm"
        self.log = tmp_path / "executions.jsonl"
        self.lease_timeout = lease_timeout
        self.max_workers = max_workers
        self.remote_looking = remote_looking
        self.deadline = time.monotonic() + deadline
        self.procs: dict[int, subprocess.Popen[str]] = {}
        self.every: list[subprocess.Popen[str]] = []  # every incarnation, for the cleanup
        self.generation: Counter[int] = Counter()
        self.lock = threading.Lock()
        # A peer that dies on its own (a poison call) stays a zombie until its parent reaps it,
        # and a zombie's pid still exists: reap at once, as a shell or a service manager would.
        self.closed = threading.Event()
        threading.Thread(target=self._reap, name="fault-reaper", daemon=True).start()

    def _reap(self) -> None:
        while not self.closed.wait(0.005):
            with self.lock:
                every = list(self.every)
            for proc in every:
                proc.poll()

    def remaining(self) -> float:
        return max(0.0, self.deadline - time.monotonic())

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        paths = [str(Path(pythagoras.__file__).resolve().parents[1]), str(HERE.parent), str(HERE)]
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [*paths, env.get("PYTHONPATH")]))
        env[execution_log.VARIABLE] = str(self.log)
        env[fx.PEER_MARK] = "1"
        return env

    def start(self, slot: int, **config: Any) -> subprocess.Popen[str]:
        """Start a peer in ``slot`` (a new incarnation if one ran there before)."""
        with self.lock:
            self.generation[slot] += 1
            generation = self.generation[slot]
        config = {"folder": str(self.folder), "lease_timeout": self.lease_timeout,
                  "max_workers": self.max_workers, **config}
        if self.remote_looking and "hostname" not in config:
            # A machine of its own for each incarnation: no peer, not even its successor in
            # the slot, can tell that the dead one's pid is gone; its leases lapse by age only.
            config["hostname"] = f"faulthost{slot}g{generation}"
        name = f"peer{slot}-{generation}"
        with open(self.tmp / f"{name}.out", "wb") as out, open(self.tmp / f"{name}.err", "wb") as err:
            proc = child_processes.spawn([sys.executable, str(PEER_SCRIPT), json.dumps(config)],
                                         stdout=out, stderr=err, env=self.env(), cwd=self.tmp)
        with self.lock:
            self.procs[slot] = proc
            self.every.append(proc)
        return proc

    def output(self, slot: int) -> str:
        name = f"peer{slot}-{self.generation[slot]}"
        return (self.tmp / f"{name}.err").read_text(errors="replace")

    def all_output(self) -> str:
        """Every incarnation's stderr, for a failure's message."""
        return "\n".join(f"--- {p.name}\n{p.read_text(errors='replace')[-3000:]}"
                         for p in sorted(self.tmp.glob("peer*.err")))

    def kill(self, slot: int, sig: int = signal.SIGKILL) -> Kill:
        """Signal the peer in ``slot``; once it has exited, SIGKILL what is left of its group."""
        proc = self.procs[slot]
        kill = Kill(time.monotonic(), slot, proc.pid, sig)
        child_processes.signal_group(proc, sig)
        try:
            proc.wait(timeout=min(10.0, self.remaining() + 1.0))
        except subprocess.TimeoutExpired:
            pass
        child_processes.kill_group(proc)
        return kill

    def serving(self, slots: list[int]) -> bool:
        """True once every peer in ``slots`` has announced itself (its record names its pid)."""
        peers = self.folder / "peers"
        names = os.listdir(peers) if peers.exists() else []
        return all(any(f"-{self.procs[s].pid}-" in n for n in names) for s in slots)

    def wait_serving(self, slots: list[int]) -> None:
        while not self.serving(slots):
            for slot in slots:
                if self.procs[slot].poll() is not None:
                    raise AssertionError(f"peer {slot} exited {self.procs[slot].returncode}:\n"
                                         f"{self.output(slot)}")
            if time.monotonic() > self.deadline:
                raise AssertionError(f"peers {slots} never served:\n{self.all_output()}")
            time.sleep(POLL)

    def executions(self) -> list[Execution]:
        try:
            text = self.log.read_text()
        except FileNotFoundError:
            return []
        # A line being appended has no newline yet; a writer killed mid-line leaves half a line.
        runs = []
        for line in text.splitlines(keepends=True):
            if line.endswith("\n"):
                try:
                    runs.append(Execution(**json.loads(line)))
                except ValueError:
                    pass
        return runs

    def close(self) -> None:
        self.closed.set()
        for proc in self.every:
            child_processes.kill_group(proc)


class Killer(threading.Thread):
    """Kills a random peer after each random interval, and restarts its slot at once."""

    def __init__(self, peers: PeerProcesses, rng: random.Random, *, interval: tuple[float, float],
                 signals: tuple[int, ...] = (signal.SIGKILL,)) -> None:
        super().__init__(name="fault-killer", daemon=True)
        self.peers, self.rng, self.interval, self.signals = peers, rng, interval, signals
        self.stop = threading.Event()
        self.kills: list[Kill] = []
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            slots = sorted(self.peers.procs)
            while not self.stop.wait(self.rng.uniform(*self.interval)):
                slot = self.rng.choice(slots)
                self.kills.append(self.peers.kill(slot, self.rng.choice(self.signals)))
                if not self.stop.is_set():
                    self.peers.start(slot)
        except BaseException as e:  # noqa: BLE001 -- re-raised by the test's thread
            self.error = e

    def finish(self) -> None:
        self.stop.set()
        self.join(timeout=30)
        if self.error is not None:
            raise self.error


@dataclass
class Figures:
    """What one run under random kills measured."""

    seed: int
    calls: int
    peers: int
    lease_timeout: float
    remote_looking: bool
    seconds: float = 0.0
    kills: int = 0
    kills_by_signal: dict[str, int] = field(default_factory=dict)
    lost: list[int] = field(default_factory=list)  # calls whose future never settled
    # Calls whose runners were killed under them max_attempts times: PeersDied, by design.
    died: list[int] = field(default_factory=list)
    wrong: list[tuple[int, str]] = field(default_factory=list)  # calls settled with another value
    executions: int = 0
    never_ran: list[int] = field(default_factory=list)
    reruns: int = 0  # executions of calls a killed (or stopped) peer was running, after that
    in_flight: int = 0  # calls a SIGKILLed peer was running
    restart_after_kill: list[float] = field(default_factory=list)  # kill -> running elsewhere
    done_after_kill: list[float] = field(default_factory=list)  # kill -> the value at the caller

    @property
    def duplicates(self) -> int:
        return self.executions - (self.calls - len(self.never_ran))

    def per_100(self, count: int) -> float:
        return 100.0 * count / self.calls if self.calls else 0.0

    def summary(self) -> str:
        def spread(values: list[float]) -> str:
            if not values:
                return "n/a"
            return (f"median {statistics.median(values):.2f} s, max {max(values):.2f} s "
                    f"(n={len(values)})")

        kind = "remote-looking" if self.remote_looking else "same-host"
        return (f"seed {self.seed}: {self.calls} calls through {self.peers} peers "
                f"(lease {self.lease_timeout:g} s, {kind}) "
                f"in {self.seconds:.1f} s under {self.kills} kills {self.kills_by_signal}; "
                f"lost {len(self.lost)}, wrong {len(self.wrong)}, failed with PeersDied after "
                f"{MAX_ATTEMPTS} runs killed {len(self.died)}; executions {self.executions}, "
                f"duplicates {self.duplicates} ({self.per_100(self.duplicates):.2f} per 100 calls; "
                f"{self.reruns} reruns of calls a killed or stopped peer was running "
                f"({self.in_flight} at a SIGKILL), {self.duplicates - self.reruns} others); "
                f"from a SIGKILL until its call runs again (queued behind the pending calls) "
                f"{spread(self.restart_after_kill)}, until its value reaches the caller "
                f"{spread(self.done_after_kill)}")


def run_under_kills(tmp_path: Path, *, seed: int, calls: int, peers: int, lease_timeout: float,
                    remote_looking: bool, seconds: tuple[float, float],
                    interval: tuple[float, float], signals: tuple[int, ...] = (signal.SIGKILL,),
                    window: int | None = None, deadline: float = 90.0) -> tuple[Figures, PeerProcesses]:
    """Run ``calls`` calls of ``nap`` through ``peers`` worker peers while a killer kills and
    restarts them; the figures, and the processes (closed already) for the test's messages.

    ``window``: at most this many calls outstanding at once (all at once if None).
    """
    rng = random.Random(seed)
    durations = [rng.uniform(*seconds) for _ in range(calls)]
    figures = Figures(seed, calls, peers, lease_timeout, remote_looking)
    processes = PeerProcesses(tmp_path, lease_timeout=lease_timeout, remote_looking=remote_looking,
                              deadline=deadline)
    killer = Killer(processes, random.Random(seed + 1), interval=interval, signals=signals)
    done_at: dict[int, float] = {}
    futures: dict[int, Future[Any]] = {}
    executor: PythagorasExecutor | None = None
    try:
        for slot in range(peers):
            processes.start(slot)
        processes.wait_serving(list(range(peers)))
        executor = PythagorasExecutor(processes.folder, max_workers=0, lease_timeout=lease_timeout)
        started = time.monotonic()
        killer.start()
        outstanding: set[Future[Any]] = set()
        for x in range(calls):
            while window is not None and len(outstanding) >= window and processes.remaining() > 0:
                _, outstanding = wait(outstanding, timeout=min(1.0, processes.remaining()),
                                      return_when=FIRST_COMPLETED)
            future = executor.submit(fx.nap, x, durations[x])
            future.add_done_callback(lambda _, x=x: done_at.setdefault(x, time.monotonic()))
            futures[x] = future
            outstanding.add(future)
        wait(outstanding, timeout=processes.remaining())
        figures.seconds = time.monotonic() - started
    finally:
        if killer.ident is not None:
            killer.finish()
        if executor is not None:
            executor.shutdown(wait=False, cancel_futures=True)
        processes.close()

    for x in range(calls):
        future = futures.get(x)
        if future is None or not future.done() or future.cancelled():
            figures.lost.append(x)
            continue
        error = future.exception()
        if isinstance(error, PeersDied) and sum(
                r.x == x for r in processes.executions() if r.f == "nap") >= MAX_ATTEMPTS:
            figures.died.append(x)
        elif error is not None:
            figures.wrong.append((x, f"raised {type(error).__name__}: {error}"))
        elif future.result() != fx.answer(x):
            figures.wrong.append((x, f"returned {future.result()!r}, not {fx.answer(x)}"))
    _count_executions(figures, processes.executions(), killer.kills, done_at)
    return figures, processes


def _count_executions(figures: Figures, runs: list[Execution], kills: list[Kill],
                      done_at: dict[int, float]) -> None:
    figures.kills = len(kills)
    figures.kills_by_signal = dict(Counter(signal.Signals(k.signal).name for k in kills))
    naps = [r for r in runs if r.f == "nap"]
    figures.executions = len(naps)
    ran = {r.x for r in naps}
    figures.never_ran = [x for x in range(figures.calls) if x not in ran]
    rerun: set[tuple[int, float]] = set()
    for kill in kills:
        # The calls the victim had started and whose value had not reached the caller: run
        # again after the kill (a SIGTERMed peer releases them; a SIGKILLed one leaves them to
        # be broken). Only SIGKILLs are timed: they are the recovery the figures are about.
        started = {r.x for r in naps if r.by(kill.pid) and r.t <= kill.at}
        for x in sorted(started):
            if done_at.get(x, float("inf")) <= kill.at:
                continue
            after = [r for r in naps if r.x == x and r.t > kill.at and not r.by(kill.pid)]
            if not after:
                continue  # its value was stored before the kill and reached the caller after it
            rerun.update((r.x, r.t) for r in after)
            if kill.signal != signal.SIGKILL:
                continue
            figures.in_flight += 1
            figures.restart_after_kill.append(min(r.t for r in after) - kill.at)
            if x in done_at:
                figures.done_after_kill.append(done_at[x] - kill.at)
    figures.reruns = len(rerun)
