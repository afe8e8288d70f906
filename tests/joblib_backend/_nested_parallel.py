"""A script for ``test_nested.py``: a Parallel call whose tasks run Parallel calls of their own.

    python _nested_parallel.py FOLDER [SECRET]

SECRET is given to the executor and the backend as ``secret=``; a secret may also come from the
environment (``$PYTHAGORAS_SECRET``), as it does for every peer and worker.

A peer with two workers serves FOLDER; this process is a pure client of it (``max_workers=0``),
so every batch goes into the folder as a request. It runs 4 tasks with ``n_jobs=2``, each
running an inner Parallel of 3 calls, then a top-level Parallel of the same 12 inner calls, then a
chain of Parallel calls 4 deep, and prints, as JSON, the values, which calls executed
(``execution_log``) during the first two, the backends of the chain, how many
requests this process wrote and the keys of the records it wrote that hold the secret (either).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import ClassVar

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent)]  # _nested_tasks, execution_log: here and in the workers

# Imported after sys.path is set (E402): _nested_tasks and execution_log are found there only.
import _nested_tasks  # noqa: E402
import execution_log  # noqa: E402
from joblib import Parallel, delayed, parallel_config  # noqa: E402

from pythagoras import PythagorasExecutor, hookimpl  # noqa: E402
from pythagoras.joblib_backend import shutdown_executors  # noqa: E402
from pythagoras.storage.base import Store  # noqa: E402
from pythagoras.storage.local import LocalFolderStore  # noqa: E402
from pythagoras.storage.plugins import plugin_manager  # noqa: E402


class RecordingFolder(LocalFolderStore):
    """The folder, noting every record written: the requests, and those that hold ``secret``."""

    requests: ClassVar[int] = 0
    holding_secret: ClassVar[list[str]] = []
    secret: ClassVar[bytes | None] = None

    def _note(self, key: str, data: bytes) -> None:
        RecordingFolder.requests += key.startswith("requests/")
        if self.secret is not None and self.secret in bytes(data):
            RecordingFolder.holding_secret.append(key)

    def write(self, key: str, data: bytes) -> None:
        self._note(key, data)
        super().write(key, data)

    def create(self, key: str, data: bytes) -> bool:
        self._note(key, data)
        return super().create(key, data)

    def create_small(self, key: str, data: bytes) -> bool:
        self._note(key, data)
        return super().create_small(key, data)


class Recording:
    """A plugin that opens the test's folder as a RecordingFolder (asked before the built-in)."""

    def __init__(self, folder: str) -> None:
        self.folder = folder

    @hookimpl
    def pythagoras_open_store(self, location: str, storage_options: dict[str, object]) -> Store | None:
        return RecordingFolder(location) if location == self.folder else None


def main(folder: str, secret: str | None) -> None:
    look_for = secret or os.environ.get("PYTHAGORAS_SECRET")
    RecordingFolder.secret = None if look_for is None else look_for.encode()
    plugin_manager().register(Recording(folder), name="recording")
    peer = PythagorasExecutor(folder, max_workers=2, secret=secret)
    try:
        with parallel_config(backend="pythagoras", location=folder, max_workers=0, secret=secret):
            nested = Parallel(n_jobs=2)(delayed(_nested_tasks.inner_squares)(i) for i in range(4))
            during_nested = execution_log.calls()
            flat = Parallel(n_jobs=2)(delayed(_nested_tasks.logged_square)(x) for x in range(12))
            levels = Parallel(n_jobs=2)(delayed(_nested_tasks.nesting_levels)(4) for _ in range(1))
        during_flat = execution_log.calls()[len(during_nested):]
    finally:
        shutdown_executors()
        peer.shutdown()
    print(json.dumps({"nested": nested, "flat": flat, "during_nested": during_nested,
                      "during_flat": during_flat, "levels": levels[0], "requests": RecordingFolder.requests,
                      "holding_secret": RecordingFolder.holding_secret}), flush=True)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else None)
