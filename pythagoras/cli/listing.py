"""The records at a location as ``pythagoras status`` and ``clear`` see them: listed once, with
their sizes and ages, through the store contract only (:meth:`~pythagoras.storage.base.Store.scan`),
and judged live or stale by the protocol's lease rule.

**The clock skew.** A record's age is this machine's clock minus the date the store gave it
(a file server's, a bucket's), so a peer corrects every age by how far its clock runs ahead of
the store's, measured as it writes its own peer record (``SwarmStore.announce``). ``status`` writes
nothing, so it measures the same figure from a record this machine's clock dated: a peer
record of a peer on this host carries, in ``seen``, when that peer wrote it by this host's
clock, and the store says how old it is. Where no peer of this host has a record, no skew is
known and none is applied (as in a listing of a swarm whose peers all run elsewhere): the ages
are then the store's as this machine reads them. A peer on another host is no measure: its
``seen`` is its own clock's.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, MutableMapping
from dataclasses import dataclass
from typing import Any, Final

from ..identity.address import CallAddress
from ..records.keys import KINDS, address_of, kind_of, kind_prefix, parse_key
from ..storage import confined
from ..storage.base import Store
from ..storage.local import LocalFolderStore
from ..swarm.protocol import (
    CLAIM,
    PEER,
    Claim,
    clock_skew,
    is_fresh,
    lease_holds,
    on_this_host,
)
from .stand_ins import load_record

__all__ = ["Entry", "Leases", "PeerRecord", "finished_calls", "leases_of", "list_records",
           "measured_skew", "peer_report", "planted_links", "read_peers"]

#: The kinds whose addresses say a call is finished.
_FINISHED: Final = ("results", "failures")


@dataclass(frozen=True)
class Entry:
    """A record as listed: its size, and its age by the store's clock, at the listing."""

    size: int
    age: float


def list_records(store: Store) -> dict[str, dict[str, Entry]]:
    """Every record of each of :data:`~pythagoras.records.keys.KINDS`, by kind and key, with
    its size and age: on a remote store one scan of the location (one request per 1,000 keys),
    elsewhere one scan of each kind's folder (a location that shares a folder with other files
    is not walked whole)."""
    found: dict[str, dict[str, Entry]] = {kind: {} for kind in KINDS}
    store = store.backing  # listing and sizes need no signatures
    prefixes = [""] if store.remote else [kind_prefix(kind) for kind in KINDS]
    for prefix in prefixes:
        for key, size, age in store.scan(prefix):
            kind = kind_of(key)
            if kind is not None:
                found[kind][key] = Entry(size, age)
    return found


def planted_links(store: Store) -> list[str]:
    """The links (and pipes, devices, sockets) in a local location's folders of records, or in
    their place: only a writer of the location puts them there, and no peer follows them. The
    rest of the folder (a location may share it with other files) is not looked at."""
    backing = store.backing
    if not isinstance(backing, LocalFolderStore):
        return []  # an object store has no links
    root = confined.open_root(backing.location)
    try:
        folder = confined.open_folder(root, [], listing=True)
        try:
            return sorted(confined.planted(folder, "", frozenset((*KINDS, ".tmp"))))
        finally:
            confined.close(folder, root)
    finally:
        confined.close(root, -1)


def finished_calls(records: dict[str, dict[str, Entry]]) -> set[CallAddress]:
    """The calls that have a result or a failure record in the listing."""
    found = set()
    for kind in _FINISHED:
        for key in records[kind]:
            address = address_of(key)
            if address is not None:
                found.add(address)
    return found


@dataclass(frozen=True)
class Leases:
    """The protocol's lease rule (:func:`pythagoras.swarm.protocol.lease_holds`) with a lease
    and the skew this machine measured, for every record ``status`` and ``clear`` judge."""

    lease_timeout: float
    skew: float = 0.0

    def fresh(self, age: float | None) -> bool:
        return is_fresh(age, self.lease_timeout, self.skew)

    def holds(self, age: float | None, holder: str | None) -> bool:
        return lease_holds(age, holder, self.lease_timeout, self.skew)

    def claim_is_live(self, store: Store, key: str,
                      refused: MutableMapping[str, str] | None = None) -> bool:
        """True while the claim's lease holds: fresh, and its holder not a process of this
        machine that is gone (an unreadable claim holds while it is fresh)."""
        age = store.age(key)
        if not self.fresh(age):
            return False
        claim = load_record(store, key, CLAIM, refused)
        return self.holds(age, claim.peer if isinstance(claim, Claim) else None)


@dataclass(frozen=True)
class PeerRecord:
    """A peer's record as read: its id, its heartbeat's age, what it announced, and when its
    age was read by this machine's clock."""

    id: str
    age: float
    info: dict[str, Any]
    read_at: float


def read_peers(store: Store, keys: Iterable[str], clock: Callable[[], float] = time.time,
               refused: MutableMapping[str, str] | None = None) -> list[PeerRecord]:
    """The peer records under ``keys`` that are still there, sorted by key (one that cannot
    be read safely with what its id tells, and in ``refused``)."""
    peers = []
    for key in sorted(keys):
        age = store.age(key)
        read_at = clock()
        parsed = parse_key(key)
        if age is None or parsed is None:
            continue  # the peer exited since the listing
        info = load_record(store, key, PEER, refused)
        peers.append(PeerRecord(parsed.name, age, info if isinstance(info, dict) else {}, read_at))
    return peers


def measured_skew(peers: Iterable[PeerRecord]) -> float:
    """How far this machine's clock runs ahead of the store's, by the freshest record of a peer
    of this host (see the module's docstring); 0 where there is none."""
    local = [p for p in peers if on_this_host(p.id) and _date(p.info.get("seen")) is not None]
    if not local:
        return 0.0
    freshest = min(local, key=lambda p: p.age)
    return clock_skew(freshest.age, float(freshest.info["seen"]), freshest.read_at)


def _date(value: Any) -> float | None:
    """``value`` as a date, if it is a finite number (a record may hold ``2**2000``, or NaN)."""
    if not isinstance(value, int | float):
        return None
    try:
        date = float(value)
    except OverflowError:
        return None
    return date if math.isfinite(date) else None


def leases_of(peers: Iterable[PeerRecord], lease_timeout: float) -> Leases:
    """The lease rule with the skew measured from ``peers``."""
    return Leases(lease_timeout, measured_skew(peers))


def peer_report(peer: PeerRecord, leases: Leases) -> dict[str, Any]:
    """The peer as ``status`` reports it (``docs/cli.md``)."""
    info = {name: value for name, value in peer.info.items()
            if isinstance(value, str | int | float | bool | None)}  # what a report can show
    host, _, rest = peer.id.rpartition("-")[0].rpartition("-")
    return {
        "id": peer.id,
        "host": info.get("host", host or None),
        "pid": info.get("pid", int(rest) if rest.isdigit() else None),
        "workers": info.get("workers"),
        "serving": info.get("serving"),
        "python": info.get("python"),
        "heartbeat_age": round(peer.age, 3),
        "live": leases.holds(peer.age, peer.id),
    }
