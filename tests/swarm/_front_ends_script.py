"""A script run under two Python versions on one folder (``test_cross_version_front_ends.py``):
each front-end calls the script's functions, which travel by value, as a script's do. The
script runs no call itself (``max_workers=0``) except through ``Memory``, which computes in the
caller.

    python _front_ends_script.py LOCATION FRONT_ENDS CASES TIMEOUT

``FRONT_ENDS`` and ``CASES`` are comma-separated names (``FRONT_ENDS`` below, ``CASES`` below).
It prints one JSON line: for each front-end and case, the values got (``got``, each in a plain
form) or the error (``error``), and plain Python's values (``want``). Which process executed
each call is in the execution log (``execution_log``), with its Python version. Each front-end
calls with arguments of its own, so that no front-end hits another's records.

Only public names of pythagoras are imported here.
"""

from __future__ import annotations

import json
import math
import os
import pathlib
import sys
from collections.abc import Callable
from concurrent.futures import wait
from dataclasses import dataclass
from typing import Any

import execution_log
import numpy as np
from joblib import Parallel, delayed, parallel_config

from pythagoras import Memory, PythagorasExecutor, SharedStorage_P2P_Cloud, kw_args

location, front_ends, cases, timeout = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])

OFFSET = 7


@dataclass(frozen=True)
class Point:
    """A class of the script's own: its instances go as arguments and come back as results."""

    x: float
    y: float


def python():
    return "{}.{}".format(*sys.version_info[:2])


def fmt(x):
    execution_log.record(["fmt", x, python()])
    return f"{x!r:>4}|" + ",".join(str(j * j) for j in range(x % 10) if j % 2)


def norm(a):
    execution_log.record(["norm", len(a), python()])
    return float(np.sqrt((a * a).sum()))


def dist(p):
    execution_log.record(["dist", p.x, python()])
    return math.hypot(p.x, p.y)


def shifted(x):
    execution_log.record(["shifted", x, python()])
    return Point(x, x + 0.5)


def where(x):
    # Under 3.13 a path pickles by reference to ``pathlib._local``, which 3.10-3.12 lack.
    execution_log.record(["where", x, python()])
    return pathlib.PurePosixPath("/data", str(x))


# The "lambda" case is about a lambda (pickled as bytecode, its identity its bytecode): not a def.
lambda_ = lambda x: (execution_log.record(["lambda", x, python()]), x + OFFSET)[1]  # noqa: E731


def k_fmt(*, x):
    return fmt(x)


def k_norm(*, x):
    return norm(x)


def k_dist(*, x):
    return dist(x)


def k_shifted(*, x):
    return shifted(x)


def k_where(*, x):
    return where(x)


# joblib's twins: the backend sends a function under joblib's config, a callable of its own
# whose record would be the same function's as the executor's (the same identity).
def j_fmt(x):
    return fmt(x)


def j_norm(x):
    return norm(x)


def j_dist(x):
    return dist(x)


def j_shifted(x):
    return shifted(x)


def j_where(x):
    return where(x)


j_lambda = lambda x: lambda_(x)  # noqa: E731 -- the lambda's twin is a lambda too

FUNCTIONS: dict[str, tuple[Callable[..., Any], Callable[..., Any], Callable[..., Any] | None]] = {
    # case: (the function, its twin for joblib, its keyword-only twin for the decorator)
    "script": (fmt, j_fmt, k_fmt), "numpy": (norm, j_norm, k_norm), "class_arg": (dist, j_dist, k_dist),
    "class_result": (shifted, j_shifted, k_shifted), "unloadable": (where, j_where, k_where),
    "lambda": (lambda_, j_lambda, None)}
ARGUMENTS: dict[str, Callable[[int], list[Any]]] = {
    "script": lambda base: [base + 3, base + 4],
    "numpy": lambda base: [np.arange(float(base + 2)), np.arange(float(base + 3))],
    "class_arg": lambda base: [Point(base + 3, 4), Point(base + 5, 12)],
    "class_result": lambda base: [base + 1.0, base + 2.0],
    "unloadable": lambda base: [base + 1, base + 2],
    "lambda": lambda base: [base + 1, base + 2],
}
BASES = {"executor": 0, "joblib": 100, "decorator": 200, "memory": 300}


def plain(value: Any) -> Any:
    """A JSON form of a value; a Point by its fields only, never its methods (which may be
    another Python's bytecode)."""
    if isinstance(value, pathlib.PurePath):
        return f"path:{value}"
    if type(value).__name__ == "Point":
        return ["Point", value.x, value.y]
    return value


def by_executor(case: str, args: list[Any]) -> list[Any]:
    ex = PythagorasExecutor(location, max_workers=0)
    try:
        func = FUNCTIONS[case][0]
        # Every call settles (or the wait ends) before any raises: none is withdrawn unrun.
        wait([ex.submit(func, a) for a in args], timeout=timeout)
        return list(ex.map(func, args, timeout=timeout))  # the same calls, stored or pending
    finally:
        ex.shutdown(wait=False, cancel_futures=True)  # a call left pending stays in the swarm


def by_joblib(case: str, args: list[Any]) -> list[Any]:
    func = FUNCTIONS[case][1]
    with parallel_config(backend="pythagoras", location=location, max_workers=0):
        return list(Parallel(n_jobs=2, timeout=timeout)(delayed(func)(a) for a in args))


def by_decorator(case: str, args: list[Any]) -> list[Any]:
    func = FUNCTIONS[case][2]
    if func is None:
        raise TypeError("the decorator takes functions defined with def only")
    cloud = SharedStorage_P2P_Cloud(location, max_workers=0)
    try:
        pure = cloud.add_pure_function(func)
        wait(pure.async_parallel([kw_args(x=a) for a in args]), timeout=timeout)  # as above
        return pure.sync_parallel([kw_args(x=a) for a in args], timeout=timeout)
    finally:
        cloud.close()


def by_memory(case: str, args: list[Any]) -> list[Any]:
    cached = Memory(location, verbose=0).cache(FUNCTIONS[case][0])
    return [cached(a) for a in args]


FRONT_ENDS = {"executor": by_executor, "joblib": by_joblib, "decorator": by_decorator,
              "memory": by_memory}


def outcome(front_end: str, case: str) -> dict[str, Any]:
    args = ARGUMENTS[case](BASES[front_end])
    try:
        got: dict[str, Any] = {"got": [plain(v) for v in FRONT_ENDS[front_end](case, args)]}
    except Exception as e:  # TimeoutError included: the builtin, on every Python
        got = {"error": f"{type(e).__name__}: {str(e)[:300]}"}
    log, os.environ[execution_log.VARIABLE] = os.environ[execution_log.VARIABLE], os.devnull
    try:
        got["want"] = [plain(FUNCTIONS[case][0](a)) for a in args]
    finally:
        os.environ[execution_log.VARIABLE] = log
    return got


if __name__ == "__main__":
    results = {fe: {case: outcome(fe, case) for case in cases.split(",")} for fe in front_ends.split(",")}
    print(json.dumps({"python": python(), "results": results}))
