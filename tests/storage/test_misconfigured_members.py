"""A member without the swarm's secret, or with a mistyped one, destroys nothing (issue 21).

Five real runs of one script on one folder: the team, a member with no secret, the team, a
member with a typo in the secret, the team. Before issue 21 they computed 3+1, 3+1, 3+1, 3+1,
3+1 calls: the member without the secret found every signed result "corrupt" and overwrote it
unsigned, the one with the typo moved them all to ``quarantine/``, and the team computed
everything again after each. Now the two fail at once, with the fix in their message, having
read and written nothing, and the team's last run executes nothing.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import child_processes

from pythagoras import Memory

HERE = Path(__file__).resolve().parent
SCRIPT = HERE / "_member_run.py"
DEADLINE = 120.0
TEAM = "the team's secret: 6f0c2a9e41d7b358"
TYPO = "the team's secret: 6f0c2a9e41d7b35B"


def run(folder: Path, secret: str | None, executions: Callable[[], list[Any]],
        ) -> tuple[int, str, int]:
    """One member's run: its exit code, its error output, and how many calls it executed."""
    before = len(executions())
    env = {k: v for k, v in child_processes.environment().items()
           if not k.startswith("PYTHAGORAS_SECRET")}
    if secret is not None:
        env["PYTHAGORAS_SECRET"] = secret
    done = child_processes.run_command([sys.executable, str(SCRIPT), str(folder)],
                                       timeout=DEADLINE, env=env)
    return done.returncode, done.stderr, len(executions()) - before


def test_members_without_the_right_secret_leave_the_teams_results_alone(
    tmp_path: Path, executions: Callable[[], list[Any]]
) -> None:
    folder = tmp_path / "swarm"
    code, err, ran = run(folder, TEAM, executions)
    assert (code, ran) == (0, 4), err[-3000:]
    records = {p: p.read_bytes() for p in folder.rglob("*")
               if p.is_file() and "peers" not in p.relative_to(folder).parts}
    for secret, says in ((None, "has no secret"), (TYPO, "another secret")):
        code, err, ran = run(folder, secret, executions)
        assert code != 0 and ran == 0
        assert "SecretMismatch" in err and says in err and "PYTHAGORAS_SECRET" in err, err
        assert not (folder / "quarantine").exists()
        for path, data in records.items():  # every record of the team, as it was
            assert path.read_bytes() == data, path
        code, err, ran = run(folder, TEAM, executions)
        assert (code, ran) == (0, 0), err[-3000:]  # everything is a hit


def test_a_worker_or_status_without_the_right_secret_refuses_at_once(tmp_path: Path) -> None:
    folder = tmp_path / "swarm"
    assert Memory(str(folder), secret=TEAM, verbose=0).cache(square)(3) == 9  # the team's
    records = {p: p.read_bytes() for p in folder.rglob("*")
               if p.is_file() and "peers" not in p.relative_to(folder).parts}
    assert (folder / "swarm.json").exists()
    for command in ("worker", "status"):
        for secret, says in ((None, "has no secret"), (TYPO, "another secret")):
            done = run_cli([command, str(folder)], secret)
            assert done.returncode == 2 and says in done.stderr, done.stderr
            assert "PYTHAGORAS_SECRET" in done.stderr
            assert not (folder / "quarantine").exists()
            for path, data in records.items():
                assert path.read_bytes() == data, path


def run_cli(args: list[str], secret: str | None) -> subprocess.CompletedProcess[str]:
    """``python -m pythagoras ARGS`` with ``secret`` in its environment, to its end."""
    env = {k: v for k, v in child_processes.environment().items()
           if not k.startswith("PYTHAGORAS_SECRET")}
    if secret is not None:
        env["PYTHAGORAS_SECRET"] = secret
    return child_processes.run_command([sys.executable, "-m", "pythagoras", *args],
                                       timeout=DEADLINE, env=env)


def square(x: int) -> int:
    return x * x


def test_a_member_without_the_secret_refuses_also_when_the_marker_was_deleted(
    tmp_path: Path, executions: Callable[[], list[Any]]
) -> None:
    """The marker deleted (by a writer without the secret, or not yet synced to a new machine):
    the team's records still say that the swarm is signed. Before, the member without the
    secret read them as corrupt and overwrote them (4 executions), and the team ran all 4 again."""
    folder = tmp_path / "swarm"
    assert run(folder, TEAM, executions)[::2] == (0, 4)
    (folder / "swarm.json").unlink()
    records = {p: p.read_bytes() for p in folder.rglob("*")
               if p.is_file() and "peers" not in p.relative_to(folder).parts}
    code, err, ran = run(folder, None, executions)
    assert code != 0 and ran == 0
    assert "SecretMismatch" in err and "are signed" in err and "PYTHAGORAS_SECRET" in err, err
    for path, data in records.items():
        assert path.read_bytes() == data, path
    code, err, ran = run(folder, TEAM, executions)
    assert (code, ran) == (0, 0), err[-3000:]
