"""The swarm protocol's operations on one store: what peers do with its records.

The records and their keys are defined in :mod:`pythagoras.swarm.protocol`; this module implements
the transitions between them (submit, claim, renew, break, settle, announce), as
``docs/protocol.md`` ("The swarm") describes them.
"""

from __future__ import annotations

import dataclasses
import random
import re
import time
from collections import Counter
from collections.abc import Sequence
from typing import Any, Final

import xxhash

from ..errors import ArgumentTooLarge, UnhashableArgument, UnloadableResult
from ..identity.address import CallAddress
from ..identity.values import hash_value
from ..records.frames import HEADER_SIZE, MISSING, dump_value, frame, read_record
from ..records.functions import (
    function_portable,
    function_python,
    function_record,
    load_function_record,
)
from ..records.portable import PYTHON
from ..records.results import ResultCache
from ..records.tracebacks import Origins, origins
from ..storage.base import Store
from ..storage.unique import unique_hex
from .protocol import (
    BATCH_FUNCTION,
    CLAIM,
    FAILURE,
    FUNCTION,
    LARGE_ARGUMENT,
    MAX_ARGUMENT_VAR,
    PEER,
    REQUEST,
    VALUE,
    Call,
    Claim,
    Failure,
    Member,
    PreparedRequest,
    Request,
    ValueRef,
    call_keys,
    failure_key,
    holder_is_gone,
    is_batch,
    max_argument_bytes,
)

__all__ = ["Swarm"]

BUCKETS: Final = "0123456789abcdef"
_HEX32 = re.compile("[0-9a-f]{32}")
#: A stale claim that cannot be read (empty, garbled): broken as a claim that never started.
_UNREADABLE: Final = Claim(CallAddress(BATCH_FUNCTION, BATCH_FUNCTION), "an unknown peer",
                           nonce="unreadable")


