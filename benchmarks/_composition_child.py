"""The child interpreter of ``benchmarks/composition.py``: a user's script, run as ``__main__``,
whose pure functions travel by value. Prints one JSON line.

    python _composition_child.py LOCATION hits HITS
    python _composition_child.py LOCATION tree DEPTH LEAF_SECONDS SALT
"""

from __future__ import annotations

import json
import sys
import time

from pythagoras import SharedStorage_P2P_Cloud, kw_args

location, mode = sys.argv[1], sys.argv[2]
cloud = SharedStorage_P2P_Cloud(location, max_workers=1)


@cloud.add_pure_function
def inner(*, x):
    return x * x


@cloud.add_pure_function
def probe(*, hits, salt):
    """Seconds per hit of ``inner``, measured inside a pure function's body."""
    started = time.perf_counter()
    for i in range(hits):
        inner(x=i % 100)
    return (time.perf_counter() - started) / hits


@cloud.add_pure_function
def leaf(*, i, seconds, salt):
    time.sleep(seconds)
    return i


@cloud.add_pure_function
def node(*, depth, i, seconds, salt):
    """A binary tree of nested calls: each node waits on its two children's sync_parallel."""
    if depth == 0:
        return leaf(i=i, seconds=seconds, salt=salt)
    children = [kw_args(depth=depth - 1, i=2 * i + k, seconds=seconds, salt=salt) for k in (0, 1)]
    return sum(node.sync_parallel(children))


def hits(count: int) -> dict[str, float]:
    for x in range(100):
        inner(x=x)
    started = time.perf_counter()
    for i in range(count):
        inner(x=i % 100)
    top = (time.perf_counter() - started) / count
    in_process = probe(hits=count, salt=time.time_ns())  # computed here: nested, this process
    in_worker = probe.sync_parallel([kw_args(hits=count, salt=time.time_ns())])[0]
    return {"top_level_us": top * 1e6, "nested_here_us": in_process * 1e6,
            "nested_in_worker_us": in_worker * 1e6}


def tree(depth: int, seconds: float, salt: int) -> dict[str, float]:
    """The same leaves computed as a tree of nested calls, then flat (one sync_parallel)."""
    started = time.perf_counter()
    nested = node.sync_parallel([kw_args(depth=depth, i=0, seconds=seconds, salt=salt)])[0]
    nested_seconds = time.perf_counter() - started
    leaves = [kw_args(i=i, seconds=seconds, salt=salt + 1) for i in range(2 ** depth)]
    started = time.perf_counter()
    flat = sum(leaf.sync_parallel(leaves))
    flat_seconds = time.perf_counter() - started
    assert nested == flat == sum(range(2 ** depth)), (nested, flat)
    return {"nested_s": nested_seconds, "flat_s": flat_seconds}


if __name__ == "__main__":
    if mode == "hits":
        result = hits(int(sys.argv[3]))
    else:
        result = tree(int(sys.argv[3]), float(sys.argv[4]), int(sys.argv[5]))
    cloud.close()
    print(json.dumps(result))
