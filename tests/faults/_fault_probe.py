"""What a caller sees on a swarm folder it can read but not write: ``probe(location)``.

``stock(location)`` first stores the value of ``nap(1, 0.0)`` through every front-end (the
executor, the decorator, the joblib backend, ``Memory``), while the folder is writable.
``probe`` then tries, on the folder made read-only (or not writable by this user), each way of
calling: a hit (that value) and a miss (``nap(2)``) through a client executor, an executor
that would serve (the default), the decorator called directly, ``sync_parallel``, the joblib
backend and ``Memory`` (whose miss, as joblib's, computes the value and warns that it could
not be stored: ``Memory store``). It returns, for each, the value or what was raised (type, errnos in the
exception's chain, message), and never lets an exception out.

Run as a script (``python _fault_probe.py LOCATION``) it prints that as one JSON line, so that a
process with other permissions than the test's can probe the folder.
"""

from __future__ import annotations

import json
import sys
import warnings
from collections.abc import Callable
from typing import Any

import _fault_functions as fx
from joblib import Parallel, delayed, parallel_config

from pythagoras import Memory, PythagorasExecutor, SharedStorage_P2P_Cloud

TIMEOUT = 30.0


def stock(location: str) -> None:
    with PythagorasExecutor(location, max_workers=1) as executor:
        assert executor.submit(fx.nap, 1, 0.0).result(timeout=TIMEOUT) == fx.answer(1)
    cloud = SharedStorage_P2P_Cloud(location, max_workers=1)
    try:
        assert cloud.add_pure_function(fx.nap)(x=1, seconds=0.0) == fx.answer(1)
    finally:
        cloud.close()
    assert _joblib(location, [1]) == [fx.answer(1)]
    assert Memory(location, verbose=0).cache(fx.nap)(1, 0.0) == fx.answer(1)


def _joblib(location: str, xs: list[int]) -> list[int]:
    with parallel_config(backend="pythagoras", location=location, max_workers=1):
        return list(Parallel(n_jobs=2)(delayed(fx.nap)(x, 0.0) for x in xs))


def _outcome(action: Callable[[], Any]) -> dict[str, Any]:
    try:
        with warnings.catch_warnings(record=True) as warned:
            warnings.simplefilter("always")
            value = action()
        if warned:
            return {"value": value, "warned": [str(w.message) for w in warned]}
        return {"value": value}
    except BaseException as error:  # noqa: BLE001 -- what the caller sees is the point
        from _fault_stores import errnos

        return {"raised": f"{type(error).__module__}.{type(error).__qualname__}",
                "errnos": errnos(error), "message": str(error)}


def probe(location: str) -> dict[str, dict[str, Any]]:
    seen: dict[str, dict[str, Any]] = {}
    client = PythagorasExecutor(location, max_workers=0)
    try:
        seen["executor hit"] = _outcome(lambda: client.submit(fx.nap, 1, 0.0).result(timeout=TIMEOUT))
        seen["executor miss"] = _outcome(lambda: client.submit(fx.nap, 2, 0.0).result(timeout=TIMEOUT))
        seen["executor map miss"] = _outcome(
            lambda: list(client.map(fx.nap, [3, 4], [0.0, 0.0], timeout=TIMEOUT)))
    finally:
        client.shutdown(wait=False, cancel_futures=True)

    serving = PythagorasExecutor(location, max_workers=1)
    try:
        seen["serving executor hit"] = _outcome(
            lambda: serving.submit(fx.nap, 1, 0.0).result(timeout=TIMEOUT))
        seen["serving executor miss"] = _outcome(
            lambda: serving.submit(fx.nap, 5, 0.0).result(timeout=TIMEOUT))
    finally:
        serving.shutdown(wait=False, cancel_futures=True)
    seen["joblib hit"] = _outcome(lambda: _joblib(location, [1])[0])
    seen["joblib miss"] = _outcome(lambda: _joblib(location, [6, 7]))
    memorized = Memory(location, verbose=0).cache(fx.nap)
    seen["Memory hit"] = _outcome(lambda: memorized(1, 0.0))
    seen["Memory store"] = _outcome(lambda: memorized(8, 0.0))  # best effort, as joblib
    cloud = SharedStorage_P2P_Cloud(location, max_workers=1)
    try:
        f = cloud.add_pure_function(fx.nap)
        seen["decorator hit"] = _outcome(lambda: f(x=1, seconds=0.0))
        seen["decorator miss"] = _outcome(lambda: f(x=2, seconds=0.0))
        seen["sync_parallel hit"] = _outcome(lambda: f.sync_parallel([{"x": 1, "seconds": 0.0}],
                                                                     timeout=TIMEOUT)[0])
        seen["sync_parallel miss"] = _outcome(lambda: f.sync_parallel([{"x": 2, "seconds": 0.0}],
                                                                      timeout=TIMEOUT))
    finally:
        _outcome(cloud.close)
    return seen


if __name__ == "__main__":
    print(json.dumps(probe(sys.argv[1])), flush=True)
