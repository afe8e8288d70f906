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
prefix each) are looked at, so a location that shares a folder or bucket with other files
reports, and ``clear --all`` deletes, only pythagoras's. The records are listed once, with
their sizes: on a local folder one ``stat`` per record; on an fsspec store one listing of the
location (sizes and dates come with it: on S3 one request per 1,000 keys, where a HEAD per key
would be one request per key); on another plugin's store a listing and ``Store.size`` per key.
A few records are then read: peers, live claims, batch requests (to count their members), the
failures shown and their functions. Peer, claim and failure records are unpickled, as every
peer of the swarm does: a class this process cannot import (an exception of a module that is
not installed here) is replaced by a stand-in, so that its type name and message still show.

**Counts.** ``pending``: calls of requests nobody holds a live claim on (no claim, or a stale
one); ``running``: calls under a live claim, with or without a request (a peer with a free
worker claims its own calls without writing one); a batch counts its members that have neither
a result nor a failure, and a batch claimed without a request, whose members are unknown here,
counts as one. ``done``: result records; ``failed``: failure records. A request or claim of a
call that is finished already (a peer died between publishing and retiring) is in neither.

**Liveness** is the protocol's lease rule (:meth:`pythagoras.swarm.swarm.Swarm.live_peers`,
:meth:`~pythagoras.swarm.swarm.Swarm.claim`): a peer record or claim is live while its age by the
store's clock is at most ``--lease-timeout`` (default 30 s, the swarm's default; peers do not
record theirs) and its holder is not a process of this machine that no longer exists.
Stale peers are listed with the live ones, marked ``stale``.

**Clearing.** ``--failures`` deletes failure records (so those calls run again when they are
next called); ``--all`` deletes every record of every kind pythagoras writes at the location,
results included, and on a local folder the emptied folders under it (the location's own folder
stays). With neither, ``clear`` deletes only *leftovers*: records no peer will read again,
so that the swarm behaves exactly as before (nothing runs again, nothing is lost):

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
import os
import stat
import sys
import types
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import IO, Any, Final
from urllib.parse import unquote, urlparse

from ..errors import CorruptRecord, StoreError
from ..identity.address import CallAddress
from ..records.frames import Unpickler, load_value, unframe
from ..records.functions import function_name, function_portable, function_python
from ..storage.base import Store, is_debris
from ..storage.fsspec_store import FsspecStore, modified_time
from ..storage.local import LocalFolderStore
from ..storage.location import resolve_location
from ..storage.plugins import open_store
from ..swarm.protocol import (
    BATCH_FUNCTION,
    CLAIM,
    FAILURE,
    FUNCTION,
    PEER,
    REQUEST,
    Claim,
    Failure,
    Request,
    holder_is_gone,
)
from ..swarm.swarm import Swarm

__all__ = [
    "KINDS",
    "Entry",
    "format_status",
    "list_records",
    "open_location",
    "run_status",
    "status",
]

#: The kinds of record pythagoras writes, each under a folder (prefix) of its own name.
KINDS: Final = ("requests", "claims", "breaks", "results", "failures", "peers", "values",
                "functions", "metadata", "quarantine")


# -- opening -----------------------------------------------------------------------------------


def open_location(location: str | None, storage_options: dict[str, object] | None = None,
                  secret: str | bytes | os.PathLike[str] | None = None) -> Store:
    """The store at ``location`` (None: the default location), creating nothing.

    Raises :class:`StoreError` with a one-line message for a local path that does not exist,
    is not a folder or cannot be read, and for any error opening another store.
    """
    where = resolve_location(location)
    path = _local_path(where)
    if path is not None:
        _check_folder(path)
    try:
        return open_store(where, storage_options, secret=secret)
    except StoreError:
        raise
    except Exception as e:  # a backend's own error for bad options or credentials
        raise StoreError(f"cannot open {where!r}: {type(e).__name__}: {e}") from e


