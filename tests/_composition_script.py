"""A user's script of pure functions that call pure functions, run as ``__main__`` (so that its
functions travel by value, as a script's or a notebook's do).

    python _composition_script.py LOCATION SCENARIO MAX_WORKERS

prints one JSON line: what each scenario computed, and what plain Python computes for it.
Executions are counted in the file ``$PYTHAGORAS_TEST_EXECUTION_LOG`` names.
"""

from __future__ import annotations

import json
import os
import sys
import threading

import execution_log

from pythagoras import Memory, PythagorasExecutor, SharedStorage_P2P_Cloud, kw_args

location, scenario, max_workers = sys.argv[1], sys.argv[2], int(sys.argv[3])
cloud = SharedStorage_P2P_Cloud(location, max_workers=max_workers,
                                lease_timeout=float(os.environ.get("LEASE", "30")))


@cloud.add_pure_function
def square(*, x):
    execution_log.record(["square", x])
    return x * x


@cloud.add_pure_function
def sum_squares(*, n):  # calls another pure function directly
    execution_log.record(["sum_squares", n])
    return sum(square(x=i) for i in range(n))


@cloud.add_pure_function
def sum_squares_parallel(*, n):  # through sync_parallel, from inside a worker
    execution_log.record(["sum_squares_parallel", n])
    return sum(square.sync_parallel(kw_args(x=i) for i in range(n)))


@cloud.add_pure_function
def sum_squares_async(*, n):  # through async_parallel's futures
    execution_log.record(["sum_squares_async", n])
    return sum(f.result(timeout=120) for f in square.async_parallel(kw_args(x=i) for i in range(n)))


@cloud.add_pure_function
def tree(*, depth, i):  # a tree of nested sync_parallel calls, two children a node
    execution_log.record(["tree", depth, i])
    if depth == 0:
        return i
    return i + sum(tree.sync_parallel([kw_args(depth=depth - 1, i=2 * i + 1),
                                       kw_args(depth=depth - 1, i=2 * i + 2)]))


def plain_tree(depth, i):
    return i if depth == 0 else i + plain_tree(depth - 1, 2 * i + 1) + plain_tree(depth - 1, 2 * i + 2)


@cloud.add_pure_function
def fib(*, n):  # recursion: each level is memoized at the address of a top-level call
    return n if n < 2 else fib(n=n - 1) + fib(n=n - 2)


def plain_fib(n):
    a, b = 0, 1
    for _ in range(n):
        a, b = b, a + b
    return a


@cloud.add_pure_function
def returns_a_lock(*, x):
    execution_log.record(["returns_a_lock", x])
    return threading.Lock()


@cloud.add_pure_function
def raises(*, x):
    execution_log.record(["raises", x])
    return 1 // (x - x)


@cloud.add_pure_function
def kills_its_worker(*, x):
    execution_log.record(["kills_its_worker", x])
    os._exit(3)


@cloud.add_pure_function
def innocent(*, x):
    """``-x``, once the killer has started a second time, so after its first crash (at most a
    minute: only a failed test waits that long): the first crash finds it running."""
    execution_log.record(["innocent", x])
    import time
    give_up = time.monotonic() + 60.0
    while (execution_log.calls().count(["kills_its_worker", 1]) < 2
           and time.monotonic() < give_up):
        time.sleep(0.005)  # polling for the killer's second start, with a deadline
    return -x


memory = Memory(location, verbose=0)


@memory.cache
def cached_cube(x):
    execution_log.record(["cached_cube", x])
    return x ** 3


def plus_one(x):
    execution_log.record(["plus_one", x])
    return x + 1


def task_using_front_ends(n):
    """An executor task that uses an executor and a Memory-cached function on the same folder."""
    execution_log.record(["task", n])
    with PythagorasExecutor(location) as inner:
        total = sum(inner.map(plus_one, range(n)))
    return total + cached_cube(n)


def front_ends() -> dict:
    with PythagorasExecutor(location, max_workers=max_workers) as ex:
        got = list(ex.map(task_using_front_ends, [3, 4], timeout=120))
    before = len(execution_log.calls())
    with PythagorasExecutor(location, max_workers=0) as ex:  # hits only: it runs nothing
        again = [ex.submit(plus_one, i).result(timeout=60) for i in range(4)]
    hits = again == [1, 2, 3, 4] and [cached_cube(3), cached_cube(4)] == [27, 64]
    return {"got": got, "want": [6 + 27, 10 + 64],
            "top_level_hits": hits and len(execution_log.calls()) == before}


