"""Requests on a store: serialized and checked, written with what they need, read back.

A request (``requests/<a>/<fid>.<args>``, :func:`pythagoras.records.keys.request_key`) holds a
call's arguments, or a batch's calls; an argument over 64 KiB pickled is stored once under
``values/`` and referenced, and the functions of its calls are published before it
(``docs/protocol.md``, "The swarm").
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

import xxhash

from ..errors import ArgumentTooLarge, UnhashableArgument
from ..identity.address import CallAddress
from ..identity.values import hash_value
from ..records.frames import HEADER_SIZE, MISSING, dump_value, frame, read_record
from ..records.functions import function_record
from ..records.keys import (
    BATCH_FUNCTION,
    REQUEST_BUCKETS,
    kind_prefix,
    request_bucket,
    request_key,
    value_key,
)
from ..storage.base import Store
from .function_table import FunctionTable
from .protocol import (
    LARGE_ARGUMENT,
    MAX_ARGUMENT_VAR,
    REQUEST,
    VALUE,
    Call,
    Member,
    PreparedRequest,
    Request,
    ValueRef,
    max_argument_bytes,
)

__all__ = ["Requests"]


class Requests:
    """Writing requests to a store and reading them back, with the large arguments they
    reference (each loaded once per process)."""

    def __init__(self, store: Store, functions: FunctionTable) -> None:
        self.store = store
        self.functions = functions
        self._values: dict[str, Any] = {}

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
                if fid not in self.functions.published and fid not in functions:
                    functions[fid] = (call.func, function_record(call.func))
                members.append(Member(
                    call.address, call.name,
                    tuple(_reference_if_large(v, values, limit) for v in call.args),
                    {k: _reference_if_large(v, values, limit) for k, v in call.kwargs.items()}))
            payload = dump_value(_request(members, submitter))
        except ArgumentTooLarge:
            raise
        except Exception as e:
            raise UnhashableArgument(
                f"the call of {call.name} cannot be sent to the swarm: {e}. Functions and arguments "
                "must be picklable (cloudpickle): pass plain data, not locks, files or generators"
            ) from e
        address = members[0].address if len(members) == 1 else _batch_address(members)
        return PreparedRequest(address, list(calls), functions, values, payload)

    def publish(self, prepared: PreparedRequest) -> str:
        """Write a prepared request (its functions and large arguments first); its key."""
        for function_id, (func, payload) in prepared.functions.items():
            self.functions.publish(function_id, func, payload)
        for key, payload in prepared.values.items():
            # Content-addressed: a record of the right size is this value; one of another size
            # (absent, truncated) is written again. Checked by size: values are large to read.
            if self.store.size(key) != HEADER_SIZE + len(payload):
                self.store.write(key, frame(VALUE, payload))
        key = request_key(prepared.address)
        record = frame(REQUEST, prepared.request)
        # An equal request may be pending already; one that cannot be read is replaced.
        if not self.store.create(key, record) and \
                read_record(self.store, key, REQUEST, load=False) is MISSING:
            self.store.write(key, record)
        return key

    def candidates(self) -> list[str]:
        """Request keys of one non-empty bucket, shuffled; buckets are tried in random order.

        At most 16 listings, each of about 1/16 of the pending requests, so a claim costs O(1)
        store operations in expectation however many requests are pending. On a remote store,
        where an empty listing costs a round trip, one listing of every pending request.
        """
        if self.store.remote:
            keys = list(self.store.list(kind_prefix("requests")))
            random.shuffle(keys)
            return keys
        for bucket in random.sample(REQUEST_BUCKETS, len(REQUEST_BUCKETS)):
            keys = list(self.store.list(request_bucket(bucket)))
            if keys:
                random.shuffle(keys)
                return keys
        return []

    def load(self, key: str) -> Request | None:
        """The request under ``key``, with its large arguments loaded."""
        found = read_record(self.store, key, REQUEST)
        if found is MISSING:
            return None
        request: Request = found
        request.args = tuple(self._resolve(v) for v in request.args)
        request.kwargs = {k: self._resolve(v) for k, v in request.kwargs.items()}
        for member in request.members:
            member.args = tuple(self._resolve(v) for v in member.args)
            member.kwargs = {k: self._resolve(v) for k, v in member.kwargs.items()}
        return request

    def _resolve(self, value: Any) -> Any:
        if not isinstance(value, ValueRef):
            return value
        if value.key not in self._values:
            loaded = read_record(self.store, value.key, VALUE)
            if loaded is MISSING:
                raise LookupError(f"argument {value.key} is missing from the store")
            self._values[value.key] = loaded
        return self._values[value.key]


def _request(members: list[Member], submitter: str) -> Request:
    if len(members) == 1:
        one = members[0]
        return Request(one.address, one.name, one.args, one.kwargs, submitter)
    return Request(_batch_address(members), f"a batch of {len(members)}", (), {}, submitter,
                   tuple(members))


def _batch_address(members: list[Member]) -> CallAddress:
    digest = xxhash.xxh3_128_hexdigest(
        "".join(m.address.function + m.address.arguments for m in members).encode())
    return CallAddress(BATCH_FUNCTION, digest)


def _reference_if_large(value: Any, values: dict[str, bytes], limit: int) -> Any:
    payload = dump_value(value)
    if len(payload) > limit:
        raise ArgumentTooLarge(
            f"an argument of {type(value).__name__} is {len(payload):,} bytes pickled, over the "
            f"swarm's limit of {limit:,}: pass a path or a URL the function reads instead, or "
            f"raise the limit with ${MAX_ARGUMENT_VAR}")
    if len(payload) <= LARGE_ARGUMENT:
        return value
    key = value_key(hash_value(value).hex())
    values[key] = payload
    return ValueRef(key)
