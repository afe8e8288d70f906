"""PythagorasExecutor: ``concurrent.futures``' ``map``, run in the swarm and memoized there.

The executor maps a slow function over a list twice: the first pass computes (on this
process's workers, or any peer's on the same folder), the second reads every value back from
the folder. Run the script again, here or from another machine that sees the folder, and both
passes read back.

    python examples/executor_map.py            # the embedded default location
    python examples/executor_map.py my_project # a folder of your choice
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections import Counter

from pythagoras import PythagorasExecutor, default_location, hookimpl
from pythagoras.storage.plugins import plugin_manager

SECONDS = float(os.environ.get("PYTHAGORAS_EXAMPLE_SLEEP", "0.5"))  # stands for a slow computation


def slow_square(x: int) -> int:
    time.sleep(SECONDS)
    return x * x


class Tally:
    """Counts the executor's ``submitted`` events (see docs/plugins.md): each call is either
    found in the folder at once (a hit) or sent to the swarm, where some peer computes it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.counts: Counter[bool] = Counter()

    @hookimpl
    def pythagoras_call_submitted(self, event) -> None:  # type: ignore[no-untyped-def]
        with self._lock:
            self.counts[event.cached] += 1

    def take(self) -> str:
        with self._lock:
            counts, self.counts = self.counts, Counter()
        return f"sent to the swarm: {counts[False]:2d}, read back: {counts[True]:2d}"


def main() -> None:
    location = sys.argv[1] if len(sys.argv) > 1 else default_location()
    tally = Tally()
    plugin_manager().register(tally, name="executor-example-tally")
    numbers = list(range(12))
    with PythagorasExecutor(location) as ex:
        print(f"swarm folder: {ex.location}\n")
        for attempt in ("first pass", "second pass"):
            started = time.perf_counter()
            squares = list(ex.map(slow_square, numbers))
            elapsed = time.perf_counter() - started
            print(f"{attempt:<12} {elapsed:7.2f} s   {tally.take()}   {squares}")
    print("\nRun me again, or from another process on the same folder: every call is read back.")


if __name__ == "__main__":
    main()
