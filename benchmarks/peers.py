"""Many peers: 8 peer processes with 1 worker each run 400 calls of 50 ms.

Run from the repository root, either way::

    .venv/bin/python -m benchmarks.peers
    .venv/bin/python benchmarks/peers.py --json /tmp/peers.json

The machine may have 2 cores only, so the calls *sleep* (``benchmarks.swarm.nap``): 8 peers fit.
Two ways of being 8 peers, each on a fresh folder of its own:

- ``workers`` (the figure) -- 8 ``pythagoras worker FOLDER --max-workers 1`` processes (run as
  ``python -m pythagoras worker``) serve the folder; this process is a client
  (``PythagorasExecutor(FOLDER, max_workers=0)``: it runs nothing) that submits the ``--calls``
  calls one ``submit`` each and waits for every result. Before the timing every worker's pool is
  warm: the client submits one call per worker, of ``--warm-seconds`` each, until the execution
  log shows that every worker ran one (each worker has one slot, so 8 slow calls go to 8
  workers). Efficiency = ideal (calls x seconds / 8) / wall time, the wall time running from the
  first ``submit`` until the last result is in the client's hands.
- ``all_submit`` (beside it) -- 8 peers that each submit the same calls with ``sync_parallel``
  and serve while they wait (``benchmarks.swarm``'s scenario with 8 peers): efficiency from the
  start file until the last peer's ``sync_parallel`` returns.

Duplicates are executions beyond one per call, counted through the file every execution
appends to (``PYTHAGORAS_BENCH_EXECUTIONS``; see ``benchmarks/swarm.py``). From the same log: when
the last execution ended (its result is stored a few store operations later), and the gap
between one worker's consecutive calls (settling one call, picking the next).

Every process started is in a session of its own and is stopped by SIGTERM (a worker releases
its claims and leaves), then killed by process group; the temporary folder is removed unless
``--keep``. Nothing is asserted: this is a benchmark, not a test.
"""

from __future__ import annotations

import argparse
import datetime
import itertools
import os
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
    from . import swarm as _swarm
    from ._report import (
        descendants,
        loadavg,
        machine,
        print_load,
        reap_leftovers,
        version,
        write_json,
    )
except ImportError:  # run as a script: benchmarks/NAME.py
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from benchmarks import swarm as _swarm  # type: ignore[no-redef]
    from benchmarks._report import (  # type: ignore[no-redef]
        descendants,
        loadavg,
        machine,
        print_load,
        reap_leftovers,
        version,
        write_json,
    )

REPO = Path(__file__).resolve().parent.parent
DEFAULT_JSON = Path(__file__).resolve().parent / "results" / "peers.json"
LOG_VARIABLE = _swarm.LOG_VARIABLE
GOAL_EFFICIENCY = 0.9  # at least
TIMEOUT = 120.0


def _env(log: Path) -> dict[str, str]:
    """The peers' environment: the execution log, and the repository on the path, so that
    ``benchmarks.swarm.nap`` is imported by reference by every worker."""
    path = os.environ.get("PYTHONPATH")
    return {**os.environ, LOG_VARIABLE: str(log),
            "PYTHONPATH": str(REPO) + (os.pathsep + path if path else "")}


def _executions(log: Path) -> list[tuple[int, int, int, float]]:
    """(call, process group, pid, start time) of every execution logged (``swarm.nap``)."""
    try:
        text = log.read_text()
    except FileNotFoundError:
        return []
    rows = []
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 4:
            rows.append((int(parts[0]), int(parts[1]), int(parts[2]), float(parts[3])))
    return rows


def _cpu_seconds(pids: list[int]) -> float:
    """CPU seconds (user + system) used so far by these processes and their live descendants
    (Linux /proc; 0 elsewhere)."""
    ticks = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    total = 0
    for pid in {p for root in pids for p in (root, *descendants(root))}:
        try:
            with open(f"/proc/{pid}/stat", "rb") as f:
                fields = f.read().decode(errors="replace").rpartition(")")[2].split()
            total += int(fields[11]) + int(fields[12])
        except (OSError, IndexError, ValueError):
            continue
    return total / ticks


def _live_peers(store: Path) -> int:
    try:
        return sum(1 for name in os.listdir(store / "peers") if not name.startswith("."))
    except FileNotFoundError:
        return 0


def _ms(values: list[float]) -> dict[str, Any] | None:
    if not values:
        return None
    ms = sorted(v * 1e3 for v in values)
    return {"p50_ms": round(statistics.median(ms), 3), "max_ms": round(ms[-1], 3),
            "mean_ms": round(statistics.fmean(ms), 3), "samples": len(ms)}


