"""Scripts run as other processes of a test: run once to the end, or driven line by line.

A driven script reads one request per line on stdin and answers each with one JSON line on
stdout; every answer is awaited with a deadline that only a hang reaches. A script's stderr
goes to a file, shown when it fails. Each process has its own session, and on the way out it is
asked to end (stdin closed), then its group is killed (it, if it did not end, and what it left).
"""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
from pathlib import Path
from typing import IO, Any

import child_processes

HERE = Path(__file__).resolve().parent

#: Seconds for one answer or one run; only a hang reaches it.
DEADLINE = 120.0


def environment() -> dict[str, str]:
    """This process's environment (the execution log's variable included), with the test
    modules of ``tests/memory`` and ``tests`` importable."""
    env = dict(os.environ)
    paths = [str(HERE), str(HERE.parent), env.get("PYTHONPATH", "")]
    env["PYTHONPATH"] = os.pathsep.join(p for p in paths if p)
    return env


def run(script: Path, *args: str, cwd: Path) -> Any:
    """Run ``script`` to its end and return the JSON of its last line of output."""
    done = child_processes.run([str(script), *args], cwd=cwd, env=environment(), timeout=DEADLINE)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.splitlines()[-1])


class DrivenScript:
    """A script that answers each line written to it with one JSON line."""

    def __init__(self, script: Path, *args: str, cwd: Path, stderr: Path) -> None:
        self._stderr_path = stderr
        self._stderr = open(stderr, "w")
        self.proc = child_processes.spawn([sys.executable, str(script), *args], cwd=cwd,
                                          env=environment(), stdin=subprocess.PIPE,
                                          stderr=self._stderr)
        self._answers: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, args=(self.proc.stdout,), daemon=True).start()

    def _read(self, stdout: IO[str] | None) -> None:
        assert stdout is not None
        for line in stdout:
            self._answers.put(line)
        self._answers.put(None)

    def ask(self, request: object) -> Any:
        assert self.proc.stdin is not None
        self.proc.stdin.write(f"{request}\n")
        self.proc.stdin.flush()
        try:
            answer = self._answers.get(timeout=DEADLINE)
        except queue.Empty:
            raise AssertionError(f"no answer to {request!r} within {DEADLINE} s") from None
        if answer is None:
            raise AssertionError(f"the script ended: {self._stderr_path.read_text()}")
        return json.loads(answer)

    def close(self) -> None:
        try:
            if self.proc.stdin is not None:
                self.proc.stdin.close()
            self.proc.wait(timeout=DEADLINE)
        except (subprocess.TimeoutExpired, OSError):
            pass
        finally:
            child_processes.kill_group(self.proc)  # what it left behind too
            self._stderr.close()
