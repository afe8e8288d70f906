"""Per-call overhead on S3 (moto on loopback) beside a local folder and ``memory://``.

Run from the repository root, either way::

    .venv/bin/python -m benchmarks.stores
    .venv/bin/python benchmarks/stores.py --json /tmp/stores.json

One run measures the same figures on three stores: a local folder (in a temp folder), fsspec's
``memory://`` (single-process figures only: it lives in one process) and S3 on a ``moto_server``
this benchmark starts on 127.0.0.1 and stops at the end (on an error or Ctrl-C too). Figures:

- ``primitives`` -- each store operation on its own, ``--samples`` times after a warm-up, median
  latency: read of a present key (100 bytes), read of an absent key, write of a new key, create
  of a new key, age of a present key, exists of an absent key, and a listing of a prefix that
  holds ``--list-keys`` keys (its own ``--samples // 2`` samples).
- ``hit`` -- ``ex.submit(inc, x).result()`` where the result is stored already, p50 over ``--hits``
  calls; ``ex`` is ``PythagorasExecutor(location, max_workers=1)``, warm (options as a user leaves
  them, except ``max_workers``).
- ``round_trip`` -- ``ex.submit(inc, new_x).result()`` one call at a time on an idle swarm, the
  same warm executor, p50 (and p90 in the JSON) over ``--calls`` calls.
- ``map`` -- ``list(ex.map(inc, new_xs, chunksize=c))`` over ``--map`` new arguments, for
  c = 1 and c = ``--chunksize``: calls per second, the median of ``--repeat`` runs (S3: one run).
- ``acceptance`` (issue 7) -- ten 0.5 s calls (``--acceptance-calls``, ``--seconds``) mapped by one
  process alone, then by two processes at once, each with its own
  ``PythagorasExecutor(location, max_workers=1, storage_options=...)``, on the local folder and on
  S3. The processes are real interpreters (``python -m benchmarks.stores --peer ...``), warmed
  one at a time (one call of their own, so each has started its pool) and released together by
  a start file; the wall time runs from the start file until the later one's map returns.
  Speed-up = alone / two (ideal 2.0). Duplicates = executions beyond one per call, counted
  through a file every execution appends to (named by ``PYTHAGORAS_BENCH_EXECUTIONS``: the
  function reads only the installed module ``os``, so it stays pure; see
  ``tests/execution_log.py``). Every figure uses new arguments (the alone and two runs have
  salts of their own) so nothing is memoized from an earlier one, and each run has a store
  location of its own. Beside the wall times, from the same log: when the last execution ended
  (every result is stored a few operations later: a peer done well after it waited for a poll)
  and the gap between one peer's consecutive executions (settling one call, picking the next).

On S3 every figure also counts the requests the server saw while it ran (``moto_server`` logs
one line per request), by method, record kind and status, per call: the cost of a figure in
requests, beside its latency. An S3 peer polls the bucket about once a second when idle
(``poll_cap`` 1.0 on a remote store) and every 0.25 s while it waits on calls other peers run
(``wait_poll_cap``): a result another process stores is seen at the next poll, so the
two-process figure on S3 carries up to that much lag.

Nothing is asserted: this is a benchmark, not a test. Executors are shut down, peer processes
killed by process group, the moto server stopped, leftover children killed by pid, the temp
folder removed (unless ``--keep``).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import gc
import itertools
import json
import os
import re
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

try:
    from ._report import loadavg, machine, print_load, kill_groups, reap_leftovers, version, write_json
except ImportError:  # run as a script: benchmarks/NAME.py
    from _report import loadavg, machine, print_load, kill_groups, reap_leftovers, version, write_json  # type: ignore[import-not-found,no-redef]

# -- the pure functions --------------------------------------------------------------------------
# Plain defs in this file, which runs as __main__ in this process and in every peer process
# (python -m benchmarks.stores --peer ...): all compute the same identities, and the functions
# travel to the workers by value. They read only installed modules (os, time) by name.


def inc(x: int) -> int:
    return x + 1


def nap(x: int, salt: str, seconds: float) -> int:
    path = os.environ.get("PYTHAGORAS_BENCH_EXECUTIONS")
    if path:
        with open(path, "a") as log:  # one short O_APPEND write per execution
            log.write(f"{salt} {x} {os.getpgrp()} {os.getpid()} {time.time():.6f}\n")
    time.sleep(seconds)
    return x * x


# -- settings ------------------------------------------------------------------------------------

LOG_VARIABLE = "PYTHAGORAS_BENCH_EXECUTIONS"
REPO = Path(__file__).resolve().parent.parent
DEFAULT_JSON = Path(__file__).resolve().parent / "results" / "stores.json"
TIMEOUT = 120.0  # seconds any one wait may take before the benchmark gives up
STORES = ("local", "memory", "s3")
TITLES = {"local": "local", "memory": "memory://", "s3": "S3 (moto)"}
LEFTOVER_GROUPS: list[int] = []  # peer process groups that outlived their SIGKILL (never expected)
_fresh = itertools.count(10**9)  # every miss argument comes from here: none is ever seen twice


def _new_args(n: int) -> list[int]:
    return [next(_fresh) for _ in range(n)]


def _moto_server_class() -> Any:
    # The tests and this benchmark start the same server (tests/s3_server.py, also used by
    # tests/conftest.py); there is no tests package, so its folder goes on sys.path.
    tests = str(REPO / "tests")
    if tests not in sys.path:
        sys.path.insert(0, tests)
    from s3_server import MotoServer  # type: ignore[import-not-found]

    return MotoServer


@dataclass
class Target:
    """Where one store's figures run: a location, the options that reach it, and a label."""

    name: str
    location: str
    options: dict[str, Any] | None

    def at(self, sub: str) -> str:
        """A location of its own under this one (a subfolder, or a prefix of the bucket)."""
        return f"{self.location.rstrip('/')}/{sub}"