@cloud.add_pure_function
def chain(*, n):  # recursion through sync_parallel: each level waits in a worker on the next
    return 0 if n == 0 else chain.sync_parallel([kw_args(n=n - 1)])[0] + 1


@cloud.add_pure_function
def slow_leaf(*, x):
    execution_log.record(["slow_leaf", x])
    import time
    time.sleep(float(os.environ.get("LEAF_SECONDS", "0")))
    return x


@cloud.add_pure_function
def waits_on_slow_leaves(*, n):
    return sum(slow_leaf.sync_parallel(kw_args(x=i) for i in range(n)))


@cloud.add_pure_function
def calls_a_killer(*, x):
    execution_log.record(["calls_a_killer", x])
    return kills_its_worker.sync_parallel([kw_args(x=x)])[0]


@cloud.add_pure_function
def returns_a_generator(*, n):
    return (i for i in range(n))


@cloud.add_pure_function
def calls_returns_a_generator(*, n):
    return list(returns_a_generator(n=n))


def deep() -> dict:
    n = int(os.environ.get("DEPTH", "300"))
    return {"got": chain.sync_parallel([kw_args(n=n)], timeout=300)[0], "want": n}


def short_lease() -> dict:
    got = waits_on_slow_leaves.sync_parallel([kw_args(n=3)], timeout=300)[0]
    return {"got": got, "want": 3}


def nested_failures() -> dict:
    return {"killer": outcome(calls_a_killer, x=5), "generator": outcome(calls_returns_a_generator, n=3)}


def compose() -> dict:
    got = {
        "direct": sum_squares(n=5),
        "sync_parallel": sum_squares.sync_parallel([kw_args(n=6)])[0],
        "nested_sync_parallel": sum_squares_parallel.sync_parallel([kw_args(n=7)])[0],
        "nested_async_parallel": sum_squares_async.sync_parallel([kw_args(n=8)])[0],
    }
    want = {"direct": 30, "sync_parallel": 55, "nested_sync_parallel": 91, "nested_async_parallel": 140}
    stored = all(square.is_stored(x=i) for i in range(8))
    before = len(execution_log.calls())
    again = [square(x=i) for i in range(8)]  # hits: the inner calls were memoized at these addresses
    return {"got": got, "want": want, "inner_stored": stored,
            "top_level_hits": again == [i * i for i in range(8)] and len(execution_log.calls()) == before}


def run_tree() -> dict:
    return {"got": tree.sync_parallel([kw_args(depth=3, i=0)], timeout=300)[0], "want": plain_tree(3, 0)}


def run_fib() -> dict:
    n = int(os.environ.get("FIB_N", "900"))
    got = {"in_a_worker": fib.sync_parallel([kw_args(n=n)], timeout=300)[0]}
    got["direct"] = fib(n=n + 60)  # 60 more levels, in this process
    return {"got": got, "want": {"in_a_worker": plain_fib(n), "direct": plain_fib(n + 60)},
            "stored_below": all(fib.is_stored(n=k) for k in range(n + 60))}


def outcome(func, **kwargs) -> dict:
    try:
        return {"value": func.sync_parallel([kw_args(**kwargs)], timeout=300)[0]}
    except BaseException as error:  # noqa: BLE001 -- reported to the test
        cause = error.__cause__
        return {"type": f"{type(error).__module__}.{type(error).__qualname__}",
                "message": str(error), "traceback": str(cause) if cause is not None else ""}


def failures() -> dict:
    return {"lock": outcome(returns_a_lock, x=1), "raises": outcome(raises, x=2)}


def crash_beside_innocents() -> dict:
    futures = innocent.async_parallel(kw_args(x=i) for i in range(2))  # a worker left for the killer
    killer = outcome(kills_its_worker, x=1)
    values = [f.result(timeout=300) for f in futures]
    return {"killer": killer, "innocent": values}


SCENARIOS = {"compose": compose, "tree": run_tree, "fib": run_fib, "failures": failures,
             "crash": crash_beside_innocents, "front_ends": front_ends, "deep": deep,
             "short_lease": short_lease, "nested_failures": nested_failures}

if __name__ == "__main__":
    result = SCENARIOS[scenario]()
    cloud.close()
    print(json.dumps(result))
