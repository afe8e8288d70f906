"""Names no other process will make: a random tag per process, then a counter.

Temp names, claim nonces and the addresses of unique calls are made many times per call;
drawing each from the OS's random source costs a system call every time, which the calls'
other threads make slow by holding the GIL. Forked children draw a tag of their own.
"""

from __future__ import annotations

import itertools
import os
import secrets

__all__ = ["unique_hex"]

_tag = secrets.token_hex(8)
_pid = os.getpid()
_counter = itertools.count()


def _refresh_after_fork() -> None:
    global _tag, _pid, _counter
    _tag, _pid, _counter = secrets.token_hex(8), os.getpid(), itertools.count()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_refresh_after_fork)


def unique_hex(digits: int = 32) -> str:
    """At least ``digits`` hex digits (more than 16) unique among every process: the process's
    tag, then its counter (longer only after 16 ** (digits - 16) names, never for 32)."""
    return f"{_tag}{next(_counter):0{digits - 16}x}"  # next() on a count is atomic under the GIL
