"""One process with its own dask LocalCluster, mapping calls on a shared folder:
``python _dask_peer.py <folder> <barrier folder> <name> <calls>``.

It starts its cluster (one worker of two threads, in this process, on 127.0.0.1) and a
PythagorasExecutor on it, creates ``ready-<name>`` in the barrier folder, waits until every
peer is ready (``ready-*`` files: as many as ``PEERS``), maps ``work`` over the calls and prints
one JSON line: the values and how many calls its peer executed. Exits 2 if the others never
came.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import _engine_calls as calls
from distributed import Client, LocalCluster

from pythagoras import PythagorasExecutor

PEERS = 2
DEADLINE = 90.0  # only a hang reaches this
SECONDS = 0.05  # each call's work: long enough for the peers to overlap


def main(folder: str, barrier: str, name: str, n: int) -> int:
    with LocalCluster(n_workers=1, threads_per_worker=2, processes=False, protocol="tcp",
                      host="127.0.0.1", dashboard_address="127.0.0.1:0") as cluster, \
            Client(cluster) as client:
        with PythagorasExecutor(folder, engine=client.get_executor()) as executor:
            Path(barrier, f"ready-{name}").touch()
            give_up = time.monotonic() + DEADLINE
            while len(list(Path(barrier).glob("ready-*"))) < PEERS:
                if time.monotonic() > give_up:
                    return 2
                time.sleep(0.005)  # polling for the other peer's file, not standing in for it
            values = list(executor.map(calls.work, range(n), [SECONDS] * n, timeout=DEADLINE))
            executed = executor._peer.executed
    print(json.dumps({"values": values, "executed": executed}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])))
