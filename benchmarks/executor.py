"""PythagorasExecutor round trip and map rate on a local folder; peer loky (and dask, ray).

    python -m benchmarks executor [--quick] [--set dask=false] [--set ray=false]

Every executor has 2 worker processes and runs the trivial ``inc(x) = x + 1`` on new arguments
(misses: pythagoras stores every call) unless a row says hits. Rows:
- round trip: ``ex.submit(inc, x).result()`` one call at a time on an idle swarm, p50 and p90,
  beside loky's ``get_reusable_executor(2)`` (batches interleaved), and a dask ``LocalCluster``
  (2 processes x 1 thread) and ray (``num_cpus=2``) where installed; goal p50 <= 2 ms;
- map rate: ``list(ex.map(inc, xs))`` over ``small`` new arguments (chunks sized by the calls'
  round trip, the default), calls/s, median of ``repeat`` runs interleaved with loky's
  ``map(chunksize=1)``; goal >= 0.2x loky; then with ``chunksize``, and against dask and ray;
- map queued: the same over ``large`` new arguments, all queued by one map; goal >= 0.7x the
  ``small`` rate;
- map hits: the first ``small`` map again, every call a hit, beside loky's (unmemoized) rate.
dask and ray run after pythagoras and loky are shut down, one after the other.
"""

from __future__ import annotations

import gc
import importlib.util
import logging
import os
import secrets
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .harness import Result, Row
from .harness.timing import each, fresh, rate, runs, stats

SETTINGS = {
    "full": {"warmup": 30, "calls": 200, "small": 2000, "large": 20000, "chunksize": 1, "repeat": 3,
             "dask": True, "ray": True},
    "quick": {"warmup": 10, "calls": 50, "small": 500, "large": 5000, "chunksize": 1, "repeat": 1,
              "dask": True, "ray": True},
}
WORKERS = 2


def inc(x: int) -> int:
    return x + 1


def _plus_one(x: int) -> int:
    return x + 1


@dataclass
class Side:
    """One library's way of running ``inc``: one call, a map, and shutting down."""

    name: str
    call: Callable[[int], Any]
    map: Callable[[list[int]], Any]
    close: Callable[[], Any]


def _pythagoras(root: Path) -> tuple[Side, Any]:
    from pythagoras.executor import PythagorasExecutor

    ex = PythagorasExecutor(root / "swarm", max_workers=WORKERS)
    return Side("pythagoras", lambda x: ex.submit(inc, x).result(), lambda xs: ex.map(inc, xs),
                lambda: ex.shutdown(wait=True)), ex


def _loky(root: Path) -> Side:
    from joblib.externals.loky import get_reusable_executor  # type: ignore[import-untyped]

    ex = get_reusable_executor(max_workers=WORKERS)
    return Side("loky", lambda x: ex.submit(inc, x).result(), lambda xs: ex.map(inc, xs, chunksize=1),
                lambda: ex.shutdown(wait=True, kill_workers=True))


def _dask(root: Path) -> Side:
    import dask
    from dask.distributed import Client, LocalCluster

    dask.config.set({"temporary-directory": str(root / "dask")})  # not /tmp/dask-scratch-space
    cluster = LocalCluster(n_workers=WORKERS, threads_per_worker=1, processes=True, host="127.0.0.1",
                           dashboard_address=None, local_directory=str(root / "dask"), silence_logs=40)
    client = Client(cluster)
    return Side("dask", lambda x: client.submit(inc, x).result(),
                lambda xs: client.gather(client.map(inc, xs)), lambda: [client.close(), cluster.close()])


def _ray(root: Path) -> Side:
    # A token for this run only, in the environment (ray's children inherit it): nothing is
    # written to ~/.ray; no usage report. Sessions in a short folder: ray's unix sockets' paths
    # must stay under 108 bytes.
    os.environ.update(RAY_AUTH_MODE="token", RAY_AUTH_TOKEN=secrets.token_hex(32),
                      RAY_USAGE_STATS_ENABLED="0")
    import ray  # type: ignore[import-not-found]

    session = tempfile.mkdtemp(prefix="pyt-ray-")
    ray.init(address="local", num_cpus=WORKERS, include_dashboard=False, log_to_driver=False,
             logging_level=logging.ERROR, _node_ip_address="127.0.0.1", _temp_dir=session)
    remote = ray.remote(inc)

    def close() -> None:
        ray.shutdown()
        shutil.rmtree(session, ignore_errors=True)

    return Side("ray", lambda x: ray.get(remote.remote(x)),
                lambda xs: ray.get([remote.remote(x) for x in xs]), close)


