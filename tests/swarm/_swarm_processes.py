"""The processes of one multi-peer test, after filelock's ``test_strict_soft_stress.py``.

Each process is a real interpreter in its own session (so its pid is its process group, which
its pool's worker processes join), with stdout and stderr in files under the test's folder.
Peers announce themselves with ``ready-<name>`` files and wait for a start file, so the test
releases them together. One deadline bounds the whole test; only a hang reaches it. On the way
out every process group is killed, pool workers included.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import child_processes
import pytest

import pythagoras
from pythagoras.storage.plugins import open_store

DEADLINE = 90.0  # seconds for a whole test; only a hang reaches it
PEER_MARGIN = 10.0  # peers give up this much sooner, so that a hung peer reports its own error
PEER_SCRIPT = Path(__file__).with_name("_swarm_peer.py")
POLL = 0.005


def worker_command() -> list[str]:
    """The ``pythagoras`` command of this install."""
    script = Path(sys.executable).with_name("pythagoras")  # the console script of this install
    return [str(script)] if script.exists() else [sys.executable, "-m", "pythagoras"]


@dataclass(frozen=True)
class Execution:
    """One line of the execution log: a call with argument ``x`` ran in process ``pid``."""

    x: int
    pid: int
    ppid: int

    def by(self, proc: subprocess.Popen[str]) -> bool:
        """True if the peer ``proc`` ran it: itself (a direct call) or one of its pool workers."""
        return proc.pid in (self.pid, self.ppid)


class SwarmProcesses:
    """The processes of one test, on the folder ``<tmp_path>/swarm`` or on ``location``."""

    def __init__(self, tmp_path: Path, location: str | None = None,
                 storage_options: dict[str, Any] | None = None) -> None:
        self.tmp = tmp_path
        self.store = location or str(tmp_path / "swarm")
        self.storage_options = storage_options or {}
        self.barrier_dir = tmp_path / "barrier"
        self.barrier_dir.mkdir()
        self.start_file = tmp_path / "start"
        self.log = tmp_path / "executions.jsonl"
        self.deadline = time.monotonic() + DEADLINE
        self.procs: dict[str, subprocess.Popen[str]] = {}

    def remaining(self) -> float:
        return max(0.0, self.deadline - time.monotonic())

    def env(self, **extra: str) -> dict[str, str]:
        """A process's environment: the same pythagoras as this one, the shared execution log."""
        env = dict(os.environ)
        source_root = str(Path(pythagoras.__file__).resolve().parents[1])
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [source_root, env.get("PYTHONPATH")]))
        env["PYTHAGORAS_TEST_EXECUTION_LOG"] = str(self.log)
        env.pop("PYTHAGORAS_TEST_GATE", None)
        env.update(extra)
        return env

    def start(self, name: str, argv: Sequence[str], env: dict[str, str]) -> subprocess.Popen[str]:
        with open(self.tmp / f"{name}.out", "wb") as out, open(self.tmp / f"{name}.err", "wb") as err:
            proc = child_processes.spawn(argv, stdout=out, stderr=err, env=env, cwd=self.tmp)
        self.procs[name] = proc
        return proc

    def peer(self, name: str, action: str, *, max_workers: int, gate: Path | None = None,
             start_file: Path | None = None, **config: Any) -> subprocess.Popen[str]:
        """Start ``_swarm_peer.py`` as peer ``name``; ``gate`` holds its calls until it exists."""
        config.update(name=name, action=action, max_workers=max_workers, store=self.store,
                      storage_options=self.storage_options,
                      barrier_dir=str(self.barrier_dir),
                      start_file=str(start_file or self.start_file),
                      deadline=max(0.0, self.remaining() - PEER_MARGIN))
        extra = {"PYTHAGORAS_TEST_GATE": str(gate)} if gate is not None else {}
        return self.start(name, [sys.executable, str(PEER_SCRIPT), json.dumps(config)],
                          self.env(**extra))

    def output(self, name: str) -> str:
        return "".join((self.tmp / f"{name}.{stream}").read_text(errors="replace")
                       for stream in ("out", "err"))

    def wait_until(self, condition: Callable[[], bool], what: str, alive: Sequence[str] = ()) -> None:
        """Poll until ``condition()``; fail at the deadline or if a process in ``alive`` exits."""
        while not condition():
            for name in alive:
                if self.procs[name].poll() is not None:
                    pytest.fail(f"{name} exited {self.procs[name].returncode} while waiting until "
                                f"{what}:\n{self.output(name)}")
            if time.monotonic() > self.deadline:
                pytest.fail(f"timed out waiting until {what}")
            time.sleep(POLL)

    def wait_ready(self, *names: str) -> None:
        self.wait_until(lambda: all((self.barrier_dir / f"ready-{n}").exists() for n in names),
                        f"peers {names} are ready", alive=names)

    def release(self, start_file: Path | None = None) -> None:
        (start_file or self.start_file).touch()

    def wait_exit(self, name: str) -> int:
        try:
            return self.procs[name].wait(timeout=self.remaining())
        except subprocess.TimeoutExpired:
            pytest.fail(f"{name} did not exit within the deadline:\n{self.output(name)}")

    def report(self, name: str) -> dict[str, Any]:
        """The JSON report of a peer that exited 0."""
        code = self.wait_exit(name)
        if code != 0:
            pytest.fail(f"{name} exited {code}:\n{self.output(name)}")
        lines = (self.tmp / f"{name}.out").read_text().splitlines()
        report: dict[str, Any] = json.loads(lines[-1])
        return report

    def executions(self) -> list[Execution]:
        try:
            text = self.log.read_text()
        except FileNotFoundError:
            return []
        # A line still being appended has no newline yet: only whole lines count.
        return [Execution(**json.loads(line)) for line in text.splitlines(keepends=True)
                if line.endswith("\n")]

    def peer_records(self) -> list[str]:
        """The ids of the peers announced in the store (``<host>-<pid>-<hex>``)."""
        return [key.partition("/")[2] for key in open_store(self.store, self.storage_options).list("peers/")]

    def kill(self, name: str) -> None:
        """SIGKILL a process and its whole process group (its pool workers too)."""
        child_processes.kill_group(self.procs[name])

    def close(self) -> None:
        for name in self.procs:
            self.kill(name)
