"""What ``pythagoras clear`` deletes at a swarm's location, and deleting it.

The choices (what a leftover is, the prompt, the exit codes) are described with those of
``pythagoras status`` in :mod:`pythagoras.cli.status`, whose listing of records this reads.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from typing import IO

from ..identity.address import CallAddress
from ..storage.base import Store
from ..storage.fsspec_store import FsspecStore
from ..storage.local import LocalFolderStore
from ..swarm.protocol import BATCH_FUNCTION, CLAIM, REQUEST, Claim, Request, failure_key
from .status import (
    KINDS,
    Entry,
    address_of_key,
    finished_calls,
    is_fresh,
    list_records,
    load_record,
    open_location,
    plural,
    read_peers,
)

__all__ = ["Plan", "delete_records", "plan_clear", "run_clear"]

# -- clear -------------------------------------------------------------------------------------


@dataclass
class Plan:
    """What ``clear`` would delete: keys by what they are, in the order they are shown."""

    location: str
    groups: dict[str, list[str]] = field(default_factory=dict)
    live_peers: int = 0

    @property
    def total(self) -> int:
        return sum(len(keys) for keys in self.groups.values())


def _record_name(kind: str) -> str:
    return {"requests": "requests", "claims": "claims", "breaks": "break markers",
            "results": "results", "failures": "failures", "peers": "peer records",
            "values": "stored arguments", "functions": "functions",
            "metadata": "Memory metadata records"}[kind]


def plan_clear(store: Store, what: str = "leftovers", *, lease_timeout: float = 30.0) -> Plan:
    """The records to delete for ``what``: ``"failures"``, ``"all"`` or ``"leftovers"``."""
    if what not in ("failures", "all", "leftovers"):
        raise ValueError(f"clear what? {what!r} is not failures, all or leftovers")
    records = list_records(store)
    peers = read_peers(store, records["peers"], lease_timeout)
    plan = Plan(store.location, live_peers=sum(1 for p in peers if p["live"]))
    if what == "all":
        for kind in KINDS:
            if records[kind]:
                plan.groups[_record_name(kind)] = sorted(records[kind])
        return plan
    if what == "failures":
        if records["failures"]:
            plan.groups["failures"] = sorted(records["failures"])
        return plan
    groups = {
        "stale peer records": [f"peers/{p['id']}" for p in peers if not p["live"]],
        "requests of finished calls": _finished_requests(store, records),
        "stale claims of finished calls": _finished_claims(store, records, lease_timeout),
        "spent break markers": _spent_markers(store, records, lease_timeout),
        "Memory metadata records without a result": [
            key for key in sorted(records["metadata"])
            if f"results/{key.partition('/')[2]}" not in records["results"]
            and not store.exists(f"results/{key.partition('/')[2]}")],
    }
    plan.groups = {name: keys for name, keys in groups.items() if keys}
    return plan


def _is_finished(store: Store, address: CallAddress) -> bool:
    """Asked of the store now, not of the listing: a failure may have been cleared since."""
    return store.exists(address.result_key) or store.exists(failure_key(address))


def _finished_requests(store: Store, records: dict[str, dict[str, Entry]]) -> list[str]:
    finished = finished_calls(records)
    found = []
    for key in sorted(records["requests"]):
        address = address_of_key(key)
        if address is None:
            continue
        if address.function == BATCH_FUNCTION:
            request = load_record(store, key, REQUEST)
            if isinstance(request, Request) and request.members and all(
                    m.address in finished and _is_finished(store, m.address)
                    for m in request.members):
                found.append(key)
        elif address in finished and _is_finished(store, address):
            found.append(key)
    return found


def _finished_claims(store: Store, records: dict[str, dict[str, Entry]],
                     lease_timeout: float) -> list[str]:
    finished = finished_calls(records)
    found = []
    for key in sorted(records["claims"]):
        address = address_of_key(key)
        if address is None or address.function == BATCH_FUNCTION or address not in finished:
            continue  # a batch's members are named by its request, which may be gone
        if not is_fresh(store.age(key), lease_timeout) and _is_finished(store, address):
            found.append(key)
    return found


def _spent_markers(store: Store, records: dict[str, dict[str, Entry]],
                   lease_timeout: float) -> list[str]:
    """Markers older than the lease whose claim is gone or neither has their nonce nor was
    taken with them: no breaker is between its steps any more, and no claim will name them."""
    found = []
    for key in sorted(records["breaks"]):
        claim_name, _, nonce = key.partition("/")[2].rpartition(".")
        if is_fresh(store.age(key), lease_timeout):
            continue
        claim_key = f"claims/{claim_name}"
        if store.read(claim_key) is not None:
            claim = load_record(store, claim_key, CLAIM)
            if not isinstance(claim, Claim) or claim.nonce == nonce or claim.broke == key:
                continue  # in use, or unreadable: kept
        found.append(key)
    return found


def delete_records(store: Store, keys: list[str]) -> None:
    """Delete the keys: in batches of 1,000 per request on an fsspec store (S3's DeleteObjects),
    one at a time elsewhere; on a local folder, then remove the emptied folders under the
    location (peers make them again as they write)."""
    if not keys:
        return
    store = store.backing  # deleting needs no signatures
    if isinstance(store, FsspecStore):
        root = store.root
        try:
            store.fs.rm([f"{root}/{key}" for key in keys])
        except FileNotFoundError:
            pass  # deleted meanwhile
    else:
        for key in keys:
            store.discard(key)
    if isinstance(store, LocalFolderStore):
        for kind in sorted({key.partition("/")[0] for key in keys}):
            _remove_empty_folders(os.path.join(store.location, kind))
        _remove_empty_folders(os.path.join(store.location, ".tmp"))  # the writers' temp files


def _remove_empty_folders(top: str) -> None:
    for directory, _, _ in os.walk(top, topdown=False):
        try:
            os.rmdir(directory)
        except OSError:
            pass  # not empty: a record, or one a peer just wrote


def _describe(plan: Plan) -> list[str]:
    width = max(len(str(len(keys))) for keys in plan.groups.values())
    return [f"  {len(keys):>{width}} {_counted(len(keys), name)}"
            for name, keys in plan.groups.items()]


def _counted(count: int, plural: str) -> str:
    """``plural`` ("stale peer records") with its first plural word made singular for 1."""
    if count != 1:
        return plural
    words = plural.split(" ")
    for i, word in enumerate(words):
        if word.endswith("s"):
            words[i] = word[:-1]
            break
    return " ".join(words)


def run_clear(location: str | None, what: str = "leftovers", *,
              storage_options: dict[str, object] | None = None, lease_timeout: float = 30.0,
              yes: bool = False, stdin: IO[str] | None = None, out: IO[str] | None = None,
              err: IO[str] | None = None) -> int:
    """``pythagoras clear``: plan, confirm (unless ``yes``), delete, report; the exit code."""
    stdin = stdin if stdin is not None else sys.stdin
    out = out if out is not None else sys.stdout
    err = err if err is not None else sys.stderr
    store = open_location(location, storage_options)
    plan = plan_clear(store, what, lease_timeout=lease_timeout)
    where = plan.location
    if not plan.total:
        nothing = {"failures": "no failures", "all": "no records",
                   "leftovers": "no leftovers"}[what]
        print(f"{nothing} at {where}: nothing to delete", file=out)
        return 0
    if not yes:
        count = plural(plan.total, "record")
        if not stdin.isatty():
            print(f"pythagoras clear: would delete {count} at {where}, but stdin is not a "
                  "terminal to confirm on; pass --yes to delete without asking", file=err)
            return 1
        print("\n".join([f"at {where}:", *_describe(plan)]), file=err)
        if what == "all" and plan.live_peers:
            print(f"  {plural(plan.live_peers, 'peer')} live there: the calls they are "
                  "running now still write their results", file=err)
        print(f"Delete {count} at {where}? [y/N] ", end="", file=err, flush=True)
        try:
            answer = stdin.readline()
        except KeyboardInterrupt:
            answer = ""
        if answer.strip().lower() not in ("y", "yes"):
            print("nothing deleted", file=err)
            return 1
    for keys in plan.groups.values():
        delete_records(store, keys)
    print("\n".join([f"deleted {plural(plan.total, 'record')} at {where}:", *_describe(plan)]),
          file=out)
    return 0


