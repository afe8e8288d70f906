"""A task that starts joblib's loky pool inside a swarm worker must not hold up the peer's exit.

With two copies of loky in one process (the loky package and joblib's), a worker's exit joined
the nested pool's idle processes until loky's idle timeout: five minutes.
"""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import child_processes
import pytest

DEADLINE = 120.0  # the bug made this take 300 s and more

pytestmark = pytest.mark.timeout(2 * DEADLINE)


def test_a_peer_exits_promptly_after_a_task_started_a_loky_pool(tmp_path: Path) -> None:
    script = textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(Path(__file__).parent)!r})
        import _tasks
        from pythagoras import PythagorasExecutor

        with PythagorasExecutor({str(tmp_path)!r}, max_workers=1) as ex:
            print(ex.submit(_tasks.nested_loky, 4).result(timeout=60), flush=True)
    """)
    # On a timeout the peer, its workers and their nested pools are killed with the group.
    done = child_processes.run(["-c", script], env=dict(os.environ), timeout=DEADLINE)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[0, 1, 4, 9]"
