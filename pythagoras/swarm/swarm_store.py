"""The swarm protocol's operations on one store: what peers do with its records.

The records are defined in :mod:`pythagoras.swarm.protocol`, their keys in
:mod:`pythagoras.records.keys`; this module implements the transitions between them (submit,
claim, renew, break, settle, announce), as ``docs/protocol.md`` ("The swarm") describes them,
with requests written and read by :mod:`~pythagoras.swarm.requests` and functions by
:mod:`~pythagoras.swarm.function_table`.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence
from typing import Any, Final

from ..identity.address import CallAddress
from ..records.frames import MISSING, dump_value, frame, read_record
from ..records.keys import (
    address_of,
    break_key,
    claim_key,
    failure_key,
    kind_prefix,
    peer_key,
    request_key,
)
from ..records.results import ResultRecords
from ..storage.base import Store
from ..storage.unique import unique_hex
from .function_table import FunctionTable
from .member_claims import MemberClaims
from .protocol import (
    BATCH_FUNCTION,
    CLAIM,
    FAILURE,
    PEER,
    REQUEST,
    Call,
    Claim,
    Failure,
    Member,
    PreparedRequest,
    Request,
    clock_skew,
    is_batch,
    is_fresh,
    lease_holds,
)
from .requests import Requests

__all__ = ["SwarmStore"]

#: A claim that cannot be read (empty, garbled), stale _EMPTY_GRACE s after a peer first saw it
#: so (or a lease) whatever its date, is broken as a claim that never started.
_EMPTY_GRACE: Final = 5.0
_UNREADABLE: Final = Claim(CallAddress(BATCH_FUNCTION, BATCH_FUNCTION), "an unknown peer", nonce="unreadable")


class SwarmStore:
    """The records of the swarm protocol on one store, and the operations peers perform on them."""

    def __init__(self, store: Store, *, lease_timeout: float = 30.0, max_attempts: int = 3) -> None:
        self.store = store
        self.results = ResultRecords(store)
        self.lease_timeout = lease_timeout
        self.max_attempts = max_attempts
        self.skew = 0.0  # how far this machine's clock runs ahead of the store's, in seconds
        self._unreadable: dict[str, float] = {}  # claim key -> when this peer first saw it so
        self.functions = FunctionTable(store)
        self.requests = Requests(store, self.functions)
        self._written: dict[str, float] = {}  # claim nonce -> when this peer last wrote it
        self.members = MemberClaims(lambda address, peer: self.claim(address, peer),
                                    remote=store.remote)

    # -- records ---------------------------------------------------------------------------

    def _read(self, key: str, kind: bytes) -> Any:
        value = read_record(self.store, key, kind)
        return None if value is MISSING else value

    def _write(self, key: str, kind: bytes, value: Any) -> None:
        self.store.write(key, frame(kind, dump_value(value)))

    def _write_claim(self, key: str, claim: Claim, *, create: bool = False) -> bool:
        """Write (or only create) the claim's record; if written, note when (see :meth:`release`)."""
        started = time.monotonic()  # a lease is dated from before its write: never too young
        record = frame(CLAIM, dump_value(claim, plain=True))
        if create:
            if not self.store.create_small(key, record):
                return False
        else:
            self.store.write(key, record)
        self._written[claim.nonce] = started
        return True

    # -- submitting ------------------------------------------------------------------------

    def _publish_function(self, function_id: str, func: Any, payload: bytes) -> None:
        self.functions.publish(function_id, func, payload)  # tests publish directly

    def load_function(self, function_id: str) -> Any:
        """The function of a request; raises if it cannot be loaded here (a missing module)."""
        return self.functions.load(function_id)

    def submit(self, address: CallAddress, func: Any, name: str, args: tuple[Any, ...],
               kwargs: dict[str, Any], submitter: str) -> str:
        """Publish a request for the call; equal calls from several peers share one request."""
        return self.publish(self.prepare([Call(address, func, name, args, kwargs)], submitter))

    def prepare(self, calls: Sequence[Call], submitter: str) -> PreparedRequest:
        """Serialize a request for one call, or a batch request for several, writing nothing."""
        return self.requests.prepare(calls, submitter)

    def publish(self, prepared: PreparedRequest) -> str:
        """Write a prepared request (its functions and large arguments first); its key."""
        return self.requests.publish(prepared)

    def load_request(self, key: str) -> Request | None:
        """The request under ``key``, with its large arguments loaded."""
        return self.requests.load(key)

    def pending_calls(self, request: Request,
                      unloadable: list[tuple[Member, BaseException]] | None = None) -> list[Call]:
        """The calls of a request that have neither a result nor a failure yet, with their
        functions loaded (LookupError if one has not arrived in the store). A function that
        cannot be loaded here raises, or, given ``unloadable``, puts its member there."""
        pending = []
        for member in request.calls():
            if self.finished(member.address):
                continue  # run already: by this batch's last holder, as a call of its own, or
                # by a peer that let its claim go between the picker's look and its claim
            try:
                func = self.load_function(member.address.function)
            except LookupError:
                raise
            except Exception as error:
                if unloadable is None:
                    raise
                unloadable.append((member, error))
                continue
            pending.append(Call(member.address, func, member.name, member.args, member.kwargs))
        return pending

    # -- picking and claiming --------------------------------------------------------------

    def candidates(self) -> list[str]:
        """Request keys to try, shuffled (:meth:`Requests.candidates`): O(1) store operations."""
        return self.requests.candidates()

    @staticmethod
    def address_of(request_key: str) -> CallAddress | None:
        """The address a request key names; None for a name pythagoras did not write."""
        return address_of(request_key)

    @staticmethod
    def request_key(address: CallAddress) -> str:
        """The key of the request for the call (or batch) at ``address``."""
        return request_key(address)

    def claim(self, address: CallAddress, peer: str, *, started: bool = False) -> Claim | None:
        """Take the call's lease, breaking a stale one; None if another peer holds it.
        ``started``: the caller runs the call at once, in its own thread."""
        key = claim_key(address)
        claim = Claim(address, peer, started=started)
        if self._write_claim(key, claim, create=True):
            return claim
        stale = self._stale_claim(key)
        if stale is None:
            return None
        nonce = stale.nonce if stale is not _UNREADABLE else "unreadable"
        marker = self._break_marker(address, nonce, peer)
        if marker is None:
            return None  # another peer broke this lease first
        current: Claim | None = self._read(key, CLAIM)
        if current is not None and current.nonce != nonce:
            return None  # renewed or re-claimed meanwhile
        # Only a run that started is charged: a holder that died before its worker began the
        # call (a cold pool, a kill between claim and run, an empty claim) cost nothing.
        attempt = stale.attempt + 1 if stale.started else stale.attempt
        if attempt > self.max_attempts:
            self._give_up(address, Failure(
                "peers_died", "PeersDied",
                f"the peers running {self._name_of(address)} died {attempt - 1} times while "
                f"running it (last: {stale.peer}); it may crash its interpreter or exhaust "
                "memory. Clear the failure to try again", "", stale.peer, attempt - 1))
            self.store.discard(key)
            self.store.discard(marker)
            if stale.broke is not None:
                self.store.discard(stale.broke)  # the dead breaker's own marker
            return None
        # Replace the stale claim in one atomic write: were it deleted first, another peer could
        # create a fresh claim in the gap and the count of attempts would start again.
        claim = Claim(address, peer, attempt, broke=marker, started=started)
        self._write_claim(key, claim)
        if stale.broke is not None:
            self.store.discard(stale.broke)  # a breaker that died too: its marker is spent
        return claim

    def _fresh(self, age: float | None) -> bool:
        """The lease rule (:func:`pythagoras.swarm.protocol.is_fresh`) by this peer's skew."""
        return is_fresh(age, self.lease_timeout, self.skew)

    def _stale_claim(self, key: str) -> Claim | None:
        """The claim under ``key`` if it may be broken (its lease lapsed, or its holder is a
        process of this machine that is gone), :data:`_UNREADABLE` for a stale claim that
        cannot be read (an empty one); None while it holds, or if it is gone."""
        age = self.store.age(key)
        if age is None:
            return None
        stale: Claim | None = self._read(key, CLAIM)
        if stale is None:  # touching an empty claim must not hold its call for ever
            now = time.monotonic()
            if now - self._unreadable.setdefault(key, now) >= min(_EMPTY_GRACE, self.lease_timeout):
                return _UNREADABLE
        holder = None if stale is None else stale.peer
        if lease_holds(age, holder, self.lease_timeout, self.skew):
            return None
        return _UNREADABLE if stale is None else stale

    def _break_marker(self, address: CallAddress, nonce: str, peer: str) -> str | None:
        """Create the marker that makes this peer the one to break the stale claim with
        ``nonce``; None if another peer holds it. A marker whose breaker died before replacing
        the claim (it is older than a lease) is passed over: the next generation is tried."""
        for generation in range(8):
            marker = break_key(address, nonce, generation)
            # Its bytes are unique to this breaker, so that a create retried on a store where
            # the first attempt landed unseen knows the marker for its own (FsspecStore._holds).
            if self.store.create(marker, f"{peer} {unique_hex()}".encode()):
                if generation:
                    self.store.discard(break_key(address, nonce, generation - 1))
                return marker
            age = self.store.age(marker)
            if age is None or self._fresh(age):
                return None
        return None

    def _name_of(self, address: CallAddress) -> str:
        """The name of the call (or batch) at ``address``, from its request where one is left."""
        try:
            request: Request | None = self._read(request_key(address), REQUEST)
        except Exception:  # its arguments cannot be loaded here: the name is not worth a failure
            request = None
        return request.name if request is not None else "this call"

    def _give_up(self, address: CallAddress, failure: Failure) -> None:
        """Fail the call, or every unfinished call of the batch, whose peers kept dying."""
        if not is_batch(address):
            self.fail(address, None, failure)
            return
        request: Request | None = self._read(request_key(address), REQUEST)
        for member in request.members if request is not None else ():
            if not self.finished(member.address):
                self._write_failure(member.address, failure)
        self._retire(address, None)

    def started_record(self, claim: Claim) -> tuple[str, bytes]:
        """The key and record of ``claim`` marked started, for its worker to write as it
        starts the run (:func:`pythagoras.swarm.worker.run_packed`)."""
        marked = dataclasses.replace(claim, started=True)
        return claim_key(claim.address), frame(CLAIM, dump_value(marked, plain=True))

    def renew(self, claim: Claim) -> bool:
        """Refresh the lease's age, and its members' (a batch's); False if the claim is no
        longer ours (it was broken). A member claim lost is a duplicate run at worst."""
        for member in self.members.of(claim):
            self._renew(member)
        return self._renew(claim)

    def _renew(self, claim: Claim) -> bool:
        key = claim_key(claim.address)
        current: Claim | None = self._read(key, CLAIM)
        if current is None or current.nonce != claim.nonce:
            return False
        age = self.store.age(key)
        if age is not None and not self._fresh(age):
            return False  # stale: another peer may be taking it over; do not fight for it
        self._write_claim(key, claim)
        return True

    def record_attempt(self, claim: Claim) -> bool:
        """Count one more attempt on a claim we hold; False once attempts are used up."""
        claim.attempt += 1
        if claim.attempt > self.max_attempts:
            return False
        self.renew(claim)
        return True

    def claimed(self, address: CallAddress) -> bool:
        """True while another peer holds a fresh lease on the call."""
        return self._fresh(self.store.age(claim_key(address)))

    def release(self, claim: Claim) -> None:
        """Give the call back to the swarm (this peer cannot run it, or has settled it).

        The claim is read first, lest another peer's be deleted, unless this peer wrote it
        less than half a lease ago: nobody breaks a lease that young (a peer whose clock
        estimate is off by half a lease could, and the cost would be a duplicate run). A
        batch's member claims go with it."""
        for member in self.members.drop(claim):
            self.release(member)
        key = claim_key(claim.address)
        written = self._written.pop(claim.nonce, None)
        if written is not None and time.monotonic() - written < self.lease_timeout / 2:
            self.store.discard(key)
            return
        current: Claim | None = self._read(key, CLAIM)
        if current is not None and current.nonce == claim.nonce:
            self.store.discard(key)

    # -- finishing -------------------------------------------------------------------------

    def finish(self, claim: Claim | None, address: CallAddress, value: Any) -> None:
        """Publish the result, then retire the request and the claim."""
        self.results.publish(address, value)
        self._retire(address, claim)

    def fail(self, address: CallAddress, claim: Claim | None, failure: Failure) -> None:
        """Publish a terminal failure, then retire the request and the claim."""
        self._write_failure(address, failure)
        self._retire(address, claim)

    def settle(self, claim: Claim, outcomes: Sequence[tuple[CallAddress, Any, Failure | None]]) -> None:
        """Publish each call's result (or failure), then retire the request and the claim."""
        for address, value, failure in outcomes:
            if failure is None:
                self.results.publish(address, value)
            else:
                self._write_failure(address, failure)
        self._retire(claim.address, claim)

    def _write_failure(self, address: CallAddress, failure: Failure) -> None:
        try:
            data = dump_value(failure)
        except Exception:  # an exception that cannot be pickled travels as type and message
            failure.exception = None
            data = dump_value(failure)
        record = frame(FAILURE, data)
        if not self.store.create(failure_key(address), record):
            self.store.write(failure_key(address), record)  # a later failure replaces the last

    def _retire(self, address: CallAddress, claim: Claim | None) -> None:
        if claim is None or not self.members.left_out(claim):  # else others run members of it
            self.store.discard(request_key(address))
        if claim is not None:
            self.release(claim)
            if claim.broke is not None:
                self.store.discard(claim.broke)

    def finished(self, address: CallAddress) -> bool:
        """True if the call has an intact result or failure record (its frame checked, its
        value not loaded): a truncated or garbled one does not count, so the call runs again
        and its record is replaced."""
        return (self.results.contains(address)
                or read_record(self.store, failure_key(address), FAILURE, load=False) is not MISSING)

    def lookup(self, address: CallAddress) -> Any:
        """The stored value of the call, or MISSING (:meth:`ResultRecords.lookup`: raises
        UnloadableResult for a value that cannot be loaded here)."""
        return self.results.lookup(address)

    def failure(self, address: CallAddress) -> Failure | None:
        found: Failure | None = self._read(failure_key(address), FAILURE)
        return found

    def clear_failure(self, address: CallAddress) -> bool:
        return self.store.delete(failure_key(address))

    # -- peers -----------------------------------------------------------------------------

    def announce(self, peer: str, info: dict[str, Any]) -> None:
        """Write this peer's record and measure the clock skew against the store by it."""
        key = peer_key(peer)
        seen = time.time()
        self._write(key, PEER, {**info, "seen": seen})
        age = self.store.age(key)
        if age is not None:  # dated as read at once: the write's own time counts as skew
            self.skew = clock_skew(age, seen, seen)

    def live_peers(self) -> dict[str, dict[str, Any]]:
        """The records of the peers whose heartbeat is fresh (within ``lease_timeout``)."""
        peers = {}
        for key in self.store.list(kind_prefix("peers")):
            if not self._fresh(self.store.age(key)):
                continue
            info = self._read(key, PEER)
            if isinstance(info, dict):
                peers[key.rpartition("/")[2]] = info
        return peers

    def unrunnable(self, function_id: str) -> str | None:
        """Why no live peer can run calls of the function now, or None if one can."""
        return self.functions.unrunnable(function_id, self.live_peers().values())

    def retire_peer(self, peer: str) -> None:
        self.store.discard(peer_key(peer))
