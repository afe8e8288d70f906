"""Reading a record as ``pythagoras status`` and ``clear`` do: running no code from the folder.

They read peer, claim, request, failure and function records that anyone who can write the
location may have written, so each is loaded by an allow-list unpickler
(:mod:`pythagoras.records.untrusted`), never by pickle's own: a claim may name only a claim's
classes, a peer record and a function record's fields only builtin data (a function record of
before those fields, the function itself, is not loaded); a request's arguments and a failure's exception may
be of any class, and are loaded as inert stand-ins (the type name and message of a failure are
its own fields). A record that names anything else, or whose fields are not of their types,
is *unreadable*: it is left where it is, named once in the log, and collected in ``refused``
where the caller passes one (``status`` lists them).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, MutableMapping
from dataclasses import fields
from typing import Any, Final

from ..errors import CorruptRecord
from ..identity.address import CallAddress
from ..records.frames import unframe
from ..records.untrusted import RecordUnpickler, RefusedRecord, load_untrusted
from ..storage.base import Store
from ..swarm.protocol import (
    CLAIM,
    FAILURE,
    FUNCTION,
    PEER,
    REQUEST,
    Claim,
    Failure,
    Member,
    Request,
    ValueRef,
)

__all__ = ["load_record"]

log = logging.getLogger("pythagoras")


def _named(*classes: type) -> dict[tuple[str, str], type]:
    return {(cls.__module__, cls.__qualname__): cls for cls in classes}


#: By kind of record: the unpickler, and the check of what it loaded.
_READERS: Final[dict[bytes, type[RecordUnpickler]]] = {
    PEER: RecordUnpickler.allowing({}, stand_ins=False),
    CLAIM: RecordUnpickler.allowing(_named(Claim), stand_ins=False),
    FUNCTION: RecordUnpickler.allowing({}, stand_ins=False),  # its fields: plain data
    REQUEST: RecordUnpickler.allowing(_named(Request, Member, ValueRef), stand_ins=True),
    FAILURE: RecordUnpickler.allowing(_named(Failure), stand_ins=True),
}


def _types_hold(value: Any, types: dict[str, type | tuple[type, ...]]) -> bool:
    return all(isinstance(getattr(value, name, None), kind) for name, kind in types.items())


def _address_holds(address: Any) -> bool:
    return isinstance(address, CallAddress) and _types_hold(address, {"function": str,
                                                                      "arguments": str})


def _claim_holds(claim: Any) -> bool:
    return isinstance(claim, Claim) and _address_holds(claim.address) and _types_hold(
        claim, {"peer": str, "attempt": int, "nonce": str, "broke": (str, type(None)),
                "started": bool})


def _failure_holds(failure: Any) -> bool:
    texts = {f.name: str for f in fields(Failure) if f.name not in ("attempts", "exception")}
    return isinstance(failure, Failure) and _types_hold(failure, {**texts, "attempts": int})


def _request_holds(request: Any) -> bool:
    return isinstance(request, Request) and _address_holds(request.address) \
        and isinstance(request.members, tuple) \
        and all(isinstance(m, Member) and _address_holds(m.address) for m in request.members)


_CHECKS: Final[dict[bytes, Callable[[Any], bool]]] = {
    PEER: lambda info: isinstance(info, dict),
    CLAIM: _claim_holds,
    FAILURE: _failure_holds,
    REQUEST: _request_holds,
}


def load_record(store: Store, key: str, kind: bytes,
                refused: MutableMapping[str, str] | None = None) -> Any:
    """The record's value, loaded running no code from it; None where it is absent, corrupt
    or unreadable (then named in the log once, and in ``refused`` with why)."""
    data = store.read(key)
    if data is None:
        return None
    try:
        payload = unframe(data, kind)
    except CorruptRecord:
        return None
    try:
        value = load_untrusted(payload, _READERS[kind])
    except RefusedRecord as e:
        why = f"{e}, which no record of this kind holds"
    except Exception as e:  # noqa: BLE001 -- a damaged or hostile stream
        why = f"it cannot be read ({type(e).__name__}: {e})"
    else:
        if _CHECKS.get(kind, lambda _: True)(value):
            return value
        why = "its fields are not those of its kind of record"
    _report(store, key, why, refused)
    return None


_reported: set[str] = set()
_reported_lock = threading.Lock()


def _report(store: Store, key: str, why: str, refused: MutableMapping[str, str] | None) -> None:
    if refused is not None:
        refused[key] = why
    where = f"{store.location}/{key}"
    with _reported_lock:
        if where in _reported:
            return
        _reported.add(where)
    log.warning("pythagoras: not loading %s: %s; it is left as it is (written by someone "
                "who can write the location?)", where, why)
