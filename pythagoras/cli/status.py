"""What ``pythagoras status`` shows and ``pythagoras clear`` deletes at a swarm's location.

The command line (:mod:`pythagoras.cli.commands`) only parses arguments and calls :func:`run_status` and
:func:`run_clear`; everything else is here. ``docs/cli.md`` is the user's description, and
``docs/protocol.md`` that of the records read here. Choices where issue 8 is silent:

**Opening.** LOCATION is optional and defaults to the embedded default location, as for
``pythagoras worker``; ``--storage-options JSON`` is parsed the same way. Neither command
creates anything: a plain path or ``file://`` URL is checked before it is opened (opening a
local folder creates it, which a worker wants and ``status`` must not), and a path that does
not exist, is not a folder or cannot be read is one line on stderr and exit code 2, as is any
error opening the store (an unknown URL scheme, a missing bucket, bad storage options).

**What is read.** Only the kinds of record pythagoras writes (:data:`KINDS`, one folder or
prefix each, parsed by :mod:`pythagoras.records.keys`) are looked at, so a location that shares
a folder or bucket with other files reports, and ``clear --all`` deletes, only pythagoras's.
The records are listed once, with their sizes and ages, by the store contract's
:meth:`~pythagoras.storage.base.Store.scan`: on a local folder one ``scandir`` per folder; on an
fsspec store one listing (on S3 one request per 1,000 keys, where a HEAD per key would be one
request per key); on another plugin's store a listing and a size and age per key.
A few records are then read: peers, live claims, batch requests (to count their members), the
failures shown and their functions. None is unpickled as a peer would: anyone who can write
the location can write them, so each is loaded by an allow-list unpickler that runs no code
from it (:mod:`pythagoras.cli.stand_ins`): the classes of a request's arguments and a failure's
exception are inert stand-ins (a failure's type name and message are fields of its own), a
function's name is read from its record's fields. A record that names anything else is
*unreadable*: left as it is, counted as its kind counts a record it cannot read (a claim holds
while it is fresh; a peer shows what its id tells), and listed under ``unreadable``.

**Counts.** ``pending``: calls of requests nobody holds a live claim on (no claim, or a stale
one); ``running``: calls under a live claim, with or without a request (a peer with a free
worker claims its own calls without writing one); a batch counts its members that have neither
a result nor a failure, and a batch claimed without a request, whose members are unknown here,
counts as one. ``done``: result records; ``failed``: failure records. A request or claim of a
call that is finished already (a peer died between publishing and retiring) is in neither.

**Liveness** is the protocol's lease rule (:func:`pythagoras.swarm.protocol.lease_holds`, as
the swarm's peers apply it): a peer record or claim is live while its age by the store's clock,
corrected by this machine's clock skew, is at most ``--lease-timeout`` (default 30 s, the
swarm's default; peers do not record theirs) and its holder is not a process of this machine
that no longer exists. The skew is measured from a peer record of this host, without writing
anything (:mod:`pythagoras.cli.listing`). Stale peers are listed with the live ones, marked
``stale``.

**Clearing.** ``--failures`` deletes failure records (so those calls run again when they are
next called); ``--all`` deletes every record of every kind pythagoras writes at the location,
results included, by the contract's bulk delete
(:meth:`~pythagoras.storage.base.Store.delete_many`), which on a local folder also removes the
folders it emptied (the location's own folder stays). With neither, ``clear`` deletes only
*leftovers*: records no peer will read again, so that the swarm behaves exactly as before
(nothing runs again, nothing is lost):

- peer records whose heartbeat is stale (a killed peer's; a clean exit deletes its own);
- requests of calls that have a result or a failure, and stale claims of such calls;
- break markers older than the lease that no claim refers to any more;
- Memory's metadata records whose result is gone.

Requests of dead submitters are not leftovers: any peer may still run them and memoize their
results. Stale claims of unfinished calls are not either: they carry the count of attempts that
stops a call that kills its peers. ``--all`` and ``--failures`` cover the rest.

Before deleting, ``clear`` asks ``Delete N records at LOCATION? [y/N]`` on stderr and reads the
answer from stdin; ``--yes`` skips the question, and without ``--yes`` a stdin that is not a
terminal is a refusal (exit code 1), so that a script never deletes by accident. Exit codes:
0 done (or nothing to do), 1 refused or answered no, 2 a usage or location error.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, MutableMapping
from typing import IO, Any

from ..identity.address import CallAddress
from ..records.functions import function_name, function_portable, function_python
from ..records.keys import BATCH_FUNCTION, KINDS, address_of, function_key, parse_key
from ..storage.base import Store
from ..swarm.protocol import FAILURE, FUNCTION, REQUEST, Failure, Request
from .listing import (
    Entry,
    Leases,
    finished_calls,
    leases_of,
    list_records,
    peer_report,
    planted_links,
    read_peers,
)
from .location import open_location
from .stand_ins import load_record
from .status_text import format_status

__all__ = ["KINDS", "Entry", "format_status", "list_records", "open_location", "run_status",
           "status"]


Refused = MutableMapping[str, str]  # the unreadable records met, by key: why


def _calls_of_request(store: Store, key: str, address: CallAddress,
                      finished: set[CallAddress], refused: Refused) -> int:
    """How many calls of the request have neither a result nor a failure."""
    if address.function != BATCH_FUNCTION:
        return 0 if address in finished else 1
    request = load_record(store, key, REQUEST, refused)
    if not isinstance(request, Request) or not request.members:
        return 1  # unreadable here: count it as one
    return sum(1 for member in request.members if member.address not in finished)


def _bytecode_only(store: Store, function_id: str, known: dict[str, str | None],
                   refused: Refused) -> str | None:
    """The Python version whose peers alone can run the function: its record holds its
    bytecode and no source (``function_records``); None if any peer can."""
    if function_id not in known:
        record = load_record(store, function_key(function_id), FUNCTION, refused)
        known[function_id] = None if function_portable(record) else function_python(record)
    return known[function_id]


def _name_from_traceback(failure: Failure) -> str | None:
    """The function a failed call entered, by its traceback's frames."""
    frames = [line.strip() for line in failure.traceback.splitlines()
              if line.strip().startswith("File ") and ", in " in line]
    for i, line in enumerate(frames[:-1]):
        if line.endswith(", in run_call"):  # a worker of an earlier version's frame
            return frames[i + 1].rpartition(", in ")[2]
    if frames and not frames[0].endswith(", in run_call"):  # from the call's own frame on
        return frames[0].rpartition(", in ")[2]
    return None


