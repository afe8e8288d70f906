"""A script whose pure functions call pure functions, run on a dask cluster of one worker
process with one thread: ``python _dask_nested.py <folder>``. Prints one JSON line."""

from __future__ import annotations

import json
import sys

from distributed import Client, LocalCluster

from pythagoras import SharedStorage_P2P_Cloud, kw_args

folder = sys.argv[1]


def main() -> dict:
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=True, protocol="tcp",
                      host="127.0.0.1", dashboard_address="127.0.0.1:0") as cluster, \
            Client(cluster) as client:
        cloud = SharedStorage_P2P_Cloud(folder, engine=client.get_executor())

        @cloud.add_pure_function
        def square(*, x):
            return x * x

        @cloud.add_pure_function
        def sum_squares(*, n):  # waits, on the cluster's only thread, for calls it submitted
            return sum(square.sync_parallel(kw_args(x=i) for i in range(n)))

        got = sum_squares.sync_parallel([kw_args(n=4), kw_args(n=5)], timeout=120)
        stored = all(square.is_stored(x=i) for i in range(5))
        cloud.close()
        return {"got": got, "want": [14, 30], "stored": stored}


if __name__ == "__main__":
    print(json.dumps(main()))