def _spies(pids: list[int], seconds: float, profile: Path) -> list[subprocess.Popen[bytes]]:
    """py-spy attached to each process (and its children) for ``seconds``: collapsed stacks in
    ``profile/<pid>.txt``."""
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    profile.mkdir(parents=True, exist_ok=True)
    return [subprocess.Popen([py_spy, "record", "-p", str(pid), "--subprocesses", "--rate", "500", "--nonblocking",
                              "--format", "raw", "-d", str(max(1, round(seconds))), "-o", str(profile / f"{pid}.txt")],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for pid in pids]


def workers_run(root: Path, *, peers: int = 8, calls: int = 400, seconds: float = 0.05,
                warm_seconds: float = 0.5, profile: Path | None = None) -> dict[str, Any]:
    """``peers`` ``pythagoras worker`` processes serve ``calls`` calls a client submits.

    ``profile``: attach py-spy to every worker and to this process for the timed run (its
    figures are then slower): collapsed stacks per process in that folder."""
    from pythagoras.executor import PythagorasExecutor

    run_dir = root / "workers"
    store = run_dir / "store"
    log = run_dir / "executions.log"
    run_dir.mkdir(parents=True)
    env = _env(log)
    procs: list[subprocess.Popen[bytes]] = []
    ex = None
    started_at = time.perf_counter()
    try:
        for index in range(peers):
            with open(run_dir / f"worker-{index}.out", "wb") as out:
                procs.append(subprocess.Popen(
                    [sys.executable, "-m", "pythagoras", "worker", str(store), "--max-workers", "1"],
                    cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True))
        deadline = time.monotonic() + TIMEOUT
        while _live_peers(store) < peers:  # each worker writes its peer record before serving
            for index, proc in enumerate(procs):
                if proc.poll() is not None:
                    raise RuntimeError(f"worker {index} exited with {proc.returncode}: "
                                       f"{(run_dir / f'worker-{index}.out').read_text()[-2000:]}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"only {_live_peers(store)} of {peers} workers announced themselves")
            time.sleep(0.01)
        announced_s = time.perf_counter() - started_at
        ex = PythagorasExecutor(store, max_workers=0)  # a client: it runs nothing
        nap = _swarm.nap  # benchmarks.swarm.nap, by reference: every worker imports it

        # Warm: one slow call per worker until every worker ran one (its pool started).
        warm_rounds, warm_args = 0, -1
        while True:
            warm_rounds += 1
            futures = []
            for _ in range(peers):
                futures.append(ex.submit(nap, i=warm_args, seconds=warm_seconds))
                warm_args -= 1
            for f in futures:
                f.result(timeout=TIMEOUT)
            warmed = {group for i, group, _, _ in _executions(log) if i < 0}
            if len(warmed) >= peers or warm_rounds >= 4:
                break
        warm_s = time.perf_counter() - started_at

        worker_pids = [proc.pid for proc in procs]
        spies = []
        if profile is not None:
            spies = _spies([*worker_pids, os.getpid()], 2 * calls * seconds / peers + 3, profile)
            time.sleep(1.0)  # attached
        cpu_before, own_before = _cpu_seconds(worker_pids), time.process_time()
        t0 = time.time()
        futures = [ex.submit(nap, i=i, seconds=seconds) for i in range(calls)]
        submitted = time.time()
        values = [f.result(timeout=TIMEOUT) for f in futures]
        ended = time.time()
        cpu_workers, cpu_client = _cpu_seconds(worker_pids) - cpu_before, time.process_time() - own_before
        for spy in spies:
            spy.wait(timeout=60)
    finally:
        if ex is not None:
            ex.shutdown(wait=True, cancel_futures=True)
        _stop(procs)
    wall = ended - t0
    ideal = calls * seconds / peers
    runs = [(i, g, at) for i, g, _, at in _executions(log) if i >= 0]
    counts = Counter(i for i, _, _ in runs)
    per_worker = Counter(g for _, g, _ in runs)
    gaps: list[float] = []
    for group in per_worker:
        starts = sorted(at for _, g, at in runs if g == group)
        gaps += [later - (earlier + seconds) for earlier, later in itertools.pairwise(starts)]
    return {
        "variant": "workers",
        "peers": peers, "calls": calls, "seconds_per_call": seconds, "ideal_s": ideal,
        "wall_s": round(wall, 4), "efficiency": round(ideal / wall, 4),
        "submit_s": round(submitted - t0, 4),
        "first_execution_started_s": round(min(at for _, _, at in runs) - t0, 4) if runs else None,
        "last_execution_ended_s": round(max(at for _, _, at in runs) + seconds - t0, 4) if runs else None,
        "gap_between_calls": _ms(gaps),
        "values_ok": values == list(range(calls)),
        "executed_per_worker": sorted(per_worker.values(), reverse=True),
        "workers_that_ran_calls": len(per_worker),
        "executions": sum(counts.values()), "executed_calls": len(counts),
        "duplicates": sum(n - 1 for n in counts.values()),
        "repeated_calls": sorted(i for i, n in counts.items() if n > 1),
        # CPU the swarm used during the run: the workers with their pools, and this client.
        "cpu_s_workers": round(cpu_workers, 2), "cpu_s_client": round(cpu_client, 2),
        "cpu_ms_per_call": round((cpu_workers + cpu_client) / calls * 1e3, 2),
        "warm_rounds": warm_rounds, "workers_warmed": len(warmed),
        "startup_s": round(announced_s, 2), "startup_and_warm_s": round(warm_s, 2),
    }


def _stop(procs: list[subprocess.Popen[bytes]]) -> None:
    """SIGTERM each worker (it releases its claims and leaves), then kill its process group."""
    for proc in procs:
        if proc.poll() is None:
            try:
                proc.send_signal(signal.SIGTERM)
            except ProcessLookupError:
                pass
    deadline = time.monotonic() + 10
    for proc in procs:
        try:
            proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            pass
    for proc in procs:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass


def all_submit_run(root: Path, *, peers: int = 8, calls: int = 400, seconds: float = 0.05) -> dict[str, Any]:
    """``benchmarks.swarm``'s scenario with ``peers`` peers: each submits the same calls."""
    result = _swarm._parallel_run(root, "all-submit", peers=peers, calls=calls, seconds=seconds)
    return {"variant": "all_submit", **result}


def measure(root: Path, *, peers: int = 8, calls: int = 400, seconds: float = 0.05,
            all_submit: bool = True) -> dict[str, Any]:
    """Both variants (``all_submit`` optional) on folders under ``root``."""
    out: dict[str, Any] = {"workers": workers_run(root, peers=peers, calls=calls, seconds=seconds)}
    if all_submit:
        out["all_submit"] = all_submit_run(root, peers=peers, calls=calls, seconds=seconds)
    return out


def describe(run: dict[str, Any]) -> str:
    dup = run["duplicates"]["duplicates"] if isinstance(run["duplicates"], dict) else run["duplicates"]
    return (f"{run['variant']}: wall {run['wall_s']:.3f} s for ideal {run['ideal_s']:.3f} s, efficiency "
            f"{run['efficiency']:.3f}, duplicates {dup}, executed per peer "
            f"{run.get('executed_per_worker') or run.get('executed_per_peer')}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.peers", description=__doc__.split("\n")[0])
    parser.add_argument("--json", type=Path, default=DEFAULT_JSON, metavar="PATH")
    parser.add_argument("--dir", type=Path, default=None, help="make the temporary folder under this directory")
    parser.add_argument("--peers", type=int, default=8)
    parser.add_argument("--calls", type=int, default=400)
    parser.add_argument("--seconds", type=float, default=0.05)
    parser.add_argument("--no-all-submit", action="store_true", help="only the workers variant")
    parser.add_argument("--profile", type=Path, default=None, metavar="DIR",
                        help="py-spy on every worker and the client during the workers run; stacks in DIR")
    parser.add_argument("--keep", action="store_true")
    opts = parser.parse_args(argv)
    if opts.dir is not None:
        opts.dir.mkdir(parents=True, exist_ok=True)
    root = Path(tempfile.mkdtemp(prefix="pythagoras-bench-peers-", dir=opts.dir))
    load_before = loadavg()
    began = time.perf_counter()
    try:
        result = {"workers": workers_run(root, peers=opts.peers, calls=opts.calls, seconds=opts.seconds,
                                         profile=opts.profile)}
        if not opts.no_all_submit:
            result["all_submit"] = all_submit_run(root, peers=opts.peers, calls=opts.calls, seconds=opts.seconds)
    finally:
        processes = reap_leftovers()
        if not opts.keep:
            shutil.rmtree(root, ignore_errors=True)
    wall = time.perf_counter() - began
    load_after = loadavg()
    for run in result.values():
        print(describe(run))
    print_load(wall, load_before, load_after, "efficiency suffers from it")
    write_json(opts.json, {
        "benchmark": "peers",
        "when": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": machine(load_before, load_after),
        "versions": {d: version(d) for d in ("pythagoras", "loky", "cloudpickle", "watchdog")},
        "settings": {"peers": opts.peers, "calls": opts.calls, "seconds": opts.seconds,
                     "wall_seconds": round(wall, 2), "goal_efficiency": GOAL_EFFICIENCY},
        **result, "processes": processes,
    })
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