def _function_name(store: Store, address: CallAddress, failure: Failure | None,
                   functions: dict[str, Entry], refused: Refused) -> str | None:
    """The failed call's function: from the function record where the swarm stored one (its
    name field; a record of before the field is not loaded), else the frame the call's
    traceback entered it by."""
    key = function_key(address.function)
    if key in functions:
        name = function_name(load_record(store, key, FUNCTION, refused))
        if name:
            return name
    return _name_from_traceback(failure) if failure is not None else None


def _failure_report(address: CallAddress, age: float, name: str | None,
                    failure: Failure | None) -> dict[str, Any]:
    return {
        "function": name,
        "function_id": address.function,
        "arguments": address.arguments,
        "age": round(age, 3),
        "kind": failure.kind if failure else None,
        "type": failure.type_name if failure else None,
        "message": failure.message if failure else "(the failure record cannot be read here)",
        "peer": failure.peer if failure else None,
        "attempts": failure.attempts if failure else None,
        "traceback": failure.traceback if failure else None,
    }


def _recent_failures(store: Store, records: dict[str, dict[str, Entry]],
                     count: int, refused: Refused) -> list[dict[str, Any]]:
    failures = records["failures"]
    if count <= 0 or not failures:
        return []
    shown = []
    names: dict[str, str | None] = {}  # by function id: each function record is read once
    for key in sorted(failures, key=lambda k: failures[k].age)[:count]:
        address = address_of(key)
        age = store.age(key)
        if address is None or age is None:
            continue
        found = load_record(store, key, FAILURE, refused)
        failure = found if isinstance(found, Failure) else None
        if names.get(address.function) is None:
            names[address.function] = _function_name(store, address, failure,
                                                     records["functions"], refused)
        shown.append(_failure_report(address, age, names[address.function], failure))
    return shown


