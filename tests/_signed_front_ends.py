"""A script for ``test_no_secret_in_location.py``: every front-end on one signed location.

    python _signed_front_ends.py LOCATION SECRET STORAGE_OPTIONS_JSON

Every record written is checked for the secret and the credentials (``_journal_store.py``,
named by the environment). The secret and the storage options are given as ``secret=`` and
``storage_options=`` only (the environment has neither), so whatever a worker process needs
of them must come through its pool, never through the location. One peer serves the
location with a worker process (``max_workers=1``); the front-ends are clients without
workers (``max_workers=0``), so every call goes into the location as a request and runs in
that worker process:

- the executor runs a script's function that calls a ``@memory.cache`` function (the Memory is
  pickled with the function, by value) and one whose argument is a shelved result;
- the joblib backend runs tasks that run a Parallel call of their own (the nested backend is
  pickled into the requests);
- the tutorial's cloud runs a pure function that calls another (pickled by value).

It prints, as JSON, the values each front-end returned.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from _journal_store import Journal
from joblib import Parallel, delayed, parallel_config

from pythagoras import Memory, PythagorasExecutor, SharedStorage_P2P_Cloud, kw_args
from pythagoras.joblib_backend import shutdown_executors
from pythagoras.storage.plugins import plugin_manager

LOCATION, SECRET, OPTIONS = sys.argv[1], sys.argv[2], json.loads(sys.argv[3]) or None
plugin_manager().register(Journal(LOCATION), name="journal")  # every record written is checked
memory = Memory(LOCATION, secret=SECRET, storage_options=OPTIONS, verbose=0)
cloud = SharedStorage_P2P_Cloud(LOCATION, secret=SECRET, storage_options=OPTIONS, max_workers=0)


@memory.cache
def cached_cube(x: int) -> int:
    return x ** 3


def cube_plus_one(x: int) -> int:
    """A script's function calling a memoized one: ``memory`` travels with it, by value."""
    return cached_cube(x) + 1


def value_of(shelved: Any) -> Any:
    return shelved.get()


def inner_squares(i: int) -> list[int]:
    return Parallel(n_jobs=2)(delayed(pow)(x, 2) for x in range(i, i + 2))


@cloud.add_pure_function
def double(*, x: int) -> int:
    return 2 * x


@cloud.add_pure_function
def double_plus_one(*, x: int) -> int:
    return double(x=x) + 1


def main() -> dict[str, Any]:
    serving = PythagorasExecutor(LOCATION, max_workers=1, secret=SECRET, storage_options=OPTIONS)
    try:
        with PythagorasExecutor(LOCATION, max_workers=0, secret=SECRET,
                                storage_options=OPTIONS) as client:
            executor = list(client.map(cube_plus_one, [1, 2], timeout=120))
            shelved = client.submit(value_of, cached_cube.call_and_shelve(4)).result(timeout=120)
        with parallel_config(backend="pythagoras", location=LOCATION, max_workers=0,
                             secret=SECRET, storage_options=OPTIONS):
            nested = Parallel(n_jobs=2)(delayed(inner_squares)(i) for i in range(2))
        tutorial = double_plus_one.sync_parallel([kw_args(x=i) for i in range(2)], timeout=120,
                                                 progress=False)
    finally:
        shutdown_executors()
        cloud.close()
        serving.shutdown()
    return {"executor": executor, "shelved": shelved, "nested": nested, "tutorial": tutorial}


if __name__ == "__main__":
    print(json.dumps(main()), flush=True)
