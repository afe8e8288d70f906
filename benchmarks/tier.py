"""A remote store's local tier: a repeated hit through it vs a local folder's hit; goal <= 2x.

    python -m benchmarks tier [--quick]

Three remote stores, each with and without its local tier (``storage/tier.py``), beside a
local folder: S3 on a ``moto_server`` on 127.0.0.1 (started as the tests start it, stopped at
the end), and that S3 store behind :class:`Latent`, which sleeps ``latency`` seconds (20 ms,
as a real bucket) before every request. Rows, each beside the local folder's, p50 of ``hits``
hits each timed alone, the stores interleaved batch by batch:
- a result's lookup (``ResultRecords.lookup``: one read, the frame checked, the value loaded);
- a hit through a client ``PythagorasExecutor(location, max_workers=0)``,
  ``submit(inc, 1).result()``, on the local folder and on S3 (a location is a URL: the
  latent store is measured by lookups only);
the tier's rows have the goal <= 2x; those without it show what it saves. Notes: the GETs the
server logged for the first hit through a fresh tier (goal: one), and for the repeated hits.
Requests per miss and per map call are the ``stores`` figure's (it now runs with the tier).
"""

from __future__ import annotations

import os
import secrets
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from .harness import Result, Row
from .harness.peers import TIMEOUT
from .harness.report import REPO
from .harness.timing import stats
from .stores import Requests, inc

SETTINGS = {"full": {"hits": 300, "slow_hits": 20, "batches": 5, "latency": 0.02},
            "quick": {"hits": 60, "slow_hits": 6, "batches": 3, "latency": 0.02}}


def _latent_class() -> type:
    from pythagoras.storage.base import Store, StoredKey

    class Latent(Store):
        """``inner`` with ``latency`` seconds of sleep before every request: a far bucket."""

        def __init__(self, inner: Store, latency: float) -> None:
            super().__init__(inner.location + "#latent")
            self.inner, self.latency = inner, latency
            self.atomic_create, self.remote = inner.atomic_create, True

        def _wait(self) -> None:
            time.sleep(self.latency)  # the stand-in for a round trip, not a synchronization

        def read(self, key: str) -> bytes | bytearray | None:
            self._wait()
            return self.inner.read(key)

        def write(self, key: str, data: bytes) -> None:
            self._wait()
            self.inner.write(key, data)

        def create(self, key: str, data: bytes) -> bool:
            self._wait()
            return self.inner.create(key, data)

        def delete(self, key: str) -> bool:
            self._wait()
            return self.inner.delete(key)

        def list(self, prefix: str = "") -> Iterator[str]:
            self._wait()
            return self.inner.list(prefix)

        def scan(self, prefix: str = "") -> Iterator[StoredKey]:
            self._wait()
            return self.inner.scan(prefix)

        def age(self, key: str) -> float | None:
            self._wait()
            return self.inner.age(key)

    return Latent


def _stores(root: Path, server: Any, latency: float) -> dict[str, Any]:
    """The stores measured, by name: the local folder, S3 and the latent S3, each raw and tiered."""
    from pythagoras.storage.plugins import open_store
    from pythagoras.storage.tier import read_through

    options = server.storage_options()
    url = f"s3://{server.new_bucket()}/run"
    raw = open_store(url, options, cache_dir=False)
    latent = _latent_class()(raw, latency)
    return {"local folder": open_store(str(root / "local")),
            "S3 (moto), tier": open_store(url, options, cache_dir=root / "tier"),
            "S3 (moto), no tier": raw,
            f"S3 + {latency * 1000:g} ms, tier": read_through(latent, options, root / "tier-latent"),
            f"S3 + {latency * 1000:g} ms, no tier": latent}