def _count_calls(store: Store, records: dict[str, dict[str, Entry]],
                 leases: Leases, refused: Refused) -> dict[str, Any]:
    """Pending, running, done and failed calls, and the stale claims."""
    finished = finished_calls(records)
    claimed = {key: address_of(key) for key in records["claims"]}
    live = {a for key, a in claimed.items()
            if a is not None and leases.claim_is_live(store, key, refused)}
    stale_claims = sum(1 for a in claimed.values() if a is not None) - len(live)
    pending = running = 0
    requested: set[CallAddress] = set()
    bound: dict[str, int] = {}  # pending calls that only peers of that Python can run
    pythons: dict[str, str | None] = {}
    for key in records["requests"]:
        address = address_of(key)
        if address is None:
            continue
        requested.add(address)
        calls = _calls_of_request(store, key, address, finished, refused)
        if address in live:
            running += calls
            continue
        pending += calls
        python = _bytecode_only(store, address.function, pythons, refused) if calls else None
        if python is not None:
            bound[python] = bound.get(python, 0) + calls
    # A peer with a free worker claims its own calls without writing a request.
    running += sum(1 for address in live - requested if address not in finished)
    return {"pending": pending, "running": running, "done": len(records["results"]),
            "failed": len(records["failures"]), "pending_only_for_python": bound,
            "stale_claims": stale_claims}


def status(store: Store, *, lease_timeout: float = 30.0, recent: int = 5,
           clock: Callable[[], float] = time.time) -> dict[str, Any]:
    """What the location holds, as one JSON-ready dict (``docs/cli.md`` describes its fields).
    ``clock`` is this machine's, by which peers of this host date their records."""
    records = list_records(store)
    refused: dict[str, str] = {}
    peers = read_peers(store, records["peers"], clock, refused)
    leases = leases_of(peers, lease_timeout)
    calls = _count_calls(store, records, leases, refused)
    stale_claims = calls.pop("stale_claims")
    kinds = {kind: {"records": len(entries), "bytes": sum(e.size for e in entries.values())}
             for kind, entries in records.items()}
    return {
        "location": store.location,
        "lease_timeout": lease_timeout,
        "peers": [peer_report(peer, leases) for peer in peers],
        "calls": calls,
        "stale_claims": stale_claims,
        "store": {"records": sum(k["records"] for k in kinds.values()),
                  "bytes": sum(k["bytes"] for k in kinds.values()), "kinds": kinds},
        "recent_failures": _recent_failures(store, records, recent, refused),
        # Records a peer with the swarm's secret refused: unsigned, or signed with another one.
        "refused": sorted(parsed.name for parsed in map(parse_key, records["quarantine"])
                          if parsed is not None),
        # Records not loaded: they name code that no record of their kind holds.
        "unreadable": [{"key": key, "why": why} for key, why in sorted(refused.items())],
        # Links (and pipes, devices) planted among the records: never followed.
        "links": planted_links(store),
    }


def run_status(location: str | None, *, storage_options: dict[str, object] | None = None,
               lease_timeout: float = 30.0, recent: int = 5, as_json: bool = False,
               out: IO[str] | None = None) -> int:
    """``pythagoras status``: print the report; the exit code."""
    store = open_location(location, storage_options)
    report = status(store, lease_timeout=lease_timeout, recent=recent)
    out = out if out is not None else sys.stdout
    print(json.dumps(report, indent=2) if as_json else format_status(report), file=out)
    return 0