# -- S3 requests, from the server's log ----------------------------------------------------------

_REQUEST = re.compile(r'"([A-Z]+) (\S+) HTTP/[\d.]+" (\d{3})')
_COLOUR = re.compile(r"\x1b\[[0-9;]*m")  # werkzeug colours the lines of non-2xx answers
KINDS = ("results", "failures", "requests", "claims", "breaks", "functions", "values", "peers")


def _kind(parts: list[str]) -> str:
    """The record kind a key's parts name (the part after the store's root)."""
    for part in parts:
        if part in KINDS:
            return part
        if part.startswith(".clock"):
            return ".clock"
    return "other"


class RequestLog:
    """The requests ``moto_server`` logged (one line each) since a mark, by method, record kind
    and status. A ``LIST1`` is a listing of at most one key: s3fs's check whether an absent key
    is a folder."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def mark(self) -> int:
        time.sleep(0.05)  # let the server's last lines reach the file
        return self.path.stat().st_size

    def since(self, mark: int) -> Counter[str]:
        time.sleep(0.05)
        with open(self.path, "rb") as f:
            f.seek(mark)
            text = _COLOUR.sub("", f.read().decode(errors="replace"))
        counts: Counter[str] = Counter()
        for method, target, status in _REQUEST.findall(text):
            if target.startswith("/moto-api"):
                continue
            path, _, query = target.partition("?")
            if method == "GET" and "/" not in path.strip("/") and query:  # a bucket's listing
                fields = urllib.parse.parse_qs(query)
                prefix = fields.get("prefix", [""])[0]
                listing = "LIST1" if fields.get("max-keys") == ["1"] else "LIST"
                label = f"{listing} {_kind(prefix.split('/'))}"
            else:
                label = f"{method} {_kind(path.strip('/').split('/')[1:])}"
            counts[f"{label} {status}"] += 1
        return counts


def _per_call(counts: Counter[str] | None, calls: int) -> dict[str, Any] | None:
    if counts is None:
        return None
    total = sum(counts.values())
    return {"requests": total, "calls": calls, "per_call": round(total / calls, 2),
            "by_kind_per_call": {k: round(v / calls, 2) for k, v in counts.most_common()}}


# -- measuring -----------------------------------------------------------------------------------


def _ms(times: list[float]) -> dict[str, Any]:
    ms = sorted(t * 1e3 for t in times)
    deciles = statistics.quantiles(ms, n=10, method="inclusive") if len(ms) > 1 else ms * 9
    return {"p50_ms": round(statistics.median(ms), 4), "p90_ms": round(deciles[8], 4),
            "min_ms": round(ms[0], 4), "max_ms": round(ms[-1], 4), "samples": len(ms)}


def _timed(op: Callable[[int], Any], n: int, warmup: int = 3) -> list[float]:
    """Seconds of each ``op(i)`` for i in range(n), after ``warmup`` untimed ones (negative i)."""
    for i in range(warmup):
        op(-1 - i)
    times = []
    clock = time.perf_counter
    for i in range(n):
        t0 = clock()
        op(i)
        times.append(clock() - t0)
    return times


def _primitives(target: Target, samples: int, list_keys: int) -> dict[str, Any]:
    """Median latency of each store operation, on a location of its own."""
    from pythagoras.storage.plugins import open_store

    store = open_store(target.at("primitives"), target.options)
    tag = secrets.token_hex(4)
    payload = secrets.token_bytes(100)
    store.write(f"p/{tag}/present", payload)
    for k in range(list_keys):
        store.write(f"p/{tag}/listed/k{k:04d}", payload)
    if store.read(f"p/{tag}/present") != payload:
        raise SystemExit(f"{target.name}: a read returned other bytes than written")
    ops: dict[str, Callable[[int], Any]] = {
        "read_hit": lambda i: store.read(f"p/{tag}/present"),
        "read_miss": lambda i: store.read(f"p/{tag}/absent{i}"),
        "write_new": lambda i: store.write(f"p/{tag}/w/k{i + 10}", payload),
        "create_new": lambda i: store.create(f"p/{tag}/c/k{i + 10}", payload),
        "age_present": lambda i: store.age(f"p/{tag}/present"),
        "exists_absent": lambda i: store.exists(f"p/{tag}/absent{i}"),
    }
    figures: dict[str, Any] = {}
    for name, op in ops.items():
        gc.collect()
        figures[name] = _ms(_timed(op, samples))
    listed = len(list(store.list(f"p/{tag}/listed/")))
    if listed != list_keys:
        raise SystemExit(f"{target.name}: a listing gave {listed} keys, not {list_keys}")
    figures[f"list_{list_keys}"] = _ms(_timed(lambda i: list(store.list(f"p/{tag}/listed/")),
                                              max(5, samples // 2)))
    return figures


def _executor_figures(target: Target, opts: argparse.Namespace, requests: RequestLog | None) -> dict[str, Any]:
    """Hits, round trips and maps through one warm ``PythagorasExecutor(max_workers=1)``."""
    from pythagoras.executor import PythagorasExecutor

    def check(values: list[Any], args: list[int], what: str) -> None:
        if values != [a + 1 for a in args]:
            raise SystemExit(f"{target.name}: {what} returned wrong values")

    def call(x: int) -> float:
        t0 = time.perf_counter()
        value = ex.submit(inc, x).result(timeout=TIMEOUT)
        seconds = time.perf_counter() - t0
        if value != x + 1:
            raise SystemExit(f"{target.name}: inc({x}) returned {value!r}")
        return seconds

    mark = requests.mark if requests is not None else (lambda: 0)
    since = requests.since if requests is not None else (lambda _m: None)
    ex = PythagorasExecutor(target.at("executor"), max_workers=1, storage_options=target.options)
    out: dict[str, Any] = {}
    try:
        # Warm: the pool's worker, the function's record, the code paths of submit and map.
        for x in _new_args(opts.warmup):
            call(x)
        warm = _new_args(20)
        check(list(ex.map(inc, warm, timeout=TIMEOUT)), warm, "the warm-up map")

        hit_args = _new_args(opts.hits)
        check(list(ex.map(inc, hit_args, timeout=TIMEOUT)), hit_args, "the map that stores the hits")
        call(hit_args[0])  # one untimed hit
        gc.collect()
        m = mark()
        out["hit"] = _ms([call(x) for x in hit_args])
        out["hit"]["s3_requests"] = _per_call(since(m), len(hit_args))

        gc.collect()
        m = mark()
        out["round_trip"] = _ms([call(x) for x in _new_args(opts.calls)])
        out["round_trip"]["s3_requests"] = _per_call(since(m), opts.calls)

        repeat = 1 if target.name == "s3" else opts.repeat
        for chunksize in (1, opts.chunksize):
            rates, seconds = [], []
            m = mark()
            for _ in range(repeat):
                args = _new_args(opts.map)
                gc.collect()
                t0 = time.perf_counter()
                values = list(ex.map(inc, args, chunksize=chunksize, timeout=TIMEOUT))
                took = time.perf_counter() - t0
                check(values, args, f"the map with chunksize={chunksize}")
                rates.append(len(args) / took)
                seconds.append(round(took, 3))
            out[f"map_chunksize_{chunksize}"] = {
                "calls": opts.map, "chunksize": chunksize, "calls_per_s": round(statistics.median(rates), 1),
                "runs": [round(r, 1) for r in rates], "seconds": seconds,
                "s3_requests": _per_call(since(m), opts.map * repeat)}
        try:
            out["executed_by_this_peer"] = int(ex._peer.executed)  # internals: None if they move
        except AttributeError:
            out["executed_by_this_peer"] = None
    finally:
        ex.shutdown(wait=True, cancel_futures=True)
    return out


# -- peer processes (the acceptance figure) ------------------------------------------------------


def _wait_for(path: Path, *, interval: float, timeout: float = TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{path} did not appear within {timeout} s")
        time.sleep(interval)


def _peer_main(config: dict[str, Any]) -> int:
    """One peer: its own executor; a warm-up call when told; the map at the start file."""
    from pythagoras.executor import PythagorasExecutor

    control = Path(config["control"])
    index = config["index"]
    ex = PythagorasExecutor(config["location"], max_workers=1, storage_options=config["options"])
    try:
        (control / f"loaded-{index}").touch()
        _wait_for(control / f"warm-{index}", interval=0.002)
        warm_started = time.perf_counter()
        ex.submit(nap, -1 - index, f"warm-{config['salt']}-{index}", 0.0).result(timeout=TIMEOUT)
        warm_seconds = time.perf_counter() - warm_started
        executed_before = ex._peer.executed
        (control / f"ready-{index}").touch()

        _wait_for(control / "start", interval=0.0005)
        started = time.time()
        xs = list(range(config["calls"]))
        n = len(xs)
        values = list(ex.map(nap, xs, [config["salt"]] * n, [config["seconds"]] * n, timeout=TIMEOUT))
        ended = time.time()
        report = {"index": index, "pid": os.getpid(), "started": started, "ended": ended,
                  "values_ok": values == [x * x for x in xs],
                  "executed": ex._peer.executed - executed_before,
                  "warm_seconds": round(warm_seconds, 3)}
        tmp = control / f".report-{index}.tmp"
        tmp.write_text(json.dumps(report))
        os.replace(tmp, control / f"report-{index}.json")
    finally:
        ex.shutdown(wait=True, cancel_futures=True)
    return 0


class Peers:
    """Peer processes, each in its own session (its process group holds its pool's worker)."""

    def __init__(self, root: Path, name: str) -> None:
        self.dir = root / name
        self.control = self.dir / "control"
        self.log = self.dir / "executions.log"
        self.control.mkdir(parents=True)
        self.procs: list[subprocess.Popen[bytes]] = []

    def launch(self, count: int, config: dict[str, Any]) -> None:
        env = {**os.environ, LOG_VARIABLE: str(self.log)}
        for index in range(count):
            peer = {**config, "control": str(self.control), "index": index}
            with open(self.dir / f"peer-{index}.out", "wb") as out:
                self.procs.append(subprocess.Popen(
                    [sys.executable, "-m", "benchmarks.stores", "--peer", json.dumps(peer)],
                    cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True))
        for index in range(count):  # each starts its pool alone, one after the other
            self.wait(self.control / f"loaded-{index}")
        for index in range(count):
            (self.control / f"warm-{index}").touch()
            self.wait(self.control / f"ready-{index}")

    def start(self) -> float:
        started = time.time()
        (self.control / "start").touch()
        return started

    def wait(self, path: Path, timeout: float = TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        while not path.exists():
            for index, proc in enumerate(self.procs):
                if proc.poll() is not None and not (self.control / f"report-{index}.json").exists():
                    raise RuntimeError(f"peer {index} exited with {proc.returncode}:\n{self.output(index)}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"{path} did not appear within {timeout} s")
            time.sleep(0.002)

    def reports(self) -> list[dict[str, Any]]:
        for index in range(len(self.procs)):
            self.wait(self.control / f"report-{index}.json")
        return [json.loads((self.control / f"report-{index}.json").read_text())
                for index in range(len(self.procs))]

    def output(self, index: int) -> str:
        try:
            return (self.dir / f"peer-{index}.out").read_text(errors="replace")[-4000:]
        except OSError:
            return ""

    def executions(self, salt: str) -> list[tuple[int, int, float]]:
        """(argument, process group, start time) of every execution of the run's calls."""
        try:
            lines = self.log.read_text().splitlines()
        except FileNotFoundError:
            return []
        return [(int(parts[1]), int(parts[2]), float(parts[4])) for parts in (line.split() for line in lines)
                if len(parts) == 5 and parts[0] == salt]

    def close(self) -> None:
        """SIGKILL every process group started here (a peer that exited may leave its worker)."""
        kill_groups(self.procs, LEFTOVER_GROUPS)


def _mapped_by(root: Path, target: Target, name: str, peers: int, opts: argparse.Namespace,
               requests: RequestLog | None) -> dict[str, Any]:
    """``peers`` processes map the same calls, released together: wall time and duplicates."""
    salt = f"{name}-{secrets.token_hex(4)}"
    run = Peers(root, f"{target.name}-{name}")
    try:
        run.launch(peers, {"location": target.at(f"acceptance-{name}"), "options": target.options,
                           "salt": salt, "calls": opts.acceptance_calls, "seconds": opts.seconds})
        m = requests.mark() if requests is not None else 0
        started = run.start()
        reports = run.reports()
        requested = requests.since(m) if requests is not None else None
        executions = run.executions(salt)
    finally:
        run.close()
    ended = sorted(r["ended"] - started for r in reports)
    calls = opts.acceptance_calls
    counts = Counter(x for x, _, _ in executions)
    # The last execution's end (its start plus its sleep): every result is stored a few store
    # operations later. A peer done much later saw it late: it waited for its next poll.
    last_end = max(at for _, _, at in executions) + opts.seconds - started if executions else None
    # Between one peer's executions: from one call's end to its next call's start, the peer
    # settles the call (stores its result, retires its request and claim) and picks the next.
    gaps = []
    for group in {g for _, g, _ in executions}:
        starts = sorted(at for _, g, at in executions if g == group)
        gaps += [later - (earlier + opts.seconds) for earlier, later in itertools.pairwise(starts)]
    return {
        "peers": peers,
        "calls": calls,
        "seconds_per_call": opts.seconds,
        "ideal_s": calls * opts.seconds / peers,
        "wall_s": round(ended[-1], 4),
        "first_peer_done_s": round(ended[0], 4),
        "values_ok": all(r["values_ok"] for r in reports),
        "executed_per_peer": [r["executed"] for r in reports],
        "warmup_seconds_per_peer": [r["warm_seconds"] for r in reports],
        "last_execution_ended_s": None if last_end is None else round(last_end, 4),
        "first_execution_started_s": round(min(at for _, _, at in executions) - started, 4) if executions else None,
        "gap_between_calls_ms": _ms(gaps) if gaps else None,
        "executions": sum(counts.values()),
        "executed_calls": len(counts),
        "duplicates": sum(n - 1 for n in counts.values()),
        "repeated_calls": sorted(x for x, n in counts.items() if n > 1),
        "s3_requests": _per_call(requested, calls),
    }


def _acceptance(root: Path, target: Target, opts: argparse.Namespace,
                requests: RequestLog | None) -> dict[str, Any]:
    alone = _mapped_by(root, target, "alone", 1, opts, requests)
    two = _mapped_by(root, target, "two", 2, opts, requests)
    return {"alone": alone, "two": two, "speedup": round(alone["wall_s"] / two["wall_s"], 4)}


# -- the table -----------------------------------------------------------------------------------


def _rows(results: dict[str, Any], opts: argparse.Namespace) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []

    def add(figure: str, unit: str, values: dict[str, float | None]) -> None:
        local, s3 = values.get("local"), values.get("s3")
        ratio = s3 / local if local and s3 is not None else None
        rows.append({"figure": figure, "unit": unit, **{k: values.get(k) for k in STORES},
                     "s3_over_local": None if ratio is None else round(ratio, 4)})

    prim, ex, acc = results["primitives"], results["executor"], results["acceptance"]
    names = [("read_hit", "read, present (100 B)"), ("read_miss", "read, absent"),
             ("write_new", "write, new key"), ("create_new", "create, new key"),
             ("age_present", "age, present"), ("exists_absent", "exists, absent"),
             (f"list_{opts.list_keys}", f"list a prefix of {opts.list_keys} keys")]
    for key, label in names:
        add(f"{label} p50", "ms", {s: prim[s][key]["p50_ms"] for s in prim})
    add(f"hit submit().result() p50 (n={opts.hits})", "ms", {s: ex[s]["hit"]["p50_ms"] for s in ex})
    add(f"miss round trip p50 (n={opts.calls})", "ms", {s: ex[s]["round_trip"]["p50_ms"] for s in ex})
    add(f"miss round trip p90 (n={opts.calls})", "ms", {s: ex[s]["round_trip"]["p90_ms"] for s in ex})
    for c in (1, opts.chunksize):
        add(f"map {opts.map} misses, chunksize={c}", "/s",
            {s: ex[s][f"map_chunksize_{c}"]["calls_per_s"] for s in ex})
    n, secs = opts.acceptance_calls, opts.seconds
    add(f"{n} x {secs:g} s, 1 process alone", "s", {s: acc[s]["alone"]["wall_s"] for s in acc})
    add(f"{n} x {secs:g} s, 2 processes", "s", {s: acc[s]["two"]["wall_s"] for s in acc})
    add("  speed-up alone/two (ideal 2)", "x", {s: acc[s]["speedup"] for s in acc})
    add("  duplicate executions (2 proc.)", "n", {s: acc[s]["two"]["duplicates"] for s in acc})
    add("  2 proc.: last execution ended", "s", {s: acc[s]["two"]["last_execution_ended_s"] for s in acc})
    add("  2 proc.: first of the 2 done", "s", {s: acc[s]["two"]["first_peer_done_s"] for s in acc})
    for run, label in (("alone", "alone"), ("two", "2 proc.")):
        add(f"  {label}: gap between a peer's calls p50", "ms",
            {s: (acc[s][run]["gap_between_calls_ms"] or {}).get("p50_ms") for s in acc})
    return rows


def _fmt(value: float | None, unit: str) -> str:
    if value is None:
        return "-"
    if unit == "ms":
        return f"{value:.3f} ms" if value < 10 else f"{value:.1f} ms"
    if unit == "/s":
        return f"{value:,.0f}/s"
    if unit == "s":
        return f"{value:.2f} s"
    if unit == "x":
        return f"{value:.2f}x"
    return f"{value:g}"


def _print_table(rows: list[dict[str, Any]]) -> None:
    head = f"{'figure':<40} {'local':>11} {'memory://':>11} {'S3 (moto)':>11}  {'S3/local':>8}"
    print(head)
    print("-" * len(head))
    for r in rows:
        ratio = f"{r['s3_over_local']:.2f}x" if r["s3_over_local"] is not None and r["unit"] != "n" else "-"
        cells = " ".join(f"{_fmt(r[s], r['unit']):>11}" for s in STORES)
        print(f"{r['figure']:<40} {cells}  {ratio:>8}")


def _print_requests(results: dict[str, Any], opts: argparse.Namespace) -> None:
    ex, acc = results["executor"].get("s3"), results["acceptance"].get("s3")
    if ex is None:
        return
    print("S3 requests the server saw, per call (the idle peer's polls and heartbeats included):")
    figures = [("hit", ex["hit"]), ("miss round trip", ex["round_trip"])]
    figures += [(f"map chunksize={c}", ex[f"map_chunksize_{c}"]) for c in (1, opts.chunksize)]
    if acc is not None:
        n = opts.acceptance_calls
        figures += [(f"{n} calls, alone", acc["alone"]), (f"{n} calls, 2 processes", acc["two"])]
    for label, figure in figures:
        req = figure.get("s3_requests")
        if req is None:
            continue
        top = ", ".join(f"{k} {v:g}" for k, v in list(req["by_kind_per_call"].items())[:10])
        more = len(req["by_kind_per_call"]) - 10
        print(f"  {label:<22} {req['per_call']:>6.1f}/call: {top}{f', +{more} kinds' if more > 0 else ''}")


# -- main ----------------------------------------------------------------------------------------


def _on_sigterm(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt  # unwind through every finally: executors, peers, the server


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.stores", description=__doc__.split("\n")[0])
    parser.add_argument("--json", type=Path, default=DEFAULT_JSON, metavar="PATH",
                        help=f"where to write the results (default: {DEFAULT_JSON})")
    parser.add_argument("--dir", type=Path, default=None,
                        help="make the temporary folder under this directory (default: the system temp dir)")
    parser.add_argument("--samples", type=int, default=50, help="timed samples per store operation (default: 50)")
    parser.add_argument("--list-keys", type=int, default=100, help="keys under the listed prefix (default: 100)")
    parser.add_argument("--warmup", type=int, default=5, help="warm-up round trips per executor (default: 5)")
    parser.add_argument("--hits", type=int, default=30, help="timed hits per store (default: 30)")
    parser.add_argument("--calls", type=int, default=30, help="timed miss round trips per store (default: 30)")
    parser.add_argument("--map", type=int, default=200, help="new arguments per map (default: 200)")
    parser.add_argument("--chunksize", type=int, default=16, help="chunksize of the chunked map (default: 16)")
    parser.add_argument("--repeat", type=int, default=3,
                        help="runs of each map on local and memory://, median (default: 3; S3: 1)")
    parser.add_argument("--acceptance-calls", type=int, default=10, help="calls in the acceptance map (default: 10)")
    parser.add_argument("--seconds", type=float, default=0.5, help="sleep per acceptance call (default: 0.5)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    parser.add_argument("--peer", default=None, help=argparse.SUPPRESS)  # internal: run one peer
    opts = parser.parse_args(argv)
    if opts.peer is not None:
        return _peer_main(json.loads(opts.peer))

    if opts.dir is not None:
        opts.dir.mkdir(parents=True, exist_ok=True)
    root = Path(tempfile.mkdtemp(prefix="pythagoras-bench-stores-", dir=opts.dir))
    previous_sigterm = signal.signal(signal.SIGTERM, _on_sigterm)
    load_before = loadavg()
    began = time.perf_counter()
    server: Any = None
    memory_root = f"pythagoras-bench-{secrets.token_hex(6)}"
    results: dict[str, Any] = {"primitives": {}, "executor": {}, "acceptance": {}}
    try:
        print("moto_server ...", file=sys.stderr, flush=True)
        server = _moto_server_class()(root / "moto_server.log")
        server.start()
        requests = RequestLog(server.log)
        targets = {
            "local": Target("local", str(root / "local"), None),
            "memory": Target("memory", f"memory://{memory_root}", None),
            "s3": Target("s3", f"s3://{server.new_bucket()}/run", server.storage_options()),
        }
        for name, target in targets.items():
            print(f"{TITLES[name]}: store primitives ...", file=sys.stderr, flush=True)
            results["primitives"][name] = _primitives(target, opts.samples, opts.list_keys)
        for name, target in targets.items():
            print(f"{TITLES[name]}: executor ...", file=sys.stderr, flush=True)
            results["executor"][name] = _executor_figures(target, opts, requests if name == "s3" else None)
        for name in ("local", "s3"):
            print(f"{TITLES[name]}: {opts.acceptance_calls} x {opts.seconds:g} s, alone and 2 processes ...",
                  file=sys.stderr, flush=True)
            results["acceptance"][name] = _acceptance(root, targets[name], opts,
                                                      requests if name == "s3" else None)
    finally:
        if server is not None:
            server.stop()
        processes = reap_leftovers()
        with contextlib.suppress(Exception):  # nothing stored there, or no fsspec: nothing to free
            import fsspec  # type: ignore[import-untyped]

            fsspec.filesystem("memory").rm(f"/{memory_root}", recursive=True)
        if opts.keep:
            print(f"kept {root}", file=sys.stderr)
        else:
            shutil.rmtree(root, ignore_errors=True)
        signal.signal(signal.SIGTERM, previous_sigterm)
    wall = time.perf_counter() - began
    load_after = loadavg()

    rows = _rows(results, opts)
    print(f"Stores side by side: a local folder, memory:// (one process only) and S3 on moto_server "
          f"(127.0.0.1); temp folder {root} ({'kept' if opts.keep else 'removed'})")
    print(f"PythagorasExecutor(max_workers=1), default options otherwise; trivial inc(x), new "
          f"arguments unless 'hit'; primitives: {opts.samples} samples each; maps: median of "
          f"{opts.repeat} runs (S3: 1)")
    _print_table(rows)
    _print_requests(results, opts)
    for name, acc in results["acceptance"].items():
        for run in ("alone", "two"):
            r = acc[run]
            if not r["values_ok"]:
                print(f"  WARNING: {TITLES[name]}, {run}: a peer's map returned wrong values")
            if r["executed_calls"] != r["calls"]:
                print(f"  WARNING: {TITLES[name]}, {run}: {r['calls'] - r['executed_calls']} calls never executed")
        two, alone = acc["two"], acc["alone"]
        print(f"  {TITLES[name]}, 2 processes: executed {two['executed_per_peer']} calls each; the last "
              f"execution ended at {two['last_execution_ended_s']:.2f} s, the peers were done at "
              f"{two['first_peer_done_s']:.2f} s and {two['wall_s']:.2f} s (ideal {two['ideal_s']:.2f} s); "
              f"alone: last execution ended at {alone['last_execution_ended_s']:.2f} s, done at "
              f"{alone['wall_s']:.2f} s (ideal {alone['ideal_s']:.2f} s)")
    if processes["killed_after_grace"]:
        print(f"  WARNING: child processes outlived their shutdown and were killed: "
              f"{processes['killed_after_grace']}")
    if LEFTOVER_GROUPS:
        print(f"  WARNING: process groups still alive after SIGKILL: {LEFTOVER_GROUPS}")
    print_load(wall, load_before, load_after, "every figure here suffers from it, the S3 ones most")

    result = {
        "benchmark": "stores",
        "when": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": machine(load_before, load_after),
        "versions": {d: version(d) for d in ("pythagoras", "fsspec", "s3fs", "moto", "botocore",
                                               "aiobotocore", "loky", "cloudpickle")},
        "settings": {"folder": str(root), "samples": opts.samples, "list_keys": opts.list_keys,
                     "warmup": opts.warmup, "hits": opts.hits, "calls": opts.calls, "map": opts.map,
                     "chunksize": opts.chunksize, "repeat": opts.repeat, "repeat_s3": 1,
                     "acceptance_calls": opts.acceptance_calls, "seconds": opts.seconds,
                     "wall_seconds": round(wall, 2)},
        "rows": rows,
        **results,
        "processes": processes,
        "leftover_process_groups": LEFTOVER_GROUPS,
    }
    write_json(opts.json, result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
