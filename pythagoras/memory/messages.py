"""What a memoized function prints and logs, in joblib's words and at joblib's verbosity levels.

| verbose | on a miss | on a hit |
|---|---|---|
| > 0 | a banner with the call before computing, the duration after | |
| > 1 | | ``[Memory] …: Loading f...`` |
| > 4 | | the time the load took |
| > 10 | a warning naming the argument hash and the location | |
| >= 20 | the query, logged at INFO before the lookup | the query |

Printing goes to stdout, as joblib's does; warnings and the query go to the ``pythagoras`` log.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

__all__ = ["call_banner", "duration_line", "format_time", "function_name", "loading_line", "log", "signature"]

log = logging.getLogger("pythagoras")

_LONGEST_ARGUMENT = 1500  # joblib's: a longer repr is cut to its first 700 characters


def format_time(seconds: float) -> str:
    return f"{seconds:.1f}s, {seconds / 60:.1f}min"


def function_name(func: Callable[..., Any]) -> str:
    """The function's name as a call shows it (``f``, ``Model.fit``)."""
    return str(getattr(func, "__qualname__", None) or getattr(func, "__name__", None) or type(func).__name__)


def _path(func: Callable[..., Any]) -> str:
    module = getattr(func, "__module__", None)
    return f"{module}.{function_name(func)}" if module else function_name(func)


def _argument(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= _LONGEST_ARGUMENT else text[:700] + "..."


def signature(func: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> str:
    """The call as source text: ``f(1, y=2)``."""
    shown = [_argument(a) for a in args] + [f"{k}={_argument(v)}" for k, v in kwargs.items()]
    return f"{function_name(func)}({', '.join(shown)})"


def call_banner(func: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> str:
    """What joblib prints before computing a call."""
    return f"{'_' * 80}\n[Memory] Calling {_path(func)}...\n{signature(func, args, kwargs)}"


def duration_line(func: Callable[..., Any], seconds: float, context: str = "") -> str:
    """What joblib prints after computing (or loading) a call: the duration, ruled to 80 columns."""
    text = f"{function_name(func)} {context}- {format_time(seconds)}"
    return "_" * max(0, 80 - len(text)) + text


def loading_line(func: Callable[..., Any], since: float | None) -> str:
    """What joblib prints when it loads a stored call: ``[Memory]<time since made>: Loading f...``."""
    elapsed = f"{format_time(since):<16}" if since is not None else ""
    return f"[Memory]{elapsed}: Loading {function_name(func)}..."
