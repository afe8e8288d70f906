"""The one key layout: where each kind of record lives on a store, and what a key names.

Every key pythagoras writes is made here, from a record's kind and what it is about (a call's
address, a function's identity, a value's hash, a peer's id), and every key read back from a
listing is parsed here (``docs/protocol.md``, "Addresses and keys"):

    kind        key                                     about
    ----------  --------------------------------------  --------------------------------
    results     results/<fid>/<aa>/<args>               a call (aa: args[:2])
    failures    failures/<fid>/<aa>/<args>              a call
    metadata    metadata/<fid>/<aa>/<args>              a call (Memory's duration)
    requests    requests/<a>/<fid>.<args>               a call or a batch (a: args[0])
    claims      claims/<fid>.<args>                     a call or a batch
    breaks      breaks/<fid>.<args>.<nonce>[.<n>]       a stale claim and its nonce
    values      values/<hh>/<hash>                      a large argument, by content
    functions   functions/<fid>                         a function, by identity
    peers       peers/<peer id>                         a peer (its heartbeat)
    quarantine  quarantine/<key>.<hex>                  a refused record, kept aside

Results, failures and metadata are sharded by the arguments' hash, so a function with a
million memoized calls keeps about 3,900 entries per folder; requests are bucketed by the
first hex digit, so a peer lists a sixteenth of them to find work. A batch's address has the
function part :data:`BATCH_FUNCTION`. Changing any of this orphans every existing location:
``tests/records/test_old_records.py`` reads records of an earlier version to keep it so.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from ..identity.address import CallAddress
from ..storage.signed import quarantine_key

__all__ = [
    "BATCH_FUNCTION",
    "KINDS",
    "REQUEST_BUCKETS",
    "Key",
    "address_of",
    "break_key",
    "claim_key",
    "failure_key",
    "function_key",
    "kind_of",
    "kind_prefix",
    "metadata_key",
    "metadata_prefix",
    "parse_key",
    "peer_key",
    "quarantine_key",
    "request_bucket",
    "request_key",
    "result_key",
    "results_prefix",
    "value_key",
]

#: Every kind of record pythagoras writes, each under a folder (prefix) of its own name.
KINDS: Final = ("requests", "claims", "breaks", "results", "failures", "peers", "values",
                "functions", "metadata", "quarantine")
#: The folders of ``requests/``: the first hex digit of the arguments' hash.
REQUEST_BUCKETS: Final = "0123456789abcdef"
BATCH_FUNCTION: Final = "0" * 32  # the function part of a batch request's address

_HEX32 = re.compile("[0-9a-f]{32}")
_SHARDED = ("results", "failures", "metadata")  # <kind>/<fid>/<aa>/<args>


# -- making keys -------------------------------------------------------------------------------


def _sharded(kind: str, address: CallAddress) -> str:
    return f"{kind}/{address.function}/{address.arguments[:2]}/{address.arguments}"


def result_key(address: CallAddress) -> str:
    return _sharded("results", address)


def failure_key(address: CallAddress) -> str:
    return _sharded("failures", address)


def metadata_key(address: CallAddress) -> str:
    """Memory's metadata of the call: beside its result, under ``metadata/``."""
    return _sharded("metadata", address)


def _flat(address: CallAddress) -> str:
    return f"{address.function}.{address.arguments}"


def request_key(address: CallAddress) -> str:
    """The request for the call (or batch) at ``address``."""
    return f"requests/{address.arguments[0]}/{_flat(address)}"


def claim_key(address: CallAddress) -> str:
    return f"claims/{_flat(address)}"


def break_key(address: CallAddress, nonce: str, generation: int = 0) -> str:
    """The marker that makes one peer the breaker of the claim with ``nonce``; a later
    ``generation`` where the breaker of the one before died between its steps."""
    key = f"breaks/{_flat(address)}.{nonce}"
    return f"{key}.{generation}" if generation else key


def value_key(digest: str) -> str:
    """A large argument, by the hex digest of its content."""
    return f"values/{digest[:2]}/{digest}"


def function_key(function_id: str) -> str:
    return f"functions/{function_id}"


def peer_key(peer: str) -> str:
    return f"peers/{peer}"


def kind_prefix(kind: str) -> str:
    """The prefix every key of ``kind`` starts with."""
    if kind not in KINDS:
        raise ValueError(f"{kind!r} is not a kind of record; the kinds are {', '.join(KINDS)}")
    return f"{kind}/"


def request_bucket(bucket: str) -> str:
    """The prefix of the requests in one bucket (a hex digit)."""
    return f"requests/{bucket}/"


def results_prefix(function: str | None = None) -> str:
    """The prefix of every result, or of those of one function identity."""
    return "results/" if function is None else f"results/{function}/"


def metadata_prefix(function: str | None = None) -> str:
    """The prefix of every metadata record, or of those of one function identity."""
    return "metadata/" if function is None else f"metadata/{function}/"


# -- reading keys ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Key:
    """What a key names: its kind; the call it is about (None for the kinds that are not
    about a call); and the rest: the peer id, function id or value hash, a break marker's
    nonce (with its generation), a quarantined record's original key and tag."""

    kind: str
    address: CallAddress | None = None
    name: str = ""


def parse_key(key: str) -> Key | None:
    """What ``key`` names; None for a name pythagoras does not write (another program's
    file, a sync service's renamed copy such as OneDrive's ``name-HOST.ext``)."""
    kind, _, rest = key.partition("/")
    parts = rest.split("/")
    if kind in _SHARDED:
        address = _address(parts[0], parts[2]) if len(parts) == 3 else None
        return None if address is None else Key(kind, address)
    if kind in ("requests", "claims"):
        if len(parts) != (2 if kind == "requests" else 1):
            return None
        function, _, arguments = parts[-1].partition(".")
        address = _address(function, arguments)
        return None if address is None else Key(kind, address)
    if kind == "breaks":
        function, _, tail = rest.partition(".")
        arguments, _, nonce = tail.partition(".")
        address = _address(function, arguments) if "/" not in rest and nonce else None
        return None if address is None else Key(kind, address, nonce)
    if kind in ("values", "functions", "peers", "quarantine") and rest:
        return Key(kind, None, rest.rpartition("/")[2] if kind != "quarantine" else rest)
    return None


def kind_of(key: str) -> str | None:
    """The kind of record whose folder ``key`` is under, whether or not pythagoras wrote that
    name (a sync service's renamed copy is under its original's folder); None outside them."""
    kind, slash, rest = key.partition("/")
    return kind if slash and rest and kind in KINDS else None


def address_of(key: str) -> CallAddress | None:
    """The call a key of a result, failure, metadata record, request, claim or break marker
    is about; None for a key of another kind or a name pythagoras does not write."""
    parsed = parse_key(key)
    return None if parsed is None else parsed.address


def _address(function: str, arguments: str) -> CallAddress | None:
    if _HEX32.fullmatch(function) is None or _HEX32.fullmatch(arguments) is None:
        return None
    return CallAddress(function, arguments)
