"""The swarm: parallel efficiency, recovery after a SIGKILL, duplicate work, and pick cost.

Run from the repository root, either way::

    .venv/bin/python -m benchmarks.swarm
    .venv/bin/python benchmarks/swarm.py --json /tmp/swarm.json

Figures (the machine may have only 2 cores, so peers run *sleeping* calls: many peers fit):

- ``efficiency_2_peers`` -- two peer processes (``max_workers=1`` each) call ``sync_parallel``
  over the same ``--calls`` calls of ``--seconds`` each, released at one moment by a start file.
  Efficiency = ideal time (calls x seconds / 2) / wall time, the wall time running from the start
  file until the later peer's ``sync_parallel`` returns. Beside it, loky's own
  ``ProcessPoolExecutor.map`` with 2 workers over the same calls (the reference), and one peer
  alone (ideal calls x seconds). Pools are warm on every side: each peer runs one call of its own
  before the start, one peer after the other; loky runs one call per worker before the timing.
- ``recovery_after_sigkill`` -- three peers (``lease_timeout=--lease-timeout``) run ``--kill-calls``
  calls; one peer's process group (the peer and its worker) is SIGKILLed while it runs a call. The
  figure is the time from the kill until the killed call's result exists (its file's mtime).
  The peers share this machine, so a survivor sees that the claim's holder process is gone and
  breaks the lease at its next look, before it expires (peers on other machines wait for the
  lease: ``lease_timeout`` after the victim's last renewal, every lease_timeout/3).
- ``duplicates_*`` -- executions beyond one per call, per 100 calls, counted through a file that
  every execution appends to (named by the environment variable ``PYTHAGORAS_BENCH_EXECUTIONS``:
  a pure function must not read state it mutates, so the count lives outside it). In the kill
  run the killed call's rerun is one unavoidable duplicate; it is reported apart.
- ``pick_cost`` -- a store filled with 1,000 and with 20,000 pending requests through
  ``pythagoras.swarm.swarm.Swarm.submit``; picks are made as ``Peer._pick`` makes them: one
  ``candidates()`` listing (one bucket) serves the picks that follow until its keys are used up,
  each pick a ``claim()``; the mean µs per pick over ``--picks`` picks (each claim is released,
  untimed, so the number of pending requests stays put). Goal: flat, the 20,000/1,000 ratio at
  most 1.5.

Goals are printed beside the figures; nothing is asserted: this is a benchmark, not a test.
Every process started (peers in their own sessions, with their loky workers) is killed by process
group at the end, and the temporary folder is removed unless ``--keep``.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import resource
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

try:
    from ._report import kill_groups, loadavg, machine, print_load, version, write_json
except ImportError:  # run as a script: benchmarks/NAME.py
    from _report import kill_groups, loadavg, machine, print_load, version, write_json  # type: ignore[import-not-found,no-redef]

# -- the pure function ---------------------------------------------------------------------------
# A plain def in this file. It reads only the installed modules os and time (identified by name),
# so its identity is its own code; the execution log is a file outside it. Peers run this file as
# __main__ too (python -m benchmarks.swarm --peer ...), so every process computes the same identity.


def nap(*, i: int, seconds: float) -> int:
    path = os.environ.get("PYTHAGORAS_BENCH_EXECUTIONS")
    if path:
        with open(path, "a") as log:  # one short O_APPEND write per execution
            log.write(f"{i} {os.getpgrp()} {os.getpid()} {time.time():.6f}\n")
    time.sleep(seconds)
    return i


def _nap_kwargs(kwargs: dict[str, Any]) -> int:
    """loky's map passes one positional argument."""
    return nap(**kwargs)


LOG_VARIABLE = "PYTHAGORAS_BENCH_EXECUTIONS"
REPO = Path(__file__).resolve().parent.parent
DEFAULT_JSON = Path(__file__).resolve().parent / "results" / "swarm.json"
LEFTOVER_GROUPS: list[int] = []  # process groups that outlived their SIGKILL (reported, never expected)
TIMEOUT = 120.0  # seconds any one wait may take before the benchmark gives up on a scenario

GOALS = {
    "efficiency_2_peers": 0.9,  # at least
    "pick_cost_ratio": 1.5,  # at most: 20,000 pending / 1,000 pending
}


# -- a peer process ------------------------------------------------------------------------------


