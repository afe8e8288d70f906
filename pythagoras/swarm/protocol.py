"""Layer 4: the swarm protocol over one store (``docs/protocol.md``, "The swarm").

    submitting peer                  store                                 executing peer
    ---------------                  -----                                 --------------
    publish_function --F--> functions/<fid>                 (once per function)
    submit           --V--> values/<aa>/<hash>              (each argument over 64 KiB, once)
                     --Q--> requests/<a>/<fid>.<args> --list one bucket--> candidates()
                                                     <--create C------- claim()
                            claims/<fid>.<args>      <--write C-------- renew(), every lease/3
                                                                          | run on the local pool
    lookup()  <--read R---- results/<fid>/<aa>/<args> <--create R------ settle()
    failure() <--read E---- failures/<fid>/<aa>/<args><--create E------ settle()
                                                     <--delete Q, C---- settle()

    A batch request (a chunk of executor.map, a joblib batch) carries several calls under one
    key, one claim and one lease; each of its calls is still published under its own address.

    A claim older than lease_timeout (by the store's clock) is stale. Peers that see it race to
    create breaks/<fid>.<args>.<nonce>; the one that creates it deletes the stale claim and
    claims the call with attempt + 1. Past max_attempts the call fails with PeersDied.

Every record is a frame (:mod:`pythagoras.records.frames`). Claims only save duplicate work: results
are write-once and content-addressed, so a call run twice is harmless.

The records are defined here; the transitions above are implemented by SwarmStore in swarm_store.py.
"""

from __future__ import annotations

import os
import secrets
import socket
import sys
import traceback
from collections.abc import Sequence
from concurrent import futures
from dataclasses import dataclass, field
from typing import Any, Final

from ..errors import PeersDied, RemoteError, StoreError
from ..identity.address import CallAddress
from ..records.frames import dump_value
from ..records.keys import BATCH_FUNCTION, failure_key
from ..storage.unique import unique_hex
from .worker import context_of, process_is_gone

__all__ = [
    "BATCH_FUNCTION",
    "Call",
    "Claim",
    "Failure",
    "RemoteTraceback",
    "PreparedRequest",
    "Request",
    "ValueRef",
    "clock_skew",
    "failure_key",
    "is_fresh",
    "lease_holds",
    "new_peer_id",
    "on_this_host",
    "run_call",
    "run_calls",
]

REQUEST: Final = b"Q"
CLAIM: Final = b"C"
FAILURE: Final = b"E"
FUNCTION: Final = b"F"
VALUE: Final = b"V"
PEER: Final = b"P"

LARGE_ARGUMENT: Final = 64 * 1024  # pickled bytes above which an argument is stored on its own


_HOST: Final = "".join(c if c.isalnum() else "_" for c in socket.gethostname())[:40] or "host"


MAX_ARGUMENT_VAR: Final = "PYTHAGORAS_MAX_ARGUMENT_BYTES"
DEFAULT_MAX_ARGUMENT_BYTES: Final = 2**30  # 1 GiB, pickled


def max_argument_bytes() -> int:
    """The largest argument a call may carry, pickled: ``$PYTHAGORAS_MAX_ARGUMENT_BYTES``, else
    1 GiB. Every argument is written to the location and read by the peer that runs it."""
    text = os.environ.get(MAX_ARGUMENT_VAR, "").strip()
    if not text:
        return DEFAULT_MAX_ARGUMENT_BYTES
    try:
        return int(text)
    except ValueError:
        raise ValueError(f"${MAX_ARGUMENT_VAR} must be a number of bytes, not {text!r}") from None


def new_peer_id() -> str:
    return f"{_HOST}-{os.getpid()}-{secrets.token_hex(3)}"


def holder_is_gone(peer: str) -> bool:
    """True if ``peer`` names a process of this machine that no longer exists (POSIX only;
    elsewhere, and for other machines, a lease lapses by its age alone)."""
    parts = peer.rsplit("-", 2)  # host-pid-hex, as new_peer_id makes them
    if os.name != "posix" or len(parts) != 3 or parts[0] != _HOST or not parts[1].isdigit():
        return False
    pid = int(parts[1])
    return pid != os.getpid() and process_is_gone(pid)


