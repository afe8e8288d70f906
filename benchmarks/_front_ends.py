"""The memo figure's hit callers: one per front-end of pythagoras, and the floor beside them.

Every caller takes the keyword arguments of one call and returns its value, so one statement
times each of them. The executor's and the joblib backend's peers serve nothing (a hit never
reaches a worker) and are shut down by :func:`close_front_ends`. The joblib backend's caller runs
``TASKS`` tasks of the same call in one ``Parallel`` call; the figure divides its time by them.

The floor is what a hit cannot do without: one hash of the argument (xxh3-128 of an array's
buffer, of an int's 8 bytes), one read of the record's file by its path (no folder opened on
the way, no link checked), the frame checked, the value loaded (an array a view of the bytes
read). Timed in the same batches as the front-ends, so a busy spell of the machine falls on
both sides of the ratio.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import xxhash

#: Tasks of one all-hits ``Parallel`` call of the joblib backend's row.
TASKS = 50

_executors: list[Any] = []


def executor_caller(folder: Path, f: Callable[..., Any]) -> Callable[..., Any]:
    """``submit(f, **kwargs).result()`` on a PythagorasExecutor of ``folder``."""
    from pythagoras.executor import PythagorasExecutor

    executor = PythagorasExecutor(folder, max_workers=1)
    _executors.append(executor)

    def call(**kwargs: Any) -> Any:
        return executor.submit(f, **kwargs).result()

    return call


def joblib_caller(folder: Path, f: Callable[..., Any]) -> Callable[..., Any]:
    """The values of ``TASKS`` tasks ``f(**kwargs)`` run by ``Parallel(n_jobs=2)`` under the
    ``"pythagoras"`` backend on ``folder``; the first of them."""
    from joblib import Parallel, delayed, parallel_config  # type: ignore[import-untyped]

    import pythagoras  # noqa: F401 -- registers the backend

    def call(**kwargs: Any) -> Any:
        with parallel_config(backend="pythagoras", location=str(folder), max_workers=1):
            return Parallel(n_jobs=2)(delayed(f)(**kwargs) for _ in range(TASKS))[0]

    return call


def close_front_ends() -> None:
    """Shut the executors and the joblib backend's peers down, their worker processes with them."""
    from pythagoras.joblib_backend import shutdown_executors

    while _executors:
        _executors.pop().shutdown(wait=True)
    shutdown_executors(wait=True)


def record_path(store_location: str, address: Any) -> str:
    """The file of the result record at ``address`` in a local folder store."""
    from pythagoras.records.keys import result_key

    return os.path.join(store_location, *result_key(address).split("/"))


def _argument_hash(value: Any) -> bytes:
    if isinstance(value, np.ndarray):
        return xxhash.xxh3_128_digest(value.data)
    return xxhash.xxh3_128_digest(int(value).to_bytes(8, "little", signed=True))


def floor(path: str, argument: Any) -> Any:
    """Hash ``argument``, read the record at ``path``, check its frame, load its value."""
    from pythagoras.records.frames import load_value, unframe

    _argument_hash(argument)
    fd = os.open(path, os.O_RDONLY)
    try:
        data = bytearray(os.fstat(fd).st_size)
        os.readv(fd, [data])
    finally:
        os.close(fd)
    return load_value(unframe(data, b"R"))
