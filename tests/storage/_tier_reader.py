"""One process of ``test_tier``'s shared-folder test: ``python _tier_reader.py '<json config>'``.

It opens the S3 location with a small local tier in the shared folder, waits for the start
file, then reads every key ``rounds`` times in an order of its own, checking each read against
what the parent wrote (``key`` repeated 100 times). Its copies are evicted under it by the
other process all the while. It prints one JSON line (reads, wrong reads, reads that went to
the bucket) and exits 0, or 2 if the start file never appeared.
"""

from __future__ import annotations

import json
import os
import random
import sys
import time
from typing import Any

from pythagoras.storage.plugins import open_store
from pythagoras.storage.tier import TieredStore


def main(config: dict[str, Any]) -> int:
    os.environ["PYTHAGORAS_CACHE_BYTES"] = str(config["max_bytes"])
    store = open_store(config["url"], config["options"], cache_dir=config["cache_dir"])
    assert isinstance(store, TieredStore)
    remote_reads = 0
    real = store.inner.read

    def counted(key: str) -> bytes | bytearray | None:
        nonlocal remote_reads
        remote_reads += 1
        return real(key)

    store.inner.read = counted  # type: ignore[method-assign]
    deadline = time.monotonic() + config["deadline"]
    while not os.path.exists(config["start_file"]):
        if time.monotonic() > deadline:
            return 2
        time.sleep(0.001)
    keys, rng = list(config["keys"]), random.Random(config["peer"])
    reads = wrong = 0
    for _ in range(config["rounds"]):
        rng.shuffle(keys)
        for key in keys:
            reads += 1
            wrong += store.read(key) != key.encode() * 100
    print(json.dumps({"reads": reads, "wrong": wrong, "remote_reads": remote_reads}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(json.loads(sys.argv[1])))