def _wait_for(path: Path, *, interval: float, timeout: float = TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{path} did not appear within {timeout} s")
        time.sleep(interval)


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _peer_main(config: dict[str, Any]) -> int:
    """One peer: open the store, warm its pool when told, run the calls at the start file."""
    from pythagoras import SharedStorage_P2P_Cloud, kw_args

    control = Path(config["control"])
    index = config["index"]
    cloud = SharedStorage_P2P_Cloud(config["store"], max_workers=1,
                                    lease_timeout=config["lease_timeout"])
    f = cloud.add_pure_function(nap)
    (control / f"loaded-{index}").touch()

    # Warm up alone (the driver lets one peer at a time through), so that this peer starts its
    # own pool: an idle peer serves only while it waits, and the others wait for nothing now.
    _wait_for(control / f"warm-{index}", interval=0.002)
    warm_started = time.perf_counter()
    f.sync_parallel([kw_args(i=-1 - index, seconds=0.0)], timeout=TIMEOUT)
    warm_seconds = time.perf_counter() - warm_started
    executed_before = cloud.peer.executed
    (control / f"ready-{index}").touch()

    _wait_for(control / "start", interval=0.0005)
    started = time.time()
    cpu_before = _cpu_seconds()
    calls = [kw_args(i=i, seconds=config["seconds"]) for i in range(config["calls"])]
    values = f.sync_parallel(calls, timeout=TIMEOUT)
    ended = time.time()
    report = {
        "index": index,
        "pid": os.getpid(),
        "started": started,
        "ended": ended,
        "values_ok": values == list(range(config["calls"])),
        "executed": cloud.peer.executed - executed_before,
        "cpu_seconds": round(_cpu_seconds() - cpu_before, 3),
        "warm_seconds": round(warm_seconds, 3),
    }
    tmp = control / f".report-{index}.tmp"
    tmp.write_text(json.dumps(report))
    os.replace(tmp, control / f"report-{index}.json")
    cloud.close()
    return 0


# -- running peers -------------------------------------------------------------------------------


class _Peers:
    """Peer processes, each in its own session (process group = its pid, with its loky workers)."""

    def __init__(self, root: Path, name: str, *, count: int, calls: int, seconds: float,
                 lease_timeout: float) -> None:
        self.dir = root / name
        self.store = self.dir / "store"
        self.control = self.dir / "control"
        self.log = self.dir / "executions.log"
        self.control.mkdir(parents=True)
        self.count, self.calls, self.seconds = count, calls, seconds
        self.lease_timeout = lease_timeout
        self.procs: list[subprocess.Popen[bytes]] = []
        self.started_at: float | None = None

    def launch(self) -> None:
        env = {**os.environ, LOG_VARIABLE: str(self.log)}
        for index in range(self.count):
            config = {"control": str(self.control), "store": str(self.store), "index": index,
                      "calls": self.calls, "seconds": self.seconds, "lease_timeout": self.lease_timeout}
            with open(self.dir / f"peer-{index}.out", "wb") as out:
                self.procs.append(subprocess.Popen(
                    [sys.executable, "-m", "benchmarks.swarm", "--peer", json.dumps(config)],
                    cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True))
        for index in range(self.count):  # warm the peers' pools one at a time
            self._wait(self.control / f"loaded-{index}")
            (self.control / f"warm-{index}").touch()
            self._wait(self.control / f"ready-{index}")

    def start(self) -> float:
        self.started_at = time.time()
        (self.control / "start").touch()
        return self.started_at

    def _wait(self, path: Path, timeout: float = TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        while not path.exists():
            for index, proc in enumerate(self.procs):
                if proc.poll() is not None and not (self.control / f"report-{index}.json").exists():
                    if proc.returncode != -signal.SIGKILL:
                        raise RuntimeError(f"peer {index} exited with {proc.returncode}:\n{self.output(index)}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"{path} did not appear within {timeout} s")
            time.sleep(0.002)

    def reports(self, indices: list[int]) -> list[dict[str, Any]]:
        for index in indices:
            self._wait(self.control / f"report-{index}.json")
        return [json.loads((self.control / f"report-{index}.json").read_text()) for index in indices]

    def output(self, index: int) -> str:
        try:
            return (self.dir / f"peer-{index}.out").read_text(errors="replace")[-4000:]
        except OSError:
            return ""

    def warnings(self) -> list[str]:
        lines = []
        for index in range(self.count):
            lines += [line for line in self.output(index).splitlines() if line.strip()]
        return lines

    def kill(self, index: int) -> float:
        """SIGKILL a peer's process group (the peer and its pool); the moment it returned."""
        os.killpg(self.procs[index].pid, signal.SIGKILL)
        return time.time()

    def executions(self) -> list[tuple[int, int, int, float]]:
        """(call, process group, pid, start time) of every execution logged so far."""
        try:
            text = self.log.read_text()
        except FileNotFoundError:
            return []
        rows = []
        for line in text.splitlines():
            parts = line.split()
            if len(parts) == 4:
                rows.append((int(parts[0]), int(parts[1]), int(parts[2]), float(parts[3])))
        return rows

    def duplicates(self) -> dict[str, Any]:
        counts = Counter(i for i, *_ in self.executions() if i >= 0)
        executions = sum(counts.values())
        duplicates = sum(n - 1 for n in counts.values())
        return {"calls": self.calls, "executed_calls": len(counts), "executions": executions,
                "duplicates": duplicates, "per_100_calls": round(100 * duplicates / self.calls, 2),
                "repeated_calls": sorted(i for i, n in counts.items() if n > 1)}

    def close(self) -> None:
        """Kill every process group started here (peers that exited may leave loky workers)."""
        kill_groups(self.procs, LEFTOVER_GROUPS)


# -- the scenarios -------------------------------------------------------------------------------


def _parallel_run(root: Path, name: str, *, peers: int, calls: int, seconds: float) -> dict[str, Any]:
    """``peers`` peers run the same calls from one start file: wall time, efficiency, duplicates."""
    run = _Peers(root, name, count=peers, calls=calls, seconds=seconds, lease_timeout=30.0)
    try:
        run.launch()
        started = run.start()
        reports = run.reports(list(range(peers)))
        wall = max(r["ended"] for r in reports) - started
        ideal = calls * seconds / peers
        return {
            "peers": peers,
            "calls": calls,
            "seconds_per_call": seconds,
            "ideal_s": ideal,
            "wall_s": round(wall, 4),
            "first_peer_done_s": round(min(r["ended"] for r in reports) - started, 4),
            "efficiency": round(ideal / wall, 4),
            "values_ok": all(r["values_ok"] for r in reports),
            "executed_per_peer": [r["executed"] for r in reports],
            "peer_cpu_seconds": [r["cpu_seconds"] for r in reports],
            "peer_warmup_seconds": [r["warm_seconds"] for r in reports],
            "duplicates": run.duplicates(),
            "peer_output": run.warnings(),
        }
    finally:
        run.close()


def _loky_run(root: Path, *, workers: int, calls: int, seconds: float) -> dict[str, Any]:
    """loky's own map over the same sleeping calls, its workers warmed first."""
    from joblib.externals import loky  # type: ignore[import-untyped]

    log = root / "loky-executions.log"
    previous = os.environ.get(LOG_VARIABLE)
    os.environ[LOG_VARIABLE] = str(log)  # loky's workers inherit it when they are spawned
    executor = loky.ProcessPoolExecutor(max_workers=workers)
    try:
        list(executor.map(_nap_kwargs, [{"i": -1 - w, "seconds": 0.05} for w in range(workers)]))
        started = time.perf_counter()
        values = list(executor.map(_nap_kwargs, [{"i": i, "seconds": seconds} for i in range(calls)]))
        wall = time.perf_counter() - started
    finally:
        executor.shutdown(wait=True, kill_workers=True)
        if previous is None:
            del os.environ[LOG_VARIABLE]
        else:
            os.environ[LOG_VARIABLE] = previous
    ideal = calls * seconds / workers
    return {"workers": workers, "calls": calls, "seconds_per_call": seconds, "ideal_s": ideal,
            "wall_s": round(wall, 4), "efficiency": round(ideal / wall, 4),
            "values_ok": values == list(range(calls))}


def _kill_run(root: Path, *, peers: int, calls: int, seconds: float, lease_timeout: float,
              kill_after: float) -> dict[str, Any]:
    """SIGKILL one of ``peers`` peers while it runs a call; time until that call's result exists."""
    from pythagoras import SharedStorage_P2P_Cloud

    run = _Peers(root, "kill", count=peers, calls=calls, seconds=seconds, lease_timeout=lease_timeout)
    victim = 0
    try:
        run.launch()
        observer = SharedStorage_P2P_Cloud(run.store, max_workers=0)  # addresses only: no peer runs
        f = observer.add_pure_function(nap)
        started = run.start()
        victim_group = run.procs[victim].pid
        # The victim's first call that starts at least kill_after into the run: kill it shortly
        # after it starts (a tenth of the call), while it surely runs.
        deadline = time.monotonic() + TIMEOUT
        target = None
        while target is None:
            for i, group, _pid, at in run.executions():
                if i >= 0 and group == victim_group and at >= started + kill_after:
                    target = (i, at)
                    break
            else:
                if time.monotonic() > deadline:
                    raise TimeoutError("the victim peer never started a call")
                time.sleep(0.001)
        killed_call, call_started = target
        time.sleep(max(0.0, call_started + seconds / 10 - time.time()))
        address = f.address(i=killed_call, seconds=seconds)
        result_path = run.store / address.result_key
        claim_path = run.store / "claims" / f"{address.function}.{address.arguments}"
        killed_at = run.kill(victim)
        run.procs[victim].wait(timeout=10)
        result_existed = result_path.exists()
        try:
            claim_age = killed_at - claim_path.stat().st_mtime
        except FileNotFoundError:
            claim_age = None
        while not result_path.exists():
            if time.monotonic() > deadline:
                raise TimeoutError("the killed call's result never appeared")
            time.sleep(0.002)
        seen_at = time.time()
        result_at = result_path.stat().st_mtime
        survivors = [k for k in range(peers) if k != victim]
        reports = run.reports(survivors)
        reruns = [at for i, group, _pid, at in run.executions() if i == killed_call and group != victim_group]
        duplicates = run.duplicates()
        beyond = duplicates["duplicates"] - (1 if killed_call in duplicates["repeated_calls"] else 0)
        return {
            "peers": peers,
            "calls": calls,
            "seconds_per_call": seconds,
            "lease_timeout_s": lease_timeout,
            "killed_call": killed_call,
            "killed_into_call_s": round(killed_at - call_started, 4),
            "killed_while_running": not result_existed,
            "recovery_s": round(result_at - killed_at, 4),
            "recovery_seen_by_polling_s": round(seen_at - killed_at, 4),
            "claim_age_at_kill_s": None if claim_age is None else round(claim_age, 4),
            "lease_expired_after_kill_s": None if claim_age is None else round(lease_timeout - claim_age, 4),
            "rerun_started_after_kill_s": round(min(reruns) - killed_at, 4) if reruns else None,
            "survivors_wall_s": round(max(r["ended"] for r in reports) - started, 4),
            "values_ok": all(r["values_ok"] for r in reports),
            "executed_per_survivor": [r["executed"] for r in reports],
            "survivor_cpu_seconds": [r["cpu_seconds"] for r in reports],
            "duplicates": {**duplicates, "beyond_killed_call_rerun": beyond,
                           "beyond_per_100_calls": round(100 * beyond / calls, 2)},
            "peer_output": run.warnings(),
        }
    finally:
        run.close()


def _pick_cost(root: Path, sizes: list[int], picks: int, warmup: int) -> list[dict[str, Any]]:
    """Peer-style picks (a listing shared by the picks that follow, then claim()) on stores holding
    ``size`` pending requests."""
    from pythagoras.identity.address import CallAddress
    from pythagoras.storage.local import LocalFolderStore
    from pythagoras.swarm.swarm import Swarm

    rows = []
    for size in sizes:
        swarm = Swarm(LocalFolderStore(root / f"picks-{size}"), lease_timeout=30.0)
        function = secrets.token_hex(16)
        filled = time.perf_counter()
        for k in range(size):
            swarm.submit(CallAddress(function, secrets.token_hex(16)), nap, "nap", (),
                         {"i": k, "seconds": 0.25}, "bench")
        fill_s = time.perf_counter() - filled
        # As a peer picks (Peer._pick): one listing (one bucket) serves the picks that follow it
        # until its keys are used up, so a pick costs a claim plus its share of a listing. Both
        # are measured apart, the listing several times, and added up per pick.
        listings_us, listed = [], 0
        for _ in range(5):
            t0 = time.perf_counter_ns()
            keys = swarm.candidates()
            listings_us.append((time.perf_counter_ns() - t0) / 1e3)
            listed = len(keys)
        claiming = []
        for n in range(warmup + picks):
            if not keys:
                keys = swarm.candidates()
            t1 = time.perf_counter_ns()
            address = swarm.address_of(keys.pop())
            assert address is not None
            claim = swarm.claim(address, "bench-peer")
            t2 = time.perf_counter_ns()
            if claim is None:
                raise RuntimeError(f"pick {n} on {size} pending requests claimed nothing")
            swarm.release(claim)  # untimed: the store keeps `size` unclaimed pending requests
            if n >= warmup:
                claiming.append((t2 - t1) / 1e3)
        listing_us = statistics.median(listings_us)
        rows.append({
            "pending": size,
            "picks": picks,
            "candidates_per_pick": listed,
            "pick_mean_us": round(statistics.fmean(claiming) + listing_us / max(listed, 1), 1),
            "listing_us": round(listing_us, 1),
            "claim_mean_us": round(statistics.fmean(claiming), 1),
            "fill_s": round(fill_s, 2),
        })
        shutil.rmtree(root / f"picks-{size}", ignore_errors=True)
    return rows


# -- the table -----------------------------------------------------------------------------------


def _rows(two: dict[str, Any], one: dict[str, Any], loky: dict[str, Any], kill: dict[str, Any],
          picks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    rows = []
    goal = GOALS["efficiency_2_peers"]
    rows.append({
        "figure": f"2-peer efficiency ({two['calls']} x {two['seconds_per_call']} s)",
        "pythagoras": f"{two['efficiency']:.3f} ({two['wall_s']:.2f} s)",
        "reference": f"loky map 2w {loky['efficiency']:.3f} ({loky['wall_s']:.2f} s)",
        "ratio": round(two["efficiency"] / loky["efficiency"], 4),
        "goal": f">={goal}", "met": two["efficiency"] >= goal,
    })
    rows.append({
        "figure": "1-peer efficiency (reference)",
        "pythagoras": f"{one['efficiency']:.3f} ({one['wall_s']:.2f} s)",
        "reference": f"ideal {one['ideal_s']:.2f} s",
        "ratio": None, "goal": "-", "met": None,
    })
    rows.append({
        "figure": "recovery after SIGKILL (3 peers)",
        "pythagoras": f"{kill['recovery_s']:.2f} s",
        "reference": f"lease_timeout {kill['lease_timeout_s']:.1f} s",
        "ratio": round(kill["recovery_s"] / kill["lease_timeout_s"], 4),
        "goal": "~lease", "met": None,
    })
    rows.append({
        "figure": "duplicates /100 calls, 2 peers",
        "pythagoras": f"{two['duplicates']['per_100_calls']:.2f}",
        "reference": "expected 0",
        "ratio": None, "goal": "-", "met": None,
    })
    d = kill["duplicates"]
    rows.append({
        "figure": "duplicates /100 calls, kill run",
        "pythagoras": f"{d['per_100_calls']:.2f} ({d['duplicates']} of {d['calls']})",
        "reference": f"killed rerun {100 / kill['calls']:.2f}",
        "ratio": None, "goal": "-", "met": None,
    })
    by_size = {p["pending"]: p for p in picks}
    small, large = min(by_size), max(by_size)
    ratio = by_size[large]["pick_mean_us"] / by_size[small]["pick_mean_us"]
    rows.append({
        "figure": f"pick cost, {large:,} vs {small:,} pending",
        "pythagoras": f"{by_size[large]['pick_mean_us']:.0f} µs",
        "reference": f"{by_size[small]['pick_mean_us']:.0f} µs at {small:,}",
        "ratio": round(ratio, 4),
        "goal": f"<={GOALS['pick_cost_ratio']}x", "met": ratio <= GOALS["pick_cost_ratio"],
    })
    return rows


def _print_table(rows: list[dict[str, Any]]) -> None:
    head = f"{'figure':<36} {'pythagoras':>20}  {'peer/reference':<30} {'ratio':>7}  {'goal':>7}  met"
    print(head)
    print("-" * len(head))
    for r in rows:
        ratio = f"{r['ratio']:.3f}" if r["ratio"] is not None else "-"
        met = {True: "yes", False: "NO", None: "-"}[r["met"]]
        print(f"{r['figure']:<36} {r['pythagoras']:>20}  {r['reference']:<30} {ratio:>7}  {r['goal']:>7}  {met}")




def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.swarm", description=__doc__.split("\n")[0])
    parser.add_argument("--json", type=Path, default=DEFAULT_JSON, metavar="PATH",
                        help=f"where to write the results (default: {DEFAULT_JSON})")
    parser.add_argument("--dir", type=Path, default=None,
                        help="make the temporary folder under this directory (default: the system temp dir)")
    parser.add_argument("--calls", type=int, default=40, help="calls in the efficiency runs (default: 40)")
    parser.add_argument("--seconds", type=float, default=0.25, help="sleep per call (default: 0.25)")
    parser.add_argument("--kill-calls", type=int, default=24, help="calls in the kill run (default: 24)")
    parser.add_argument("--lease-timeout", type=float, default=3.0, help="lease in the kill run (default: 3)")
    parser.add_argument("--sizes", type=int, nargs=2, default=[1000, 20000], metavar=("SMALL", "LARGE"),
                        help="pending requests for the pick cost (default: 1000 20000)")
    parser.add_argument("--picks", type=int, default=300, help="timed picks per size (default: 300)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    parser.add_argument("--peer", default=None, help=argparse.SUPPRESS)  # internal: run one peer
    args = parser.parse_args(argv)
    if args.peer is not None:
        return _peer_main(json.loads(args.peer))

    if args.dir is not None:
        args.dir.mkdir(parents=True, exist_ok=True)
    root = Path(tempfile.mkdtemp(prefix="pythagoras-bench-swarm-", dir=args.dir))
    load_before = loadavg()
    began = time.perf_counter()
    try:
        print("2 peers ...", file=sys.stderr, flush=True)
        two = _parallel_run(root, "two-peers", peers=2, calls=args.calls, seconds=args.seconds)
        print("loky map, 2 workers ...", file=sys.stderr, flush=True)
        loky = _loky_run(root, workers=2, calls=args.calls, seconds=args.seconds)
        print("1 peer ...", file=sys.stderr, flush=True)
        one = _parallel_run(root, "one-peer", peers=1, calls=args.calls, seconds=args.seconds)
        print("kill run, 3 peers ...", file=sys.stderr, flush=True)
        kill = _kill_run(root, peers=3, calls=args.kill_calls, seconds=args.seconds,
                         lease_timeout=args.lease_timeout, kill_after=4 * args.seconds)
        print("pick cost ...", file=sys.stderr, flush=True)
        picks = _pick_cost(root, sorted(args.sizes), args.picks, warmup=20)
    finally:
        if args.keep:
            print(f"kept {root}", file=sys.stderr)
        else:
            shutil.rmtree(root, ignore_errors=True)
    wall = time.perf_counter() - began
    load_after = loadavg()

    rows = _rows(two, one, loky, kill, picks)
    print(f"swarm figures; sleeping calls of {args.seconds} s; temp folder {root} "
          f"({'kept' if args.keep else 'removed'})")
    _print_table(rows)
    for p in picks:
        print(f"  pick at {p['pending']:>6,} pending: a listing of one bucket {p['listing_us']:.0f} µs "
              f"for {p['candidates_per_pick']} keys, + claim() {p['claim_mean_us']:.0f} µs a pick "
              f"(mean of {p['picks']})")
    print(f"  kill: lease expired {kill['lease_expired_after_kill_s']} s after the kill, rerun started "
          f"{kill['rerun_started_after_kill_s']} s after it, result at {kill['recovery_s']} s")
    print(f"  peer CPU seconds during sync_parallel: 2 peers {two['peer_cpu_seconds']}, "
          f"1 peer {one['peer_cpu_seconds']}, kill-run survivors {kill['survivor_cpu_seconds']}")
    for name, run in (("2 peers", two), ("1 peer", one), ("kill run", kill)):
        if not run["values_ok"]:
            print(f"  WARNING: {name}: sync_parallel returned wrong values")
        if run["peer_output"]:
            print(f"  {name}: peers wrote {len(run['peer_output'])} log line(s), e.g. {run['peer_output'][0][:160]}")
    if not kill["killed_while_running"]:
        print("  WARNING: the killed call's result existed at the kill; the recovery figure is void")
    if LEFTOVER_GROUPS:
        print(f"  WARNING: process groups still alive after SIGKILL: {LEFTOVER_GROUPS}")
    print_load(wall, load_before, load_after, "the efficiency and recovery figures suffer from it")

    result = {
        "benchmark": "swarm",
        "when": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": machine(load_before, load_after),
        "versions": {d: version(d) for d in ("pythagoras", "loky", "cloudpickle")},
        "settings": {"folder": str(root), "calls": args.calls, "seconds": args.seconds,
                     "kill_calls": args.kill_calls, "lease_timeout": args.lease_timeout,
                     "sizes": sorted(args.sizes), "picks": args.picks, "wall_seconds": round(wall, 2)},
        "goals": GOALS,
        "rows": rows,
        "two_peers": two,
        "one_peer": one,
        "loky_2_workers": loky,
        "kill": kill,
        "pick_cost": picks,
        "leftover_process_groups": LEFTOVER_GROUPS,
    }
    write_json(args.json, result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
