"""A signed swarm's marker, ``swarm.json``: its id, and a value that tells a peer whether it has
the swarm's secret before it touches anything.

    {"pythagoras": "swarm", "signed": true, "id": "<32 hex>", "legacy": false, "check": "<64 hex>"}

The swarm's first signed peer creates it (create-if-absent: of two peers opening a new
location at once, one creates it and the other adopts it). Every record is signed for the id
(``signatures.py``), so a record copied from another swarm with the same secret is refused.
``check`` is an HMAC of the id under the secret: a peer with another secret (a typo) finds it
wrong, and one without a secret finds the swarm signed; either refuses to open the location,
before it reads, overwrites, moves or deletes any record (:class:`SecretMismatch`).

A location without a marker is new, or was signed before markers existed, or its marker was
deleted. A few records are read to tell (:func:`found_swarm`): the id of a record signed with
this secret for a swarm is adopted (a deleted marker is written again, with the same id);
records signed with another secret make the peer refuse; records signed with this secret but
without an id (older ones) make a ``legacy`` swarm, where they stay readable; records not signed
at all (an unsigned swarm) make the peer refuse too, rather than move the team's records aside. It is JSON, so
reading it runs no code.
"""

from __future__ import annotations

import hmac
import json
import logging
import os
from dataclasses import dataclass
from typing import Final

from ..errors import PythagorasError, StoreError
from .base import RECORD_LIMITS, Store
from .signatures import ID_SIZE, Signer, is_signed

__all__ = ["MARKER", "SecretMismatch", "Swarm", "open_swarm", "refuse_if_signed"]

log = logging.getLogger("pythagoras")

MARKER: Final = "swarm.json"
#: Where records are sampled, small ones first, when a location has no marker, and how many.
_SAMPLED: Final = ("peers/", "functions/", "requests/", "claims/", "failures/", "results/")
_PER_PREFIX: Final = 4
_LARGEST: Final = 1 << 20
_FIX: Final = ("set PYTHAGORAS_SECRET to the swarm's secret (or PYTHAGORAS_SECRET_FILE to a "
               "file that holds it), or give it as secret=")


class SecretMismatch(PythagorasError, PermissionError):
    """A location's records are signed with a secret this process does not have (none, or
    another one): it refuses to open it, rather than refuse the team's records one by one (and
    move them aside) or write records the team would refuse. Give it the swarm's secret."""


@dataclass(frozen=True)
class Swarm:
    """A signed swarm as its marker says: its id, and whether records signed without an id
    (before ids existed) are its own."""

    id: bytes
    legacy: bool

    def marker(self, signer: Signer) -> bytes:
        return json.dumps({"pythagoras": "swarm", "signed": True, "id": self.id.hex(),
                           "legacy": self.legacy,
                           "check": signer.check_value(self.id, self.legacy).hex()}).encode()


def refuse_if_signed(store: Store) -> None:
    """Raise :class:`SecretMismatch` if ``store``'s location is a signed swarm: a peer without
    the secret would read every record as corrupt (and overwrite it).

    Told by the marker, else by a few records: a marker deleted (or not yet brought by a sync
    service, or replaced by a link) leaves the team's records signed all the same. On a remote
    store, whose listings are of every key, by the marker alone."""
    if _read_marker(store) is not None:
        raise SecretMismatch(f"the swarm at {store.location} is signed ({MARKER}), and this "
                             f"process has no secret: {_FIX}. Nothing was read or written.")
    if store.remote:  # a listing there is of every key: the marker alone tells
        return
    for key in _sample(store, per_prefix=1):
        if is_signed(store.read(key) or b""):
            raise SecretMismatch(
                f"the records at {store.location} are signed ({key}, and {MARKER} is missing), "
                f"and this process has no secret: {_FIX}. Nothing was written.")


