"""The exceptions of pythagoras: one base, each also the builtin it resembles."""

from __future__ import annotations

import concurrent.futures
import errno
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = [
    "CallTimeout",
    "CorruptRecord",
    "ForeignCode",
    "IdentityError",
    "PeersDied",
    "PurityError",
    "PurityWarning",
    "PythagorasError",
    "ReadOnlyLocation",
    "RemoteError",
    "StoreError",
    "UnhashableArgument",
    "writing_to",
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


class ReadOnlyLocation(PythagorasError, PermissionError):
    """This process may read the swarm's location but not write it: stored calls are answered,
    a call that is not stored cannot be sent or stored. Get write permission on the location
    (join its group, ``docs/trust.md``), or call from a process that has it.

    ``errno`` is the refusal's (EACCES, EPERM, or EROFS for a read-only file system)."""

    #: The errnos of a refused write.
    REFUSALS = frozenset({errno.EACCES, errno.EPERM, errno.EROFS})

    def __init__(self, code: int, message: str) -> None:
        super().__init__(code, message)

    def __str__(self) -> str:
        return str(self.strerror)

    @classmethod
    def of(cls, location: str, error: BaseException) -> ReadOnlyLocation | None:
        """The error to raise for ``error``, a write to ``location`` refused; None where
        ``error`` is no refusal (a full disk, a network error)."""
        if isinstance(error, ReadOnlyLocation):
            return error
        code = getattr(error, "errno", None)
        if not isinstance(error, OSError) or code not in cls.REFUSALS:
            return None
        return cls(code, f"cannot write to the swarm's location {location!r} "
                         f"({os.strerror(code)}): this process may read it, and gets the calls "
                         "stored there, but cannot send or store a call that is not. Get write "
                         "permission on it, or call from a process that has it")


@contextmanager
def writing_to(location: str) -> Iterator[None]:
    """Around a write to the swarm's ``location`` on a caller's behalf: a refused write (a
    permission, a read-only file system) raises :class:`ReadOnlyLocation`; other errors pass."""
    try:
        yield
    except OSError as error:
        refused = ReadOnlyLocation.of(location, error)
        if refused is None or refused is error:
            raise
        raise refused from error


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