def _lookups(stores: dict[str, Any], n: int, slow_n: int, batches: int) -> dict[str, list[float]]:
    """Seconds of each lookup of one stored result, per store, batch by batch interleaved."""
    from pythagoras.identity.address import CallAddress
    from pythagoras.records.results import ResultRecords

    address = CallAddress(secrets.token_hex(16), secrets.token_hex(16))
    records = {name: ResultRecords(store) for name, store in stores.items()}
    for rec in records.values():
        rec.publish(address, 12345)
        rec.lookup(address)  # the first hit: the tier keeps it
    times: dict[str, list[float]] = {name: [] for name in stores}
    for _ in range(batches):
        for name, rec in records.items():
            count = slow_n if "no tier" in name else n
            times[name] += _each(lambda rec=rec: rec.lookup(address), count // batches or 1, 12345)
    return times


def _each(call: Callable[[], Any], n: int, expect: Any) -> list[float]:
    out, clock = [], time.perf_counter
    for _ in range(n):
        t0 = clock()
        value = call()
        out.append(clock() - t0)
        if value != expect:
            raise SystemExit(f"a hit returned {value!r}, not {expect!r}")
    return out


def _executor_hits(locations: dict[str, tuple[str, Any, str | None]], n: int, slow_n: int,
                   batches: int) -> dict[str, list[float]]:
    """Seconds of each ``submit(inc, 1).result()`` of a stored call through a client executor,
    per location (a URL, its options, and ``$PYTHAGORAS_CACHE_DIR`` for it: '' for no tier)."""
    from pythagoras.executor import PythagorasExecutor

    executors = {}
    try:
        for name, (location, options, tier) in locations.items():
            os.environ["PYTHAGORAS_CACHE_DIR"] = tier or ""
            with PythagorasExecutor(location, max_workers=1, storage_options=options) as worker:
                worker.submit(inc, 1).result(timeout=TIMEOUT)  # stored, and kept by the tier
            executors[name] = PythagorasExecutor(location, max_workers=0, storage_options=options)
            executors[name].submit(inc, 1).result(timeout=TIMEOUT)
        times: dict[str, list[float]] = {name: [] for name in executors}
        for _ in range(batches):
            for name, ex in executors.items():
                count = slow_n if "no tier" in name else n
                times[name] += _each(lambda ex=ex: ex.submit(inc, 1).result(timeout=TIMEOUT),
                                     count // batches or 1, 2)
    finally:
        for ex in executors.values():
            ex.shutdown(wait=True, cancel_futures=True)
    return times


def _first_hit_gets(server: Any, root: Path) -> dict[str, Any]:
    """GETs the server logged for a first hit through a fresh tier, and for ten more hits."""
    from pythagoras.identity.address import CallAddress
    from pythagoras.records.results import ResultRecords
    from pythagoras.storage.plugins import open_store

    url, options = f"s3://{server.new_bucket()}/first", server.storage_options()
    address = CallAddress(secrets.token_hex(16), secrets.token_hex(16))
    ResultRecords(open_store(url, options, cache_dir=False)).publish(address, 7)
    records = ResultRecords(open_store(url, options, cache_dir=root / "tier-first"))
    with Requests(server.log) as first:
        records.lookup(address)
    with Requests(server.log) as again:
        for _ in range(10):
            records.lookup(address)
    return {"first": dict(first.counts), "ten more": dict(again.counts)}


def measure(root: Path, *, hits: int, slow_hits: int, batches: int, latency: float) -> Result:
    sys.path.insert(0, str(REPO / "tests"))  # the tests' moto server; there is no tests package
    from s3_server import MotoServer  # type: ignore[import-not-found]

    server = MotoServer(root / "moto_server.log")
    load = [round(x, 2) for x in os.getloadavg()]
    try:
        server.start()
        stores = _stores(root, server, latency)
        lookups = _lookups(stores, hits, slow_hits, batches)
        url, options = f"s3://{server.new_bucket()}/executor", server.storage_options()
        submits = _executor_hits({"local folder": (str(root / "executor"), None, None),
                                  "S3 (moto), tier": (url, options, str(root / "tier-executor")),
                                  "S3 (moto), no tier": (url, options, "")},
                                 hits, slow_hits, batches)
        gets = _first_hit_gets(server, root)
    finally:
        server.stop()
    rows = []
    for what, times in (("lookup", lookups), ("executor hit", submits)):
        p50 = {name: stats(t, "us")["p50"] for name, t in times.items()}
        local = p50.pop("local folder")
        for name, value in p50.items():
            goal = "ratio<=2" if name.endswith(", tier") else None
            rows.append(Row(f"{what}, {name}", value, "us", "local folder", local, goal))
    first = sum(v for k, v in gets["first"].items() if k.startswith("GET"))
    rows.append(Row("first hit through a fresh tier: GETs", first, "", "expected", 1, "value<=1"))
    notes = [f"requests the server logged for the first hit: {gets['first']}; for ten more: "
             f"{gets['ten more'] or 'none'}",
             f"load average (1, 5, 15 min) at the start: {load}, at the end: "
             f"{[round(x, 2) for x in os.getloadavg()]}"]
    return Result(rows, notes, {"lookups_us": {k: stats(v, "us") for k, v in lookups.items()},
                                "executor_hits_us": {k: stats(v, "us") for k, v in submits.items()},
                                "requests": gets, "load": load})
