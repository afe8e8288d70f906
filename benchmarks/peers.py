"""Many peers: 8 ``pythagoras worker`` processes (1 worker each) serve a client; peer: the ideal.

    python -m benchmarks peers [--quick]

``peers`` ``pythagoras worker FOLDER --max-workers 1`` processes serve the folder; this process
is a client (``PythagorasExecutor(FOLDER, max_workers=0)``, it runs nothing) that submits
``calls`` sleeping calls of ``seconds`` (``harness.peers.nap``, imported by reference by every
worker) and waits for every result. Before the timing every worker's pool is warm: the client
submits one slow call per worker until the log shows each worker ran one. Efficiency = ideal
(calls x seconds / peers) / the wall time from the first ``submit`` to the last result; goal
>= 0.9. Notes: duplicates, calls per worker, the gap between a worker's calls, CPU used.
(Peers that each submit the same calls and serve while they wait are the ``swarm`` figure's.)
"""

from __future__ import annotations

import time
from pathlib import Path

from .harness import Result, Row
from .harness.peers import TIMEOUT, executions, nap, tally, workers
from .harness.processes import cpu_seconds

SETTINGS = {"full": {"peers": 8, "calls": 400, "seconds": 0.05, "warm_seconds": 0.5},
            "quick": {"peers": 4, "calls": 60, "seconds": 0.05, "warm_seconds": 0.3}}


def measure(root: Path, *, peers: int, calls: int, seconds: float, warm_seconds: float) -> Result:
    from pythagoras.executor import PythagorasExecutor

    store, log = root / "store", root / "executions.log"
    with workers(store, peers, log) as procs:
        ex = PythagorasExecutor(store, max_workers=0)  # a client: it runs nothing
        try:
            for attempt in range(4):  # one slow call per worker, until every worker ran one
                warm = [ex.submit(nap, i=-1 - attempt * peers - k, seconds=warm_seconds)
                        for k in range(peers)]
                for future in warm:
                    future.result(timeout=TIMEOUT)
                if len({g for i, g, _ in executions(log) if i < 0}) >= peers:
                    break
            pids = [p.pid for p in procs]
            cpu, own = cpu_seconds(pids), time.process_time()
            t0 = time.time()
            futures = [ex.submit(nap, i=i, seconds=seconds) for i in range(calls)]
            values = [f.result(timeout=TIMEOUT) for f in futures]
            wall = time.time() - t0
            cpu, own = cpu_seconds(pids) - cpu, time.process_time() - own
        finally:
            ex.shutdown(wait=True, cancel_futures=True)
    run = tally(executions(log), seconds, t0)
    ideal = calls * seconds / peers
    gap = (run["gap_between_calls"] or {}).get("p50")
    rows = [Row(f"{peers} workers x 1, {calls} x {seconds * 1000:g} ms: wall", wall, "s", "ideal", ideal,
                "ratio>=0.9", inverse=True),
            Row("  duplicate executions", run["duplicates"], "", "expected", 0)]
    notes = [(f"calls per worker {run['executed_per_peer']}; a worker's gap between calls p50 {gap} "
              f"ms; the last execution ended at {run['last_execution_ended_s']} s; CPU: workers "
              f"{cpu:.2f} s, client {own:.2f} s"),
             *([] if values == list(range(calls)) else ["WARNING: wrong values"])]
    return Result(rows, notes, {"wall_s": wall, "ideal_s": ideal, "cpu_s_workers": cpu,
                                "cpu_s_client": own, **run})