def _local_path(location: str) -> str | None:
    """The folder the local store would open for ``location``; None for another store's URL."""
    if "://" not in location:
        path = location
    else:
        parsed = urlparse(location)
        if parsed.scheme != "file" or parsed.netloc not in ("", "localhost"):
            return None  # another store's, or a file:// URL the store itself refuses
        path = unquote(parsed.path)
    return os.path.abspath(os.path.expanduser(path)) if path else None


def _check_folder(path: str) -> None:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise StoreError(f"no folder at {path}: nothing has used it as a swarm (status and clear "
                         "create nothing; a worker or an executor creates it)") from None
    except NotADirectoryError:
        raise StoreError(f"{path} is not a folder: part of its path is a file") from None
    except OSError as e:
        raise StoreError(f"cannot read {path}: {e.strerror or e}") from None
    if not stat.S_ISDIR(st.st_mode):
        raise StoreError(f"{path} is a file, not a folder; give the swarm's folder")
    try:
        with os.scandir(path):
            pass
    except OSError as e:
        raise StoreError(f"cannot read the folder {path}: {e.strerror or e}") from None


# -- listing -----------------------------------------------------------------------------------


@dataclass
class Entry:
    """A record as listed: its size, and when it was written by the store's clock (a
    timestamp, for ordering), where the listing tells."""

    size: int | None
    written: float | None = None


def list_records(store: Store) -> dict[str, dict[str, Entry]]:
    """Every record of each of :data:`KINDS`, by kind and key, with its size: one listing pass."""
    found: dict[str, dict[str, Entry]] = {kind: {} for kind in KINDS}
    store = store.backing  # listing and sizes need no signatures
    if isinstance(store, LocalFolderStore):
        for kind in KINDS:
            for key in store.list(f"{kind}/"):
                try:
                    st = os.stat(os.path.join(store.location, *key.split("/")))
                except (FileNotFoundError, NotADirectoryError):
                    continue  # deleted since it was listed
                found[kind][key] = Entry(st.st_size, st.st_mtime)
    elif isinstance(store, FsspecStore):
        root = store.root
        infos: dict[str, dict[str, Any]] = store.fs.find(root, detail=True)
        for path, info in infos.items():
            if not path.startswith(root + "/") or info.get("type", "file") != "file":
                continue
            key = path[len(root) + 1:]
            kind = key.partition("/")[0]
            if kind in found and "/" in key and not is_debris(key.rpartition("/")[2]):
                found[kind][key] = Entry(int(info.get("size") or 0), modified_time(info))
    else:
        for kind in KINDS:
            for key in store.list(f"{kind}/"):
                size = store.size(key)
                if size is not None:
                    found[kind][key] = Entry(size)
    return found


def address_of_key(key: str) -> CallAddress | None:
    """The call a request, claim, result, failure or metadata key belongs to."""
    kind = key.partition("/")[0]
    if kind in ("requests", "claims"):
        return Swarm.address_of(key)
    parts = key.split("/")
    if len(parts) != 4:
        return None
    return Swarm.address_of(f"{parts[1]}.{parts[3]}")


# -- reading records ---------------------------------------------------------------------------


def load_record(store: Store, key: str, kind: bytes) -> Any:
    """The record's value; None where it is absent, corrupt or cannot be unpickled even with
    stand-ins for the classes this process cannot import."""
    data = store.read(key)
    if data is None:
        return None
    try:
        payload = unframe(data, kind)
    except CorruptRecord:
        return None
    try:
        return load_value(payload)
    except Exception:
        pass
    try:
        return _load_with_stand_ins(payload)
    except Exception:
        return None


class _StandIn:
    """An instance of a class that this process cannot import."""

    def __new__(cls, *args: Any, **kwargs: Any) -> _StandIn:
        return object.__new__(cls)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.args = args

    def __setstate__(self, state: Any) -> None:
        if isinstance(state, tuple) and len(state) == 2:  # (dict, slots)
            state = {**(state[0] or {}), **(state[1] or {})}
        if isinstance(state, dict):
            self.__dict__.update(state)

    def __call__(self, *args: Any, **kwargs: Any) -> _StandIn:
        return self


