"""What a caller sees on a swarm folder it can read but not write: ``probe(location)``.

``stock(location)`` first stores the value of ``nap(1, 0.0)`` through the executor and through
the decorator, while the folder is writable. ``probe`` then tries, on the folder made read-only
(or not writable by this user), each way of calling: a hit (that value) and a miss (``nap(2)``)
through a client executor, the decorator called directly and ``sync_parallel``, and opening an
executor that serves. It returns, for each, the value or what was raised (type, errnos in the
exception's chain, message), and never lets an exception out.

Run as a script (``python _fault_probe.py LOCATION``) it prints that as one JSON line, so that a
process with other permissions than the test's can probe the folder.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import Any

import _fault_functions as fx

from pythagoras import PythagorasExecutor, SharedStorage_P2P_Cloud

TIMEOUT = 30.0


def stock(location: str) -> None:
    with PythagorasExecutor(location, max_workers=1) as executor:
        assert executor.submit(fx.nap, 1, 0.0).result(timeout=TIMEOUT) == fx.answer(1)
    cloud = SharedStorage_P2P_Cloud(location, max_workers=1)
    try:
        assert cloud.add_pure_function(fx.nap)(x=1, seconds=0.0) == fx.answer(1)
    finally:
        cloud.close()


def _outcome(action: Callable[[], Any]) -> dict[str, Any]:
    try:
        return {"value": action()}
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

    def open_serving() -> str:
        PythagorasExecutor(location, max_workers=1).shutdown(wait=False, cancel_futures=True)
        return "opened"

    seen["serving executor"] = _outcome(open_serving)
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
