"""A task that starts joblib's loky pool inside a swarm worker must not hold up the peer's exit.

With two copies of loky in one process (the loky package and joblib's), a worker's exit joined
the nested pool's idle processes until loky's idle timeout: five minutes.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

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
    process = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        out, err = process.communicate(timeout=DEADLINE)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)  # the peer, its workers and their nested pools
        out, err = process.communicate()
        pytest.fail(f"the process did not exit within {DEADLINE} s after its work was done: {out!r}")
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
    assert process.returncode == 0, err
    assert out.strip() == "[0, 1, 4, 9]"
