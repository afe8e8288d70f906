"""The records Memory keeps on a store: each call's result, and a small metadata record beside it.

A result lives under the call's address (``results/<function>/<aa>/<arguments>``, written by
:class:`~pythagoras.records.results.ResultRecords`), so a call memoized by Memory is a hit for the
executor and the tutorial's decorator, and the other way round. A memoized function that has a
``cache_validation_callback`` (the only reader of it) also writes, beside each result it
computes, ``metadata/<function>/<aa>/<arguments>``: a frame of kind ``M`` holding, as JSON, how
long the call took (``duration``). Other results have no duration: a second file per call would
double the cost of a miss and the number of files a sync service carries. A record's ``time``
is always taken from the store's age of the result, so every peer measures it by the store's
clock (``docs/protocol.md``, "Memory's metadata").
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Final

from ..errors import CorruptRecord
from ..identity.address import CallAddress
from ..records.frames import frame, report_corrupt, unframe
from ..records.keys import address_of, metadata_key, metadata_prefix, result_key, results_prefix
from ..records.results import ResultRecords
from ..storage.base import Store
from ..storage.credentials import public_options
from ..storage.memory import MemoryStore
from ..storage.plugins import open_store
from ..storage.signed import SignedStore
from ..swarm.options import SwarmOptions, secret_on_arrival
from ..swarm.worker import worker_store

__all__ = ["METADATA", "Shelf", "StoredCall", "metadata_key"]

METADATA: Final = b"M"


@dataclass(frozen=True)
class StoredCall:
    """One memoized call on the store, as ``reduce_size`` weighs it."""

    address: CallAddress
    size: int  # bytes of its result and metadata records
    age: float  # seconds since its result was written, by the store's clock


class Shelf:
    """Memory's view of one store: results by call address, their metadata, their upkeep.

    It pickles as its location, the storage options that may travel and whether it is signed,
    never with the secret or credentials (a memoized function called by a script's function
    travels inside the swarm's records), so a Memory, a memoized function or a shelved result
    sent to another process (a joblib worker) opens the same store there, with the secret and
    credentials that process has (:meth:`SwarmOptions.arrived`); two shelves of one location
    are equal.
    """

    def __init__(self, location: str | os.PathLike[str] | Store,
                 storage_options: Mapping[str, object] | None = None, *,
                 secret: bytes | None = None) -> None:
        self._location = location
        self._storage_options = dict(storage_options) if storage_options else None
        self.store = (location if isinstance(location, Store)
                      else open_store(location, storage_options, secret=secret))
        self.results = ResultRecords(self.store)

    # -- one call --------------------------------------------------------------------------

    def lookup(self, address: CallAddress) -> Any:
        """The stored value, or MISSING; a value that cannot be unpickled here raises."""
        return self.results.lookup(address)

    def holds(self, address: CallAddress) -> bool:
        """True if a result record exists (not read: a shelved result loads it when asked)."""
        return self.store.exists(result_key(address))

    def contains(self, address: CallAddress) -> bool:
        """True if an intact result record exists (read and checked, not loaded)."""
        return self.results.contains(address)

    def publish(self, address: CallAddress, value: Any, duration: float | None, *, replace: bool) -> None:
        """Store the value, then its metadata if a duration is given; ``replace`` writes over a
        record that is there (and drops metadata that no longer describes it)."""
        if replace:
            self.results.replace(address, value)
        else:
            self.results.publish(address, value)
        if duration is not None:
            record = frame(METADATA, json.dumps({"duration": duration}).encode())
            self.store.write(metadata_key(address), record)
        elif replace:
            self.store.delete(metadata_key(address))

    def metadata(self, address: CallAddress) -> dict[str, Any] | None:
        """joblib's metadata of the stored call (``time``, and ``duration`` where Memory computed
        it), or None if no result is stored."""
        age = self.store.age(result_key(address))
        if age is None:
            return None
        found: dict[str, Any] = {"time": time.time() - age}
        data = self.store.read(metadata_key(address))
        if data is not None:
            try:
                stored = json.loads(bytes(unframe(data, METADATA)))
            except (CorruptRecord, ValueError) as e:
                report_corrupt(f"{self.store.location}/{metadata_key(address)}", e)
            else:
                if isinstance(stored, dict) and isinstance(stored.get("duration"), (int, float)):
                    found["duration"] = stored["duration"]
        return found

    def forget(self, address: CallAddress) -> bool:
        """Delete the call's result and metadata; True if there was a result."""
        self.store.delete(metadata_key(address))
        return self.store.delete(result_key(address))

    # -- many calls ------------------------------------------------------------------------

    def calls(self, function: str | None = None) -> Iterator[CallAddress]:
        """The address of every stored result (of one function identity, if given)."""
        for key in self.store.list(results_prefix(function)):
            address = address_of(key)
            if address is not None:
                yield address

    def weigh(self) -> list[StoredCall]:
        """Every stored call with its size and age; one that vanishes meanwhile is left out."""
        weighed = []
        for address in self.calls():
            age = self.store.age(result_key(address))
            size = self.store.size(result_key(address))
            if age is None or size is None:
                continue
            weighed.append(StoredCall(address, size + (self.store.size(metadata_key(address)) or 0), age))
        return weighed

    def forget_function(self, function: str) -> int:
        """Delete every result (and metadata) of one function identity; how many results."""
        removed = sum(self.forget(address) for address in list(self.calls(function)))
        self._forget_metadata(metadata_prefix(function))  # metadata left without a result
        return removed

    def forget_all(self) -> int:
        """Delete every result and every metadata record on the store; how many results."""
        removed = sum(self.forget(address) for address in list(self.calls()))
        self._forget_metadata(metadata_prefix())
        return removed

    def _forget_metadata(self, prefix: str) -> None:
        """Delete the metadata records under ``prefix``: only names Memory writes (a user's
        file in the folder is not one)."""
        for key in list(self.store.list(prefix)):
            if address_of(key) is not None:
                self.store.delete(key)

    # -- identity --------------------------------------------------------------------------

    def __reduce__(self) -> tuple[Any, ...]:
        return (_reopen, (travelling(self.store), public_options(self._storage_options),
                          isinstance(self.store, SignedStore)))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Shelf):
            return NotImplemented
        return self._same_as() == other._same_as()

    def __hash__(self) -> int:
        return hash((type(self.store), self.store.location))

    def _same_as(self) -> tuple[Any, ...]:
        return (type(self.store), self.store.location, self._storage_options or {})

    def __repr__(self) -> str:
        return f"Shelf({self.store.location!r})"


def travelling(store: Store) -> str | Store:
    """How a store travels: by its location; an in-memory one (a test's), as itself unsigned."""
    backing = store.backing
    return backing if isinstance(backing, MemoryStore) else store.location


def _reopen(location: str | Store, storage_options: Mapping[str, object] | None,
            signed: bool) -> Shelf:
    """A shelf that arrived here: on the store of this process's peer if this is its worker,
    else opened with the secret and credentials this process has."""
    if isinstance(location, Store):
        key = secret_on_arrival(location.location, signed) if signed else None
        return Shelf(location if key is None else SignedStore(location, key))
    nested = worker_store(location)
    if nested is not None and (isinstance(nested, SignedStore) or not signed):
        return Shelf(nested)
    options = SwarmOptions.arrived(location, signed=signed, storage_options=storage_options)
    return Shelf(location, options.storage_options, secret=options.secret)
