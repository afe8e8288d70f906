"""A script run under several Python versions on one folder (``test_cross_version.py``): its
functions travel by value, as a script's do. Runs nothing itself (``max_workers=0``).

    python _cross_version_script.py LOCATION run|lambda TIMEOUT

``run`` prints one JSON line: each call's value from the swarm and from plain Python, and
``sys.version``; ``lambda`` submits a lambda and prints what the caller got.
"""

from __future__ import annotations

import json
import sys

import numpy as np

from pythagoras import PythagorasExecutor, SharedStorage_P2P_Cloud, kw_args

location, mode, timeout = sys.argv[1], sys.argv[2], float(sys.argv[3])
cloud = SharedStorage_P2P_Cloud(location, max_workers=0)

OFFSET = 7


class Accumulator:
    """A class of the script's own, used inside a pure function."""

    def __init__(self, start):
        self.total = start

    def add(self, x):
        self.total += x
        return self


@cloud.add_pure_function
def fmt(*, x):
    return f"v={x!r:>5}|{x * OFFSET}"


@cloud.add_pure_function
def squares(*, n):
    return {i: [j * j for j in range(i) if j % 2] for i in range(n)}


@cloud.add_pure_function
def accumulate(*, xs):
    acc = Accumulator(OFFSET)
    for x in xs:
        acc.add(x)
    return acc.total


@cloud.add_pure_function
def norm(*, a):
    return float(np.sqrt((a * a).sum()))


@cloud.add_pure_function
def composed(*, n):
    return len(fmt(x=n)) + sum(len(v) for v in squares(n=n).values())


CALLS = [(fmt, {"x": 3}), (fmt, {"x": "ab"}), (squares, {"n": 6}), (accumulate, {"xs": [1, 2, 3]}),
         (norm, {"a": np.arange(10.0)}), (composed, {"n": 5})]


def plain(value):
    return {str(k): v for k, v in value.items()} if isinstance(value, dict) else value


if __name__ == "__main__":
    if mode == "run":
        got = [f.sync_parallel([kw_args(**kw)], timeout=timeout)[0] for f, kw in CALLS]
        want = [f.func(**kw) for f, kw in CALLS]
        print(json.dumps({"got": [plain(v) for v in got], "want": [plain(v) for v in want],
                          "python": sys.version.split()[0]}))
    else:
        ex = PythagorasExecutor(location, max_workers=0)
        try:
            value = ex.submit(lambda x: x + OFFSET, 1).result(timeout=timeout)
            print(json.dumps({"value": value}))
        except TimeoutError as e:  # the builtin, on every Python (CallTimeout)
            print(json.dumps({"error": "TimeoutError", "message": str(e)}))
        ex.shutdown(wait=False)  # the call stays pending, for a peer of this Python
    cloud.close()
