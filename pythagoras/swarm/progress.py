"""Progress bars (tqdm): in a terminal a text bar on stderr, in Jupyter a widget where
ipywidgets is installed (else the text bar).

Three places show one: ``sync_parallel(progress=...)`` (a bar per call of it, updated in the
waiting thread), ``PythagorasExecutor(progress=True)`` (one bar for the executor's life, fed by
the call events of :mod:`pythagoras.swarm.events`) and the joblib backend's ``progress=True`` (a bar
per ``Parallel`` call). ``progress=None`` means: show a bar where someone watches, in a
terminal or a notebook, and not in a script whose stderr goes to a file or a pipe.
"""

from __future__ import annotations

import sys
import threading
import warnings
from typing import Any

from ..storage.hookspecs import hookimpl
from .events import CallEvent

__all__ = ["CallBar", "ExecutorProgress", "wanted"]


def in_notebook() -> bool:
    """True inside a Jupyter kernel (IPython's ZMQ shell)."""
    shell = sys.modules.get("IPython")
    if shell is None or "ipykernel" not in sys.modules:
        return False
    try:
        ipython = shell.get_ipython()
    except Exception:
        return False
    return ipython is not None and type(ipython).__name__ == "ZMQInteractiveShell"


def wanted(progress: bool | None) -> bool:
    """Whether to show a bar: as told, or for None where someone watches."""
    if progress is not None:
        return bool(progress)
    if in_notebook():
        return True
    isatty = getattr(sys.stderr, "isatty", None)
    return bool(isatty and isatty())


def _tqdm_class() -> Any:
    if in_notebook():
        try:
            import ipywidgets  # type: ignore[import-untyped,import-not-found,unused-ignore]  # noqa: F401  -- the notebook bar's widget
            from tqdm.notebook import tqdm as notebook_tqdm  # type: ignore[import-untyped,unused-ignore]

            return notebook_tqdm
        except ImportError:
            pass
    from tqdm import tqdm  # type: ignore[import-untyped,unused-ignore]

    return tqdm


class CallBar:
    """A bar of calls: ``done`` of ``total``, with how many were hits and how many failed.

    Thread-safe: calls settle in the swarm's threads.
    """

    def __init__(self, description: str, total: int | None = None, *, unit: str = "call") -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # tqdm's notice that its notebook bar is new
            self._bar = _tqdm_class()(total=total, desc=description, unit=unit, dynamic_ncols=True,
                                      leave=True)
        self._lock = threading.Lock()
        self._hits = 0
        self._failed = 0
        self._closed = False

    @property
    def n(self) -> int:
        return int(self._bar.n)

    @property
    def total(self) -> int:
        return int(self._bar.total or 0)

    def add(self, count: int = 1) -> None:
        """``count`` more calls to wait for."""
        with self._lock:
            if not self._closed:
                self._bar.total = (self._bar.total or 0) + count
                self._bar.update(0)  # redrawn at most every tenth of a second

    def done(self, count: int = 1, *, hit: bool = False, failed: bool = False) -> None:
        """``count`` calls settled."""
        with self._lock:
            if self._closed:
                return
            self._hits += count if hit else 0
            self._failed += count if failed else 0
            postfix = {}
            if self._hits:
                postfix["hits"] = self._hits
            if self._failed:
                postfix["failed"] = self._failed
            if postfix:
                self._bar.set_postfix(postfix, refresh=False)
            self._bar.update(count)

    def close(self) -> None:
        with self._lock:
            if not self._closed:
                self._closed = True
                self._bar.close()


class ExecutorProgress:
    """A bar for one executor's life: every call its peer submits is counted when submitted and
    again when its future settles (the submitter's events of that peer, nothing else)."""

    def __init__(self, peer: str, description: str) -> None:
        self.peer = peer
        self.bar = CallBar(description)

    def _ours(self, event: CallEvent) -> bool:
        return event.peer == self.peer and event.side == "submitter"

    @hookimpl
    def pythagoras_call_submitted(self, event: CallEvent) -> None:
        if self._ours(event):
            self.bar.add()

    @hookimpl
    def pythagoras_call_finished(self, event: CallEvent) -> None:
        if self._ours(event):
            self.bar.done(hit=event.cached)

    @hookimpl
    def pythagoras_call_failed(self, event: CallEvent) -> None:
        if self._ours(event):
            self.bar.done(hit=event.cached, failed=True)

    def close(self) -> None:
        self.bar.close()