def on_this_host(peer: str) -> bool:
    """True if ``peer`` (an id made by :func:`new_peer_id`) runs on this machine."""
    return peer.rsplit("-", 2)[0] == _HOST


# -- the lease rule ----------------------------------------------------------------------------


def is_fresh(age: float | None, lease_timeout: float, skew: float = 0.0) -> bool:
    """The lease rule: a claim, a break marker or a peer's heartbeat holds while its age by
    the store's clock, less how far this machine's clock runs ahead of the store's (``skew``,
    :func:`clock_skew`), is at most ``lease_timeout``. An absent record (None) holds nothing."""
    return age is not None and age - skew <= lease_timeout


def lease_holds(age: float | None, holder: str | None, lease_timeout: float,
                skew: float = 0.0) -> bool:
    """:func:`is_fresh`, unless the ``holder`` is a process of this machine that is gone: a run
    killed and started again need not wait out its own old leases."""
    return is_fresh(age, lease_timeout, skew) and (holder is None or not holder_is_gone(holder))


def clock_skew(store_age: float, written: float, now: float) -> float:
    """How far this machine's clock runs ahead of the store's, from a record this machine
    wrote at ``written`` (by its clock) that the store says is ``store_age`` old at ``now``.

    Never below zero, as a store's ages are not: a clock behind the store's makes leases look
    younger, so it breaks them late, never early (``docs/protocol.md``, "Clocks")."""
    return max(0.0, store_age - (now - written))


@dataclass(frozen=True)
class ValueRef:
    """An argument stored once under ``values/``, referenced by every request that uses it."""

    key: str


@dataclass
class Member:
    """One call of a batch request, as stored."""

    address: CallAddress
    name: str
    args: tuple[Any, ...]  # values, or ValueRef for large ones
    kwargs: dict[str, Any]  # likewise


@dataclass
class Request:
    address: CallAddress  # a call's; for a batch, (BATCH_FUNCTION, hash of its calls' addresses)
    name: str
    args: tuple[Any, ...]  # values, or ValueRef for large ones
    kwargs: dict[str, Any]  # likewise
    submitter: str
    members: tuple[Member, ...] = ()  # a batch's calls

    def calls(self) -> tuple[Member, ...]:
        """The calls to run: a batch's members, or the one call."""
        return self.members or (Member(self.address, self.name, self.args, self.kwargs),)


@dataclass
class Call:
    """A call as this process holds it: the function and arguments themselves."""

    address: CallAddress
    func: Any
    name: str
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    unique: bool = False  # a random address: run once, never looked up, records removed after


@dataclass
class PreparedRequest:
    """A request serialized and checked, not yet written."""

    address: CallAddress  # the request's: its call's, or its batch's
    calls: list[Call]
    functions: dict[str, tuple[Any, bytes]]  # records of functions not yet published, by id
    values: dict[str, bytes]  # value records of large arguments, by key
    request: bytes


def is_batch(address: CallAddress) -> bool:
    return address.function == BATCH_FUNCTION


@dataclass
class Claim:
    address: CallAddress
    peer: str
    attempt: int = 1
    nonce: str = field(default_factory=lambda: unique_hex(24))
    broke: str | None = None  # the break marker this claim was taken with
    # Whether the run has started (its worker began it, or the caller computes it): breaking
    # a stale claim charges an attempt only then, not for a holder that died before.
    started: bool = False


