"""A call that a peer cannot load (its module is missing there) fails with the reason, at once,
instead of being skipped by every peer for ever while its caller waits."""

from __future__ import annotations

from pathlib import Path

import child_processes
import pytest

from pythagoras import PythagorasExecutor

pytestmark = pytest.mark.timeout(120)


def test_a_call_no_peer_can_load_fails_with_the_reason(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The module is importable here, in the client, and nowhere else: the function travels by
    # reference, and the only serving peer, a `pythagoras worker`, cannot import it.
    here_only = tmp_path / "here_only"
    here_only.mkdir()
    (here_only / "only_here_module.py").write_text("def plus_one(x):\n    return x + 1\n")
    monkeypatch.syspath_prepend(str(here_only))
    import only_here_module

    location = tmp_path / "swarm"
    with child_processes.started(["-m", "pythagoras", "worker", str(location), "--max-workers", "1"],
                                 log=tmp_path / "worker.log"):
        with PythagorasExecutor(location, max_workers=0) as client:
            future = client.submit(only_here_module.plus_one, 1)
            with pytest.raises(ModuleNotFoundError, match="only_here_module") as raised:
                future.result(timeout=60)
    remote = str(raised.value.__cause__)
    assert "cannot be loaded on peer" in remote and "install what it needs there" in remote