class Swarm:
    """The records of the swarm protocol on one store, and the operations peers perform on them."""

    def __init__(self, store: Store, *, lease_timeout: float = 30.0, max_attempts: int = 3) -> None:
        self.store = store
        self.results = ResultCache(store)
        self.lease_timeout = lease_timeout
        self.max_attempts = max_attempts
        self.skew = 0.0  # how far this machine's clock runs ahead of the store's, in seconds
        self._functions: dict[str, Any] = {}
        self._published: set[str] = set()
        self._values: dict[str, Any] = {}
        self._origins: dict[str, Origins] = {}  # by function id
        self._written: dict[str, float] = {}  # claim nonce -> when this peer last wrote it

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
        """Store the function by value (cloudpickle), with the origins of its code (so that a
        traceback on another peer names its files and lines), once per function and process."""
        key = f"functions/{function_id}"
        record = frame(FUNCTION, payload)
        # Kept if it is there and intact; a truncated or garbled one (a sync service, a crash)
        # is replaced, or no peer could ever run the function's calls.
        if not self.store.create(key, record) and \
                read_record(self.store, key, FUNCTION, load=False) is MISSING:
            self.store.write(key, record)
        self._published.add(function_id)
        self._functions.setdefault(function_id, func)

    def load_function(self, function_id: str) -> Any:
        """The function of a request; raises if it cannot be loaded here (a missing module)."""
        func = self._functions.get(function_id)
        if func is None:
            record = self._read(f"functions/{function_id}", FUNCTION)
            if record is None:
                raise LookupError(f"function {function_id} is not in the store")
            func, origins = load_function_record(record)
            if origins is not None:
                self._origins[function_id] = origins
            self._functions[function_id] = func
        return func

    def python_of(self, function_id: str) -> str | None:
        """The Python version that sent the function (None: unknown, or a record of before)."""
        return function_python(self._read(f"functions/{function_id}", FUNCTION))

    def origins(self, calls: Sequence[Call]) -> Origins | None:
        """Where the code of the calls' functions came from, for their tracebacks: from the
        function itself where this process has its source, else from its function record."""
        tables = []
        for function_id, func in {call.address.function: call.func for call in calls}.items():
            table = self._origins.get(function_id)
            if table is None:
                table = self._origins[function_id] = origins(func)
            tables.append(table)
        return tables[0].merge(*tables[1:]) if tables else None

    def submit(self, address: CallAddress, func: Any, name: str, args: tuple[Any, ...],
               kwargs: dict[str, Any], submitter: str) -> str:
        """Publish a request for the call; equal calls from several peers share one request."""
        return self.publish(self.prepare([Call(address, func, name, args, kwargs)], submitter))

    def prepare(self, calls: Sequence[Call], submitter: str) -> PreparedRequest:
        """Serialize a request for one call, or a batch request for several, writing nothing.

        A function or an argument that cannot be pickled raises :class:`UnhashableArgument`
        (a TypeError) here. Equal batches (the same calls in the same order) share one key.
        """
        values: dict[str, bytes] = {}
        functions: dict[str, tuple[Any, bytes]] = {}
        members: list[Member] = []
        call = calls[0]
        limit = max_argument_bytes()
        try:
            for call in calls:
                fid = call.address.function
                if fid not in self._published and fid not in functions:
                    functions[fid] = (call.func, function_record(call.func))
                members.append(Member(
                    call.address, call.name,
                    tuple(self._reference_if_large(v, values, limit) for v in call.args),
                    {k: self._reference_if_large(v, values, limit) for k, v in call.kwargs.items()}))
            if len(members) == 1:
                one = members[0]
                request = Request(one.address, one.name, one.args, one.kwargs, submitter)
            else:
                digest = xxhash.xxh3_128_hexdigest(
                    "".join(m.address.function + m.address.arguments for m in members).encode())
                request = Request(CallAddress(BATCH_FUNCTION, digest), f"a batch of {len(members)}",
                                  (), {}, submitter, tuple(members))
            payload = dump_value(request)
        except ArgumentTooLarge:
            raise
        except Exception as e:
            raise UnhashableArgument(
                f"the call of {call.name} cannot be sent to the swarm: {e}. Functions and arguments "
                "must be picklable (cloudpickle): pass plain data, not locks, files or generators"
            ) from e
        return PreparedRequest(request.address, list(calls), functions, values, payload)

    def publish(self, prepared: PreparedRequest) -> str:
        """Write a prepared request (its functions and large arguments first); its key."""
        for function_id, (func, payload) in prepared.functions.items():
            self._publish_function(function_id, func, payload)
        for key, payload in prepared.values.items():
            # Content-addressed: a record of the right size is this value; one of another size
            # (absent, truncated) is written again. Checked by size: values are large to read.
            if self.store.size(key) != HEADER_SIZE + len(payload):
                self.store.write(key, frame(VALUE, payload))
        key = call_keys(prepared.address)[0]
        record = frame(REQUEST, prepared.request)
        # An equal request may be pending already; one that cannot be read is replaced.
        if not self.store.create(key, record) and read_record(self.store, key, REQUEST, load=False) is MISSING:
            self.store.write(key, record)
        return key

    @staticmethod
    def _reference_if_large(value: Any, values: dict[str, bytes], limit: int) -> Any:
        payload = dump_value(value)
        if len(payload) > limit:
            raise ArgumentTooLarge(
                f"an argument of {type(value).__name__} is {len(payload):,} bytes pickled, over the "
                f"swarm's limit of {limit:,}: pass a path or a URL the function reads instead, or "
                f"raise the limit with ${MAX_ARGUMENT_VAR}")
        if len(payload) <= LARGE_ARGUMENT:
            return value
        digest = hash_value(value).hex()
        key = f"values/{digest[:2]}/{digest}"
        values[key] = payload
        return ValueRef(key)

    def load_request(self, key: str) -> Request | None:
        """The request under ``key``, with its large arguments loaded."""
        request: Request | None = self._read(key, REQUEST)
        if request is not None:
            request.args = tuple(self._resolve(v) for v in request.args)
            request.kwargs = {k: self._resolve(v) for k, v in request.kwargs.items()}
            for member in request.members:
                member.args = tuple(self._resolve(v) for v in member.args)
                member.kwargs = {k: self._resolve(v) for k, v in member.kwargs.items()}
        return request

    def pending_calls(self, request: Request,
                      unloadable: list[tuple[Member, BaseException]] | None = None) -> list[Call]:
        """The calls of a request that have neither a result nor a failure yet, with their
        functions loaded (LookupError if one has not arrived in the store). A function that
        cannot be loaded here raises, or, given ``unloadable``, puts its member there."""
        pending = []
        for member in request.calls():
            if request.members and self.finished(member.address):
                continue  # run already, by this batch's last holder or as a call of its own
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

    def _resolve(self, value: Any) -> Any:
        if not isinstance(value, ValueRef):
            return value
        if value.key not in self._values:
            loaded = self._read(value.key, VALUE)
            if loaded is None:
                raise LookupError(f"argument {value.key} is missing from the store")
            self._values[value.key] = loaded
        return self._values[value.key]

    # -- picking and claiming --------------------------------------------------------------

    def candidates(self) -> list[str]:
        """Request keys of one non-empty bucket, shuffled; buckets are tried in random order.

        At most 16 listings, each of about 1/16 of the pending requests, so a claim costs O(1)
        store operations in expectation however many requests are pending. On a remote store,
        where an empty listing costs a round trip, one listing of every pending request.
        """
        if self.store.remote:
            keys = list(self.store.list("requests/"))
            random.shuffle(keys)
            return keys
        for bucket in random.sample(BUCKETS, len(BUCKETS)):
            keys = list(self.store.list(f"requests/{bucket}/"))
            if keys:
                random.shuffle(keys)
                return keys
        return []

    @staticmethod
    def address_of(request_key: str) -> CallAddress | None:
        """The address a request key names; None for a name pythagoras did not write (a sync
        service's renamed copy, such as OneDrive's ``name-HOST.ext``)."""
        function, _, arguments = request_key.rpartition("/")[2].partition(".")
        if _HEX32.fullmatch(function) is None or _HEX32.fullmatch(arguments) is None:
            return None
        return CallAddress(function, arguments)

    @staticmethod
    def request_key(address: CallAddress) -> str:
        """The key of the request for the call (or batch) at ``address``."""
        return call_keys(address)[0]

    def claim(self, address: CallAddress, peer: str, *, started: bool = False) -> Claim | None:
        """Take the call's lease, breaking a stale one; None if another peer holds it.
        ``started``: the caller runs the call at once, in its own thread."""
        claim_key = call_keys(address)[1]
        claim = Claim(address, peer, started=started)
        if self._write_claim(claim_key, claim, create=True):
            return claim
        stale = self._stale_claim(claim_key)
        if stale is None:
            return None
        nonce = stale.nonce if stale is not _UNREADABLE else "unreadable"
        marker = self._break_marker(f"breaks/{claim_key.partition('/')[2]}.{nonce}", peer)
        if marker is None:
            return None  # another peer broke this lease first
        current: Claim | None = self._read(claim_key, CLAIM)
        if current is not None and current.nonce != nonce:
            return None  # renewed or re-claimed meanwhile
        # Only a run that started is charged: a holder that died before its worker began the
        # call (a cold pool, a kill between claim and run, an empty claim) cost nothing.
        attempt = stale.attempt + 1 if stale.started else stale.attempt
        if attempt > self.max_attempts:
            self._give_up(address, Failure(
                "peers_died", "PeersDied",
                f"the peers running {self._name_of(address)} died {attempt - 1} times while "
                f"running it (last: "
                f"{stale.peer}); it may crash its interpreter or exhaust memory. Clear the "
                "failure to try again", "", stale.peer, attempt - 1))
            self.store.discard(claim_key)
            self.store.discard(marker)
            if stale.broke is not None:
                self.store.discard(stale.broke)  # the dead breaker's own marker
            return None
        # Replace the stale claim in one atomic write: were it deleted first, another peer could
        # create a fresh claim in the gap and the count of attempts would start again.
        claim = Claim(address, peer, attempt, broke=marker, started=started)
        self._write_claim(claim_key, claim)
        if stale.broke is not None:
            self.store.discard(stale.broke)  # a breaker that died too: its marker is spent
        return claim

    def _stale_claim(self, claim_key: str) -> Claim | None:
        """The claim under ``claim_key`` if it may be broken (its lease lapsed, or its holder
        is a process of this machine that is gone), :data:`_UNREADABLE` for a stale claim that
        cannot be read (an empty one); None while it holds, or if it is gone."""
        age = self.store.age(claim_key)
        if age is None:
            return None
        stale: Claim | None = self._read(claim_key, CLAIM)
        if age - self.skew <= self.lease_timeout:
            # A fresh lease is held, unless its holder is a process of this machine that is
            # gone: a run killed and started again need not wait out its own old leases.
            if stale is None or not holder_is_gone(stale.peer):
                return None
        return _UNREADABLE if stale is None else stale

    def _break_marker(self, name: str, peer: str) -> str | None:
        """Create the marker that makes this peer the one to break a stale claim; None if
        another peer holds it. A marker whose breaker died before replacing the claim (it is
        older than a lease) is passed over: the next generation of the name is tried."""
        for generation in range(8):
            marker = name if generation == 0 else f"{name}.{generation}"
            # Its bytes are unique to this breaker, so that a create retried on a store where
            # the first attempt landed unseen knows the marker for its own (FsspecStore._holds).
            if self.store.create(marker, f"{peer} {unique_hex()}".encode()):
                if generation:
                    self.store.discard(f"{name}.{generation - 1}" if generation > 1 else name)
                return marker
            age = self.store.age(marker)
            if age is None or age - self.skew <= self.lease_timeout:
                return None
        return None

    def _name_of(self, address: CallAddress) -> str:
        """The name of the call (or batch) at ``address``, from its request where one is left."""
        try:
            request: Request | None = self._read(call_keys(address)[0], REQUEST)
        except Exception:  # its arguments cannot be loaded here: the name is not worth a failure
            request = None
        return request.name if request is not None else "this call"

    def _give_up(self, address: CallAddress, failure: Failure) -> None:
        """Fail the call, or every unfinished call of the batch, whose peers kept dying."""
        if not is_batch(address):
            self.fail(address, None, failure)
            return
        request: Request | None = self._read(call_keys(address)[0], REQUEST)
        for member in request.members if request is not None else ():
            if not self.finished(member.address):
                self._write_failure(member.address, failure)
        self._retire(address, None)

    def started_record(self, claim: Claim) -> tuple[str, bytes]:
        """The key and record of ``claim`` marked started, for its worker to write as it
        starts the run (:func:`pythagoras.swarm.worker.run_packed`)."""
        marked = dataclasses.replace(claim, started=True)
        return call_keys(claim.address)[1], frame(CLAIM, dump_value(marked, plain=True))

    def renew(self, claim: Claim) -> bool:
        """Refresh the lease's age; False if the claim is no longer ours (it was broken)."""
        claim_key = call_keys(claim.address)[1]
        current: Claim | None = self._read(claim_key, CLAIM)
        if current is None or current.nonce != claim.nonce:
            return False
        age = self.store.age(claim_key)
        if age is not None and age - self.skew > self.lease_timeout:
            return False  # stale: another peer may be taking it over; do not fight for it
        self._write_claim(claim_key, claim)
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
        age = self.store.age(call_keys(address)[1])
        return age is not None and age - self.skew <= self.lease_timeout

    def release(self, claim: Claim) -> None:
        """Give the call back to the swarm (this peer cannot run it, or has settled it).

        The claim is read first, lest another peer's be deleted, unless this peer wrote it
        less than half a lease ago: nobody breaks a lease that young (a peer whose clock
        estimate is off by half a lease could, and the cost would be a duplicate run)."""
        claim_key = call_keys(claim.address)[1]
        written = self._written.pop(claim.nonce, None)
        if written is not None and time.monotonic() - written < self.lease_timeout / 2:
            self.store.discard(claim_key)
            return
        current: Claim | None = self._read(claim_key, CLAIM)
        if current is not None and current.nonce == claim.nonce:
            self.store.discard(claim_key)

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
        request_key, claim_key = call_keys(address)
        self.store.discard(request_key)
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
        """The stored value of the call, or MISSING; :class:`UnloadableResult` if it is stored
        but cannot be loaded here (another Python's class): the record stays for its readers."""
        try:
            return self.results.lookup(address)
        except Exception as error:
            raise UnloadableResult(
                f"the result of {address} is stored, but its value cannot be loaded by Python "
                f"{PYTHON} ({type(error).__name__}: {error}); it stays stored for the peers that "
                "load it. Load it there, or return plain data (numbers, strings, containers, "
                "numpy arrays), which every Python loads") from error

    def failure(self, address: CallAddress) -> Failure | None:
        found: Failure | None = self._read(failure_key(address), FAILURE)
        return found

    def clear_failure(self, address: CallAddress) -> bool:
        return self.store.delete(failure_key(address))

    # -- peers -----------------------------------------------------------------------------

    def announce(self, peer: str, info: dict[str, Any]) -> None:
        """Write this peer's record and measure the clock skew against the store by it."""
        key = f"peers/{peer}"
        self._write(key, PEER, {**info, "seen": time.time()})
        age = self.store.age(key)
        if age is not None:
            self.skew = age

    def live_peers(self) -> dict[str, dict[str, Any]]:
        """The records of the peers whose heartbeat is fresh (within ``lease_timeout``)."""
        peers = {}
        for key in self.store.list("peers/"):
            age = self.store.age(key)
            if age is None or age - self.skew > self.lease_timeout:
                continue
            info = self._read(key, PEER)
            if isinstance(info, dict):
                peers[key.rpartition("/")[2]] = info
        return peers

    def unrunnable(self, function_id: str) -> str | None:
        """Why no live peer can run calls of the function now, or None if one can: no peer
        serves the swarm, or the function is another Python's bytecode and no peer of that
        Python serves."""
        serving = [info for info in self.live_peers().values()
                   if int(info.get("workers") or 0) > 0 and info.get("serving", True)]
        if not serving:
            return ("no peer serves the swarm (every live peer has max_workers=0, or no peer is "
                    "up)")
        record = self._read(f"functions/{function_id}", FUNCTION)
        python = function_python(record)
        if python is None or function_portable(record) or any(
                info.get("python") == python for info in serving):
            return None
        up = Counter(str(info.get("python") or "?") for info in serving)
        return (f"its function was sent by Python {python} as bytecode only (a lambda, a closure, "
                f"or code without source), which only a peer of Python {python} runs, and none "
                "is up (serving: " + ", ".join(f"{n} peer{'s' * (n > 1)} of Python {v}"
                                               for v, n in sorted(up.items())) + ")")

    def retire_peer(self, peer: str) -> None:
        self.store.discard(f"peers/{peer}")