@dataclass
class Failure:
    """A call's failure: the function raised (``raised``), its peers kept dying
    (``peers_died``), or its outcome could not be stored (``store_failed``).

    The first two are terminal: a caller gets them again until the failure is cleared. A
    ``store_failed`` tells the callers waiting at the time (a full disk, a folder that turned
    read-only), and a later submission of the call runs it again (:attr:`transient`).
    """

    kind: str  # "raised", "transient", "peers_died" or "store_failed"
    type_name: str
    message: str
    traceback: str
    peer: str
    attempts: int
    exception: BaseException | None = None

    def to_exception(self) -> BaseException:
        """The exception to raise at a caller: its own type, the remote traceback as cause."""
        if self.kind == "peers_died":
            return PeersDied(self.message)
        if self.kind == "store_failed":
            code = getattr(self.exception, "errno", None)
            return StoreError(code, self.message) if code is not None else StoreError(self.message)
        error = self.exception
        if error is None:
            error = RemoteError(f"{self.type_name}: {self.message}")
        error = _as_local_class(error)
        error.__cause__ = RemoteTraceback(self.traceback, self.peer)
        return error

    @classmethod
    def raised(cls, error: BaseException, text: str, peer: str, attempts: int) -> Failure:
        """The call raised ``error``. Final, unless it is the swarm's own state that the call
        met (a call it waited on timed out or kept killing its workers, a store refused a
        write): then it is ``transient``, told to the callers waiting now, and a later
        submission runs the call again."""
        kind = "transient" if isinstance(error, _SWARM_STATE) else "raised"
        return cls(kind, f"{type(error).__module__}.{type(error).__qualname__}", str(error),
                   text, peer, attempts, error)

    @classmethod
    def store_failed(cls, name: str, location: str, error: BaseException, peer: str,
                     attempts: int) -> Failure:
        """``name`` ran on ``peer``, but the store at ``location`` refused its outcome."""
        code = getattr(error, "errno", None)
        reason = os.strerror(code) if code is not None else str(error)
        message = (f"{name} ran on peer {peer}, but its outcome could not be stored at "
                   f"{location!r}: {reason}. Free space on the store or let this process write "
                   f"to it, then submit the call again")
        return cls("store_failed", f"{type(error).__module__}.{type(error).__qualname__}",
                   message, "", peer, attempts, OSError(code, reason) if code is not None else None)

    @property
    def transient(self) -> bool:
        """True for a failure that a later submission of the call does not get again."""
        return self.kind in ("store_failed", "transient")


#: Exceptions that tell the state of the swarm a call met, not what the call computes.
_SWARM_STATE: tuple[type[BaseException], ...] = (PeersDied, StoreError, TimeoutError,
                                                 futures.TimeoutError, futures.CancelledError)


def _as_local_class(error: BaseException) -> BaseException:
    """The error as an instance of this process's own class, where its class is a script's.

    cloudpickle carries classes of ``__main__`` by value, so a failure read back from the store
    holds a copy of the script's exception class, which ``except Boom:`` would not catch. The
    copy is matched to the running script's class of the same qualified name.
    """
    cls = type(error)
    if cls.__module__ != "__main__":
        return error
    local: Any = sys.modules.get("__main__")
    for part in cls.__qualname__.split("."):
        local = getattr(local, part, None)
    if local is cls or not (isinstance(local, type) and issubclass(local, BaseException)):
        return error
    try:
        rebuilt = local.__new__(local, *error.args)
        rebuilt.args = error.args
        rebuilt.__dict__.update(error.__dict__)
    except Exception:
        return error
    return rebuilt


class RemoteTraceback(Exception):
    """The traceback of an exception raised on another peer, attached as ``__cause__``."""

    def __init__(self, text: str, peer: str) -> None:
        super().__init__(text, peer)
        self.text, self.peer = text, peer

    def __str__(self) -> str:
        return f"\n\nraised on peer {self.peer}:\n\"\"\"\n{self.text}\"\"\""


def run_calls(calls: Sequence[tuple[Any, tuple[Any, ...], dict[str, Any]]]) -> list[tuple[bool, Any, str]]:
    """Run the calls of a request in a worker process, each to its own outcome."""
    return [run_call(func, args, kwargs) for func, args, kwargs in calls]


def run_call(func: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[bool, Any, str]:
    """Run one call in a worker process: (True, value, "") or (False, exception, traceback)."""
    context = context_of(args)
    try:
        if context is None:
            return True, func(*args, **kwargs), ""
        with context:
            return True, func(*args[1:], **kwargs), ""
    except BaseException as error:  # noqa: BLE001 -- every failure must reach the swarm
        text = traceback.format_exc()
        try:
            dump_value(error)
        except Exception:
            error = RemoteError(f"{type(error).__qualname__}: {error}")
        return False, error, text