def open_swarm(store: Store, signer: Signer) -> Swarm:
    """The swarm at ``store`` (the raw store, not signed), its marker created if it has none;
    :class:`SecretMismatch` if it is signed with another secret."""
    found = _read_marker(store)
    if found is None:
        created = found_swarm(store, signer)
        try:
            if store.create(MARKER, created.marker(signer)):
                return created
        except OSError as e:  # a read-only member: it reads the swarm, it creates nothing
            log.info("pythagoras: could not write %s at %s: %s", MARKER, store.location, e)
            return created
        found = _read_marker(store)  # another peer created it first: the one of the swarm
        if found is None:  # a link, a folder, a pipe, a huge file: never followed nor read
            raise StoreError(
                f"{store.location}/{MARKER} is not a file a peer wrote (a link, a folder, a pipe "
                f"or over {RECORD_LIMITS[MARKER]} bytes), or it vanished while it was opened: "
                "delete it and open the swarm again with its secret (its id is recovered from "
                "its records)")
    swarm, check = found
    if not hmac.compare_digest(check, signer.check_value(swarm.id, swarm.legacy)):
        raise SecretMismatch(
            f"the swarm at {store.location} is signed with another secret than this process's "
            f"(its {MARKER} says so): {_FIX}, the same on every member. Nothing was read or "
            "written.")
    return swarm


def found_swarm(store: Store, signer: Signer) -> Swarm:
    """The swarm a location without a marker holds, from a few of its records: the id of one
    signed with this secret; else a new id (``legacy`` if some record is signed with this
    secret the older way). :class:`SecretMismatch` if the only signed ones are another
    secret's."""
    foreign = legacy = unsigned = False
    for key in _sample(store):
        data = store.read(key)
        if not data:
            continue
        said = signer.swarm_of(key, data)
        if isinstance(said, bytes):
            log.warning("pythagoras: %s at %s was missing; the swarm's id is taken from %s",
                        MARKER, store.location, key)
            return Swarm(said, legacy=legacy)
        foreign = foreign or said is True
        legacy = legacy or said is False
        unsigned = unsigned or said is None
    if foreign and not legacy:
        raise SecretMismatch(f"the records at {store.location} are signed with another secret "
                             f"than this process's: {_FIX}. Nothing was read or written.")
    if unsigned and not legacy:
        raise SecretMismatch(
            f"the swarm at {store.location} is not signed (its records carry no signature), "
            "and this process has a secret: it would refuse, and move aside, every record the "
            "team wrote. Open it without a secret (unset PYTHAGORAS_SECRET and "
            "PYTHAGORAS_SECRET_FILE), or sign it from now on: `pythagoras clear --all "
            f"{store.location}`, then open it with the secret. Nothing was read or written.")
    return Swarm(os.urandom(ID_SIZE), legacy=legacy)


def _sample(store: Store, per_prefix: int = _PER_PREFIX) -> list[str]:
    keys: list[str] = []
    for prefix in _SAMPLED:
        taken = 0
        for key in store.list(prefix):
            size = store.size(key)
            if size is not None and size <= _LARGEST:
                keys.append(key)
                taken += 1
                if taken == per_prefix:
                    break
    return keys


def _read_marker(store: Store) -> tuple[Swarm, bytes] | None:
    data = store.read(MARKER)
    if data is None:
        return None
    try:
        fields = json.loads(bytes(data))
        swarm = Swarm(bytes.fromhex(fields["id"]), bool(fields["legacy"]))
        check = bytes.fromhex(fields["check"])
        if fields.get("pythagoras") != "swarm" or len(swarm.id) != ID_SIZE:
            raise ValueError("not a swarm marker")
    except (ValueError, KeyError, TypeError) as e:
        raise StoreError(
            f"{store.location}/{MARKER} is not a swarm marker ({e}): it was damaged or written "
            "by someone else; if the swarm is signed, delete it and open the swarm with its "
            "secret (its id is recovered from its records)") from e
    return swarm, check
