"""Per-call cost on S3 (a moto server on loopback) and on ``memory://``; peer: a local folder.

    python -m benchmarks stores [--quick]

The same figures on three stores: a local folder, fsspec's ``memory://`` (one process only, so
not the two-process rows) and S3 on a ``moto_server`` started on 127.0.0.1 (as the tests start
it, ``tests/s3_server.py``) and stopped at the end. Rows, each store's beside the local folder's:
- primitives: each store operation alone, ``samples`` times after a warm-up, p50: read of a
  present 100-byte key, read of an absent key, write and create of a new key, age of a present
  key, exists of an absent key, a listing of a prefix holding ``list_keys`` keys;
- through a warm ``PythagorasExecutor(location, max_workers=1)``: a hit
  ``submit(inc, x).result()``, p50 of ``hits``; a miss round trip on an idle swarm, p50 of
  ``calls``; ``list(ex.map(inc, new, chunksize=c))`` of ``map`` calls for c = 1 and ``chunksize``;
- ``acceptance`` sleeping calls of ``seconds`` mapped by one peer process alone, then by two
  released together (``harness.peers.PeerRun``): wall times and duplicates.
On S3 every figure also counts the requests the server logged while it ran, per call, by method,
record kind and status (the notes). An S3 peer polls about once a second when idle and every
0.25 s while it waits on calls others run, so the two-process rows on S3 carry that lag.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import sys
import time
import urllib.parse
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any, Self

from .harness import Result, Row
from .harness.peers import TIMEOUT, shared
from .harness.report import REPO
from .harness.timing import each, fresh, stats

SETTINGS = {
    "full": {"samples": 50, "list_keys": 100, "warmup": 5, "hits": 30, "calls": 30, "map": 200,
             "chunksize": 16, "acceptance": 10, "seconds": 0.5},
    "quick": {"samples": 10, "list_keys": 20, "warmup": 3, "hits": 10, "calls": 10, "map": 40,
              "chunksize": 8, "acceptance": 4, "seconds": 0.2},
}
KINDS = ("results", "failures", "requests", "claims", "breaks", "functions", "values", "peers")
_REQUEST = re.compile(r'"([A-Z]+) (\S+) HTTP/[\d.]+" (\d{3})')
_COLOUR = re.compile(r"\x1b\[[0-9;]*m")  # werkzeug colours the lines of non-2xx answers


def inc(x: int) -> int:
    return x + 1


def _kind(parts: list[str]) -> str:
    return next((p if p in KINDS else ".clock" for p in parts
                 if p in KINDS or p.startswith(".clock")), "other")


class Requests:
    """The requests ``moto_server`` logged since a mark, by method, record kind and status
    (``LIST1``: a listing of at most one key, s3fs's check whether an absent key is a folder)."""

    def __init__(self, log: Path) -> None:
        self.log, self.mark = log, 0

    def __enter__(self) -> Self:
        time.sleep(0.05)  # the server's last lines reach the file
        self.mark = self.log.stat().st_size
        return self

    def __exit__(self, *exc: object) -> None:
        time.sleep(0.05)
        with open(self.log, "rb") as f:
            f.seek(self.mark)
            text = _COLOUR.sub("", f.read().decode(errors="replace"))
        self.counts: Counter[str] = Counter()
        for method, target, status in _REQUEST.findall(text):
            path, _, query = target.partition("?")
            if target.startswith("/moto-api"):
                continue
            if method == "GET" and "/" not in path.strip("/") and query:  # a bucket's listing
                fields = urllib.parse.parse_qs(query)
                label = f"{'LIST1' if fields.get('max-keys') == ['1'] else 'LIST'} " \
                        f"{_kind(fields.get('prefix', [''])[0].split('/'))}"
            else:
                label = f"{method} {_kind(path.strip('/').split('/')[1:])}"
            self.counts[f"{label} {status}"] += 1

    def per_call(self, calls: int) -> dict[str, Any]:
        return {"per_call": round(sum(self.counts.values()) / calls, 2),
                "by_kind": {k: round(v / calls, 2) for k, v in self.counts.most_common()}}


def _primitives(location: str, options: dict[str, Any] | None, samples: int,
                list_keys: int) -> dict[str, Any]:
    from pythagoras.storage.plugins import open_store

    store, tag, payload = open_store(location, options), secrets.token_hex(4), secrets.token_bytes(100)
    store.write(f"p/{tag}/present", payload)
    for k in range(list_keys):
        store.write(f"p/{tag}/listed/k{k:04d}", payload)
    ops: dict[str, Callable[[int], Any]] = {
        "read, present (100 B)": lambda i: store.read(f"p/{tag}/present"),
        "read, absent": lambda i: store.read(f"p/{tag}/absent{i}"),
        "write, new key": lambda i: store.write(f"p/{tag}/w/k{i}", payload),
        "create, new key": lambda i: store.create(f"p/{tag}/c/k{i}", payload),
        "age, present": lambda i: store.age(f"p/{tag}/present"),
        "exists, absent": lambda i: store.exists(f"p/{tag}/absent{i}"),
        f"list {list_keys} keys": lambda i: list(store.list(f"p/{tag}/listed/")),
    }
    for op in ops.values():  # warm-up
        op(-1)
    return {f"{name} p50": stats(_timed(op, samples))["p50"] for name, op in ops.items()}


def _timed(op: Callable[[int], Any], n: int) -> list[float]:
    times = []
    for i in range(n):
        t0 = time.perf_counter()
        op(i)
        times.append(time.perf_counter() - t0)
    return times


def _executor(location: str, options: dict[str, Any] | None, p: dict[str, Any],
              requests: Callable[[], Any]) -> dict[str, Any]:
    from pythagoras.executor import PythagorasExecutor

    ex = PythagorasExecutor(location, max_workers=1, storage_options=options)
    call, plus_one, out = (lambda x: ex.submit(inc, x).result(timeout=TIMEOUT)), (lambda x: x + 1), {}
    try:
        each(call, fresh(p["warmup"]), plus_one)
        stored = fresh(p["hits"])
        list(ex.map(inc, stored, timeout=TIMEOUT))
        with requests() as r:
            out["hit submit().result() p50"] = stats(each(call, stored, plus_one))["p50"]
        out["hit requests"] = r.per_call(p["hits"]) if r else None
        with requests() as r:
            out["miss round trip p50"] = stats(each(call, fresh(p["calls"]), plus_one))["p50"]
        out["miss requests"] = r.per_call(p["calls"]) if r else None
        for c in (1, p["chunksize"]):
            args = fresh(p["map"])
            with requests() as r:
                t0 = time.perf_counter()
                if list(ex.map(inc, args, chunksize=c, timeout=TIMEOUT)) != [a + 1 for a in args]:
                    raise SystemExit("a map returned wrong values")
                out[f"map {p['map']} new, chunksize={c}"] = p["map"] / (time.perf_counter() - t0)
            out[f"map chunksize={c} requests"] = r.per_call(p["map"]) if r else None
    finally:
        ex.shutdown(wait=True, cancel_futures=True)
    return out


def _acceptance(root: Path, location: str, options: dict[str, Any] | None, p: dict[str, Any],
                requests: Callable[[], Any]) -> dict[int, dict[str, Any]]:
    out = {}
    for peers in (1, 2):
        with requests() as r:
            out[peers] = shared(root / f"{peers}", f"{location}/acceptance-{peers}", peers=peers,
                                calls=p["acceptance"], seconds=p["seconds"], options=options)
        out[peers]["requests"] = r.per_call(p["acceptance"]) if r else None
    return out


def measure(root: Path, **p: Any) -> Result:
    sys.path.insert(0, str(REPO / "tests"))  # the tests' moto server; there is no tests package
    from s3_server import MotoServer  # type: ignore[import-not-found]

    # A remote store's local tier (storage/tier.py) keeps its copies in the run's folder.
    os.environ.setdefault("PYTHAGORAS_CACHE_DIR", str(root / "tier"))
    server = MotoServer(root / "moto_server.log")
    memory_root = f"pythagoras-bench-{secrets.token_hex(6)}"
    try:
        server.start()
        stores = {"local": (str(root / "local"), None), "memory://": (f"memory://{memory_root}", None),
                  "S3 (moto)": (f"s3://{server.new_bucket()}/run", server.storage_options())}
        counted = {name: (lambda: Requests(server.log)) if name == "S3 (moto)" else contextlib.nullcontext
                   for name in stores}
        got: dict[str, dict[str, Any]] = {}
        for name, (location, options) in stores.items():
            got[name] = _primitives(f"{location}/primitives", options, p["samples"], p["list_keys"])
            got[name] |= _executor(f"{location}/executor", options, p, counted[name])
            if name != "memory://":
                acc = _acceptance(root / name.split()[0], location, options, p, counted[name])
                label = f"{p['acceptance']} x {p['seconds']:g} s"
                got[name] |= {f"{label}, 1 process: wall": acc[1]["wall_s"],
                              f"{label}, 2 processes: wall": acc[2]["wall_s"],
                              "  duplicate executions, 2 processes": acc[2]["duplicates"],
                              "acceptance": acc}
    finally:
        server.stop()
        with contextlib.suppress(Exception):
            import fsspec  # type: ignore[import-untyped]

            fsspec.filesystem("memory").rm(f"/{memory_root}", recursive=True)
    units = {"/s": "map", "": "duplicate", "s": "wall"}
    rows = []
    for label, local in got["local"].items():
        if not isinstance(local, (int, float)):
            continue
        unit = next((u for u, word in units.items() if word in label), "ms")
        for name in ("S3 (moto)", "memory://"):
            if label in got[name]:
                rows.append(Row(f"{label} [{name}]", got[name][label], unit, "local folder", local))
    notes = [f"S3 requests per call, {what}: {got['S3 (moto)'][key]['per_call']} "
             f"({', '.join(f'{k} {v:g}' for k, v in list(got['S3 (moto)'][key]['by_kind'].items())[:8])})"
             for what, key in (("hit", "hit requests"), ("miss", "miss requests"),
                               (f"map chunksize={p['chunksize']}",
                                f"map chunksize={p['chunksize']} requests"))]
    acceptance = got["S3 (moto)"]["acceptance"]
    notes += [f"S3 requests per call, {n} process(es): {acceptance[n]['requests']['per_call']}"
              for n in (1, 2)]
    return Result(rows, notes, got)