def _tolerant_import(importer: Callable[..., Any]) -> Callable[..., Any]:
    """cloudpickle's import of a module a function refers to, giving an empty module where
    the module is not installed here."""
    def load(name: str, *args: Any) -> Any:
        try:
            return importer(name, *args)
        except ImportError:
            return types.ModuleType(name)
    return load


class _TolerantUnpickler(Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        try:
            found = super().find_class(module, name)
        except (ImportError, AttributeError):
            return type(name.rpartition(".")[2], (_StandIn,),
                        {"__module__": module, "__qualname__": name})
        if module.startswith("cloudpickle") and name in ("subimport", "dynamic_subimport"):
            return _tolerant_import(found)
        return found


def _load_with_stand_ins(payload: memoryview) -> Any:
    """:func:`pythagoras.records.frames.load_value`, with stand-ins for missing classes and modules."""
    return load_value(payload, unpickler=_TolerantUnpickler)


# -- status ------------------------------------------------------------------------------------


def is_fresh(age: float | None, lease_timeout: float) -> bool:
    """The protocol's lease rule: a record at most ``lease_timeout`` old is held."""
    return age is not None and age <= lease_timeout


def _claim_is_live(store: Store, key: str, lease_timeout: float) -> bool:
    if not is_fresh(store.age(key), lease_timeout):
        return False
    claim = load_record(store, key, CLAIM)
    return not (isinstance(claim, Claim) and holder_is_gone(claim.peer))


def _calls_of_request(store: Store, key: str, address: CallAddress,
                      finished: set[CallAddress]) -> int:
    """How many calls of the request have neither a result nor a failure."""
    if address.function != BATCH_FUNCTION:
        return 0 if address in finished else 1
    request = load_record(store, key, REQUEST)
    if not isinstance(request, Request) or not request.members:
        return 1  # unreadable here: count it as one
    return sum(1 for member in request.members if member.address not in finished)


def _bytecode_only(store: Store, function_id: str, known: dict[str, str | None]) -> str | None:
    """The Python version whose peers alone can run the function: its record holds its
    bytecode and no source (``function_records``); None if any peer can."""
    if function_id not in known:
        record = load_record(store, f"functions/{function_id}", FUNCTION)
        known[function_id] = None if function_portable(record) else function_python(record)
    return known[function_id]


def finished_calls(records: dict[str, dict[str, Entry]]) -> set[CallAddress]:
    found = set()
    for kind in ("results", "failures"):
        for key in records[kind]:
            address = address_of_key(key)
            if address is not None:
                found.add(address)
    return found


def read_peers(store: Store, keys: Iterable[str], lease_timeout: float) -> list[dict[str, Any]]:
    peers = []
    for key in sorted(keys):
        peer_id = key.rpartition("/")[2]
        age = store.age(key)
        if age is None:
            continue  # the peer exited since the listing
        info = load_record(store, key, PEER)
        info = info if isinstance(info, dict) else {}
        host, _, rest = peer_id.rpartition("-")[0].rpartition("-")
        pid = info.get("pid", int(rest) if rest.isdigit() else None)
        peers.append({
            "id": peer_id,
            "host": info.get("host", host or None),
            "pid": pid,
            "workers": info.get("workers"),
            "serving": info.get("serving"),
            "python": info.get("python"),
            "heartbeat_age": round(age, 3),
            "live": is_fresh(age, lease_timeout) and not holder_is_gone(peer_id),
        })
    return peers


def _function_name(store: Store, address: CallAddress, failure: Failure | None,
                   functions: dict[str, Entry]) -> str | None:
    """The failed call's function: from the function record where the swarm stored one, else
    the frame the call's traceback entered it by."""
    key = f"functions/{address.function}"
    if key in functions:
        func = load_record(store, key, FUNCTION)
        if function_name(func) is not None:
            return function_name(func)
        if isinstance(func, tuple) and func:  # (function, origins of its code)
            func = func[0]
        name = getattr(func, "__qualname__", None) or getattr(func, "__name__", None)
        if isinstance(name, str) and name:
            return name
    if failure is not None:
        frames = [line.strip() for line in failure.traceback.splitlines()
                  if line.strip().startswith("File ") and ", in " in line]
        for i, line in enumerate(frames[:-1]):
            if line.endswith(", in run_call"):  # a worker of an earlier version's frame
                return frames[i + 1].rpartition(", in ")[2]
        if frames and not frames[0].endswith(", in run_call"):  # from the call's own frame on
            return frames[0].rpartition(", in ")[2]
    return None


def _recent_failures(store: Store, records: dict[str, dict[str, Entry]],
                     count: int) -> list[dict[str, Any]]:
    failures = records["failures"]
    if count <= 0 or not failures:
        return []
    if all(entry.written is not None for entry in failures.values()):
        newest = sorted(failures, key=lambda k: -(failures[k].written or 0.0))[:count]
    else:
        ages = {key: store.age(key) for key in failures}
        newest = sorted((k for k in ages if ages[k] is not None), key=lambda k: ages[k] or 0.0)
        newest = newest[:count]
    shown = []
    names: dict[str, str | None] = {}  # by function id: each function record is read once
    for key in newest:
        address = address_of_key(key)
        age = store.age(key)
        if address is None or age is None:
            continue
        failure = load_record(store, key, FAILURE)
        failure = failure if isinstance(failure, Failure) else None
        if address.function not in names or names[address.function] is None:
            names[address.function] = _function_name(store, address, failure, records["functions"])
        shown.append({
            "function": names[address.function],
            "function_id": address.function,
            "arguments": address.arguments,
            "age": round(age, 3),
            "kind": failure.kind if failure else None,
            "type": failure.type_name if failure else None,
            "message": failure.message if failure else "(the failure record cannot be read here)",
            "peer": failure.peer if failure else None,
            "attempts": failure.attempts if failure else None,
            "traceback": failure.traceback if failure else None,
        })
    return shown


def status(store: Store, *, lease_timeout: float = 30.0, recent: int = 5) -> dict[str, Any]:
    """What the location holds, as one JSON-ready dict (``docs/cli.md`` describes its fields)."""
    records = list_records(store)
    finished = finished_calls(records)
    live: set[CallAddress] = set()
    stale_claims = 0
    for key in records["claims"]:
        address = address_of_key(key)
        if address is None:
            continue
        if _claim_is_live(store, key, lease_timeout):
            live.add(address)
        else:
            stale_claims += 1
    pending = running = 0
    requested: set[CallAddress] = set()
    bound: dict[str, int] = {}  # pending calls that only peers of that Python can run
    pythons: dict[str, str | None] = {}
    for key in records["requests"]:
        address = address_of_key(key)
        if address is None:
            continue
        requested.add(address)
        calls = _calls_of_request(store, key, address, finished)
        if address in live:
            running += calls
            continue
        pending += calls
        python = _bytecode_only(store, address.function, pythons) if calls else None
        if python is not None:
            bound[python] = bound.get(python, 0) + calls
    # A peer with a free worker claims its own calls without writing a request.
    running += sum(1 for address in live - requested if address not in finished)
    kinds = {kind: {"records": len(entries), "bytes": sum(e.size or 0 for e in entries.values())}
             for kind, entries in records.items()}
    return {
        "location": store.location,
        "lease_timeout": lease_timeout,
        "peers": read_peers(store, records["peers"], lease_timeout),
        "calls": {"pending": pending, "running": running, "done": len(records["results"]),
                  "failed": len(records["failures"]), "pending_only_for_python": bound},
        "stale_claims": stale_claims,
        "store": {"records": sum(k["records"] for k in kinds.values()),
                  "bytes": sum(k["bytes"] for k in kinds.values()), "kinds": kinds},
        "recent_failures": _recent_failures(store, records, recent),
        # Records a peer with the swarm's secret refused: unsigned, or signed with another one.
        "refused": sorted(key.removeprefix("quarantine/") for key in records["quarantine"]),
    }


def _ago(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds / size:.0f}{unit} ago"
    return f"{seconds:.0f}s ago"


def _size(count: int) -> str:
    value = float(count)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{count} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{count} B"


def _table(rows: list[list[str]], indent: str) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return [indent + "  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip()
            for row in rows]


def plural(count: int, word: str) -> str:
    return f"{count} {word}" + ("" if count == 1 else "s")


def _short_type(type_name: str | None) -> str:
    if not type_name:
        return "?"
    return type_name.removeprefix("builtins.")


def format_status(report: dict[str, Any]) -> str:
    """The report as a few aligned lines."""
    pad = " " * 10
    lines = [f"{'location':<10}{report['location']}"]
    peers = report["peers"]
    live = [p for p in peers if p["live"]]
    workers = sum(p["workers"] for p in live if isinstance(p["workers"], int))
    summary = (f"{len(live)} live ({plural(workers, 'worker')}), {len(peers) - len(live)} stale"
               f"   (lease {report['lease_timeout']:g} s)" if peers else "none")
    lines.append(f"{'peers':<10}{summary}")
    if peers:
        rows = [["HOST", "PID", "PYTHON", "WORKERS", "SERVING", "HEARTBEAT", "STATE"]]
        for p in peers:
            serving = {True: "yes", False: "no"}.get(p["serving"], "?")
            rows.append([str(p["host"]), str(p["pid"]), str(p.get("python") or "?"), str(p["workers"]),
                         serving, _ago(p["heartbeat_age"]), "live" if p["live"] else "stale"])
        lines += _table(rows, pad)
    calls = report["calls"]
    text = (f"{calls['pending']} pending, {calls['running']} running, {calls['done']} done, "
            f"{calls['failed']} failed")
    if report["stale_claims"]:
        text += f"   ({plural(report['stale_claims'], 'stale claim')})"
    lines.append(f"{'calls':<10}{text}")
    for python, count in sorted(calls.get("pending_only_for_python", {}).items()):
        lines.append(f"{'':<10}{count} pending only for peers of Python {python} (bytecode only: "
                     "a lambda, a closure or code without source)")
    store = report["store"]
    lines.append(f"{'store':<10}{_size(store['bytes'])} in {plural(store['records'], 'record')}")
    if report["refused"]:
        lines.append(f"{'refused':<10}{plural(len(report['refused']), 'record')} unsigned or signed "
                     "with another secret, moved to quarantine/ and never loaded")
    shown = report["recent_failures"]
    if shown:
        lines.append(f"{'failures':<10}the {len(shown)} most recent of {calls['failed']}:")
        rows = []
        for f in shown:
            message = (f["message"] or "").strip().splitlines()
            first = message[0] if message else ""
            if len(first) > 120:
                first = first[:117] + "..."
            rows.append([_ago(f["age"]), f["function"] or f["function_id"][:12],
                         f"{_short_type(f['type'])}: {first}"])
        lines += _table(rows, pad)
    return "\n".join(lines)


def run_status(location: str | None, *, storage_options: dict[str, object] | None = None,
               lease_timeout: float = 30.0, recent: int = 5, as_json: bool = False,
               out: IO[str] | None = None) -> int:
    """``pythagoras status``: print the report; the exit code."""
    store = open_location(location, storage_options)
    report = status(store, lease_timeout=lease_timeout, recent=recent)
    out = out if out is not None else sys.stdout
    print(json.dumps(report, indent=2) if as_json else format_status(report), file=out)
    return 0
