"""What ``pythagoras clear`` deletes at a swarm's location, and deleting it.

The choices (what a leftover is, the prompt, the exit codes) are described with those of
``pythagoras status`` in :mod:`pythagoras.cli.status`; the records are listed, judged and deleted
as :mod:`pythagoras.cli.listing` does for it, through the store contract only.
"""

from __future__ import annotations

import re
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import IO

from ..identity.address import CallAddress
from ..records.keys import (
    BATCH_FUNCTION,
    KINDS,
    address_of,
    claim_key,
    failure_key,
    function_key,
    parse_key,
    peer_key,
    result_key,
    value_key,
)
from ..storage.base import Store
from ..swarm.protocol import CLAIM, REQUEST, Claim, Request
from .listing import Entry, Leases, finished_calls, leases_of, list_records, read_peers
from .location import open_location
from .stand_ins import load_record
from .status_text import plural

__all__ = ["Plan", "delete_records", "plan_clear", "run_clear", "written_by_pythagoras"]


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
            "metadata": "Memory metadata records", "quarantine": "quarantined records"}[kind]


def plan_clear(store: Store, what: str = "leftovers", *, lease_timeout: float = 30.0,
               clock: Callable[[], float] = time.time) -> Plan:
    """The records to delete for ``what``: ``"failures"``, ``"all"`` or ``"leftovers"``
    (``clock``: this machine's, as for :func:`pythagoras.cli.status.status`)."""
    if what not in ("failures", "all", "leftovers"):
        raise ValueError(f"clear what? {what!r} is not failures, all or leftovers")
    records = {kind: {key: entry for key, entry in found.items() if written_by_pythagoras(key)}
               for kind, found in list_records(store).items()}
    peers = read_peers(store, records["peers"], clock)
    leases = leases_of(peers, lease_timeout)
    live = {peer.id for peer in peers if leases.holds(peer.age, peer.id)}
    plan = Plan(store.location, live_peers=len(live))
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
        "stale peer records": [peer_key(p.id) for p in peers if p.id not in live],
        "requests of finished calls": _finished_requests(store, records),
        "stale claims of finished calls": _finished_claims(store, records, leases),
        "spent break markers": _spent_markers(store, records, leases),
        "Memory metadata records without a result": _orphan_metadata(store, records),
    }
    plan.groups = {name: keys for name, keys in groups.items() if keys}
    return plan


_HEX = re.compile("[0-9a-f]+")
_PEER = re.compile("[A-Za-z0-9_]+-[0-9]+-[0-9a-f]+")  # host-pid-hex (new_peer_id)


def written_by_pythagoras(key: str) -> bool:
    """True for a key pythagoras writes, as :mod:`pythagoras.records.keys` makes them: a
    user's ``results/notes.txt`` or a folder of their own is not one, and ``clear`` leaves it."""
    parsed = parse_key(key)
    if parsed is None:
        return False
    name = parsed.name
    if parsed.address is not None or parsed.kind == "breaks":
        return True
    if parsed.kind == "values":
        return _HEX.fullmatch(name) is not None and key == value_key(name)
    if parsed.kind == "functions":
        return len(name) == 32 and _HEX.fullmatch(name) is not None and key == function_key(name)
    if parsed.kind == "peers":
        return _PEER.fullmatch(name) is not None and key == peer_key(name)
    original, _, tag = name.rpartition(".")  # quarantine/<key>.<hex>
    return _HEX.fullmatch(tag) is not None and written_by_pythagoras(original)


def _is_finished(store: Store, address: CallAddress) -> bool:
    """Asked of the store now, not of the listing: a failure may have been cleared since."""
    return store.exists(result_key(address)) or store.exists(failure_key(address))


def _orphan_metadata(store: Store, records: dict[str, dict[str, Entry]]) -> list[str]:
    found = []
    for key in sorted(records["metadata"]):
        address = address_of(key)
        if address is not None and result_key(address) not in records["results"] \
                and not store.exists(result_key(address)):
            found.append(key)
    return found


def _finished_requests(store: Store, records: dict[str, dict[str, Entry]]) -> list[str]:
    finished = finished_calls(records)
    found = []
    for key in sorted(records["requests"]):
        address = address_of(key)
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
                     leases: Leases) -> list[str]:
    finished = finished_calls(records)
    found = []
    for key in sorted(records["claims"]):
        address = address_of(key)
        if address is None or address.function == BATCH_FUNCTION or address not in finished:
            continue  # a batch's members are named by its request, which may be gone
        if not leases.fresh(store.age(key)) and _is_finished(store, address):
            found.append(key)
    return found


def _spent_markers(store: Store, records: dict[str, dict[str, Entry]],
                   leases: Leases) -> list[str]:
    """Markers older than the lease whose claim is gone or neither has their nonce nor was
    taken with them: no breaker is between its steps any more, and no claim will name them."""
    found = []
    for key in sorted(records["breaks"]):
        parsed = parse_key(key)
        if parsed is None or parsed.address is None or leases.fresh(store.age(key)):
            continue
        claimed = claim_key(parsed.address)
        if store.read(claimed) is not None:
            claim = load_record(store, claimed, CLAIM)
            nonce = parsed.name.partition(".")[0]  # without the marker's generation
            if not isinstance(claim, Claim) or claim.nonce == nonce or claim.broke == key:
                continue  # in use, or unreadable: kept
        found.append(key)
    return found


def delete_records(store: Store, keys: list[str]) -> None:
    """Delete the keys by the store's bulk delete (on S3 1,000 a request; on a local folder
    the folders it empties go too: peers make them again as they write)."""
    if keys:
        store.backing.delete_many(keys)  # deleting needs no signatures


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


