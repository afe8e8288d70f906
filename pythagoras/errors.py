"""The exceptions of pythagoras: one base, each also the builtin it resembles."""

from __future__ import annotations

import concurrent.futures
import sys

__all__ = [
    "CallTimeout",
    "CorruptRecord",
    "ForeignCode",
    "IdentityError",
    "PeersDied",
    "PurityError",
    "PurityWarning",
    "PythagorasError",
    "RemoteError",
    "StoreError",
    "UnhashableArgument",
]


class PythagorasError(Exception):
    """Base of every error pythagoras raises on purpose."""


class PurityError(PythagorasError, TypeError):
    """A pure function was called or declared in a way pythagoras cannot memoize."""


class IdentityError(PythagorasError, TypeError):
    """A function's identity cannot be taken (no source, a lambda, an unknown kind of callable)."""


class UnhashableArgument(PythagorasError, TypeError):
    """An argument has no deterministic content hash (it cannot be pickled or reduced)."""


class StoreError(PythagorasError, OSError):
    """The store at a location cannot be opened or used."""


class CorruptRecord(PythagorasError, ValueError):
    """Bytes read from the store are not a complete, intact record."""


class RemoteError(PythagorasError, RuntimeError):
    """An exception raised on another peer that cannot be rebuilt here (unpicklable type)."""


class PeersDied(PythagorasError, RuntimeError):
    """A call failed because the peers running it kept dying (a crash, the OOM killer)."""


class ArgumentTooLarge(PythagorasError, ValueError):
    """An argument is larger, pickled, than the swarm's limit (``$PYTHAGORAS_MAX_ARGUMENT_BYTES``)."""


if sys.version_info >= (3, 11):
    _Timeout = TimeoutError  # concurrent.futures.TimeoutError is this very class since 3.11
else:
    class _Timeout(TimeoutError, concurrent.futures.TimeoutError):
        """The builtin TimeoutError that is concurrent.futures' too (a class apart on 3.10)."""


class CallTimeout(PythagorasError, _Timeout):
    """A wait for calls to finish reached its timeout; the calls go on in the swarm.

    Wait again with a longer timeout (or none), or add peers (``pythagoras worker LOCATION``).
    It is the builtin ``TimeoutError`` and ``concurrent.futures.TimeoutError`` on every
    supported Python (on 3.10 they are two classes), so either ``except`` clause catches it.
    """


class PurityWarning(UserWarning):
    """A pure function does something that defeats its memoization (it changes what it reads)."""


class ForeignCode(PythagorasError, LookupError):
    """A call's code was sent by another Python version as bytecode only: a peer of that
    version runs it (``python`` names it); define the function with ``def`` in a file or a
    notebook cell, so that it travels as source to every peer."""

    def __init__(self, message: str, python: str) -> None:
        super().__init__(message, python)
        self.python = python

    def __str__(self) -> str:
        return str(self.args[0])


class UnloadableResult(PythagorasError, LookupError):
    """A call's result is stored but its value cannot be loaded here (its class was pickled by
    another Python version, or by reference to a module missing here). The record is kept for
    the peers that load it; load the value there, or return plain data (numbers, strings,
    containers, numpy arrays), which every Python loads."""
