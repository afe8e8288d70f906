"""A submit that fails half-way (the store, or anything under it, raises) leaves nothing to
wait for: the futures it made are cancelled, so ``shutdown(wait=True)`` returns."""

from __future__ import annotations

import threading
from concurrent.futures import BrokenExecutor
from pathlib import Path
from typing import Any

import pytest

from pythagoras import PythagorasExecutor

TIMEOUT = 60.0


def square(x: int) -> int:
    return x * x


@pytest.mark.parametrize("error, raised", [(RuntimeError("a backend's own error"), RuntimeError),
                                           (OSError("connection reset"), BrokenExecutor)])
def test_a_submit_that_fails_leaves_nothing_for_shutdown_to_wait_for(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, error: Exception, raised: type[Exception]
) -> None:
    ex = PythagorasExecutor(str(tmp_path / "swarm"), max_workers=1)
    assert ex.submit(square, 2).result(timeout=TIMEOUT) == 4

    def fails(*args: Any, **kwargs: Any) -> None:
        raise error

    monkeypatch.setattr(ex._peer, "submit", fails)  # after its futures are made and counted
    with pytest.raises(raised):
        ex.submit(square, 3)
    monkeypatch.undo()
    closer = threading.Thread(target=ex.shutdown, kwargs={"wait": True})
    closer.start()
    closer.join(TIMEOUT)
    assert not closer.is_alive(), "shutdown(wait=True) waits on a future that never settles"