def _warm(side: Side, calls: int) -> None:
    each(side.call, fresh(calls), _plus_one)
    rate(side.map, fresh(50), _plus_one)


def _measure_ours(root: Path, p: dict[str, Any]) -> dict[str, Any]:
    """pythagoras and loky side by side: round trips and maps interleaved; then the rest."""
    py, ex = _pythagoras(root)
    lk = _loky(root)
    try:
        for side in (py, lk):
            _warm(side, p["warmup"])
        times: dict[str, list[float]] = {"pythagoras": [], "loky": []}
        for _ in range(5):
            for side in (py, lk):
                gc.collect()
                times[side.name] += each(side.call, fresh(max(1, p["calls"] // 5)), _plus_one)
        rates: dict[str, list[float]] = {"pythagoras": [], "loky": [], "chunked": []}
        hit_args = fresh(p["small"])
        for i in range(p["repeat"]):
            for side in (py, lk):
                args = hit_args if i == 0 and side is py else fresh(p["small"])
                rates[side.name].append(rate(side.map, args, _plus_one))
            rates["chunked"].append(rate(lambda xs: ex.map(inc, xs, chunksize=p["chunksize"]),
                                         fresh(p["small"]), _plus_one))
        hits = [rate(py.map, hit_args, _plus_one) for _ in range(p["repeat"])]
        queued = rate(py.map, fresh(p["large"]), _plus_one)
        return {"round_trip": {k: stats(t) for k, t in times.items()},
                "map": {k: runs(r) for k, r in rates.items()},
                "hits": runs(hits), "queued": round(queued, 1)}
    finally:
        lk.close()
        py.close()


def _measure_other(make: Callable[[Path], Side], root: Path, p: dict[str, Any]) -> dict[str, Any]:
    side = make(root)
    try:
        _warm(side, p["warmup"])
        return {"round_trip": stats(each(side.call, fresh(p["calls"]), _plus_one)),
                "map": runs([rate(side.map, fresh(p["small"]), _plus_one) for _ in range(p["repeat"])])}
    finally:
        side.close()


def measure(root: Path, **p: Any) -> Result:
    ours = _measure_ours(root, p)
    others, notes = {}, []
    for name, make, module in (("dask", _dask, "distributed"), ("ray", _ray, "ray")):
        if not p[name] or importlib.util.find_spec(module) is None:
            notes.append(f"{name}: skipped ({'not installed' if p[name] else 'turned off'})")
            continue
        try:
            others[name] = _measure_other(make, root, p)
        except Exception as e:  # noqa: BLE001 -- a peer that cannot start here is reported
            notes.append(f"{name}: failed: {type(e).__name__}: {e}"[:300])
    rt, maps = ours["round_trip"], ours["map"]
    mine, loky = maps["pythagoras"]["median"], maps["loky"]["median"]
    rows = [Row("round trip, idle swarm, p50", rt["pythagoras"]["p50"], "ms", "loky reusable 2w",
                rt["loky"]["p50"], "value<=2"),
            Row("round trip, idle swarm, p90", rt["pythagoras"]["p90"], "ms", "loky reusable 2w",
                rt["loky"]["p90"])]
    rows += [Row("round trip, idle swarm, p50", rt["pythagoras"]["p50"], "ms", f"{n} 2w",
                 o["round_trip"]["p50"])
             for n, o in others.items()]
    label = f"map of {p['small']:,} new, chunksize auto"
    rows.append(Row(label, mine, "/s", "loky map chunksize=1", loky, "ratio>=0.2"))
    rows += [Row(label, mine, "/s", f"{n} map", o["map"]["median"]) for n, o in others.items()]
    rows += [Row(f"  the same, chunksize={p['chunksize']}", maps["chunked"]["median"], "/s",
                 "loky map chunksize=1", loky),
             Row(f"map of {p['large']:,} new, queued", ours["queued"], "/s",
                 f"itself with {p['small']:,}", mine, "ratio>=0.7"),
             Row(f"map of {p['small']:,} hits", ours["hits"]["median"], "/s", "loky map (no memo)", loky)]
    notes.append(f"map runs (calls/s): pythagoras {maps['pythagoras']['runs']}, loky {maps['loky']['runs']}")
    return Result(rows, notes, {"pythagoras_and_loky": ours, "others": others})
