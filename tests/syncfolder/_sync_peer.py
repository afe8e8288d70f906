"""One peer of ``test_sync_folder``: run as ``python _sync_peer.py '<json config>'``.

It opens its own replica of the synced folder as a cloud, announces that it is ready (a file
``ready-<name>``), waits for the start file, then runs ``slow_square`` over ``range(calls)``
with ``sync_parallel``. It prints one JSON line: the results (or the error raised), how many
calls this peer executed, and what the ``pythagoras`` logger said at WARNING and above (a corrupt
record is a truncated arrival it read; an ERROR is a turn of its peer loop that failed). Every
peer runs this same script, so the function has the same identity on each.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from typing import Any

import execution_log

from pythagoras import SharedStorage_P2P_Cloud, kw_args


class _Said(logging.Handler):
    """Keeps what the peer logged, for the test to look at."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[tuple[str, str]] = []

    def emit(self, record: logging.LogRecord) -> None:
        text = record.getMessage()
        if record.exc_info:
            text += "\n" + logging.Formatter().formatException(record.exc_info)
        self.records.append((record.levelname, text))


def slow_square(*, x: int) -> int:
    """Long enough that both peers are busy at once; logs each execution outside the store."""
    execution_log.record(x)
    time.sleep(0.3)
    return x * x


def main(config: dict[str, Any]) -> int:
    said = _Said()
    logging.getLogger("pythagoras").addHandler(said)
    cloud = SharedStorage_P2P_Cloud(config["replica"], max_workers=config["max_workers"],
                                    lease_timeout=config["lease_timeout"])
    square = cloud.add_pure_function(slow_square)

    open(os.path.join(config["barrier_dir"], f"ready-{config['name']}"), "x").close()
    deadline = time.monotonic() + config["deadline"]
    while not os.path.exists(config["start_file"]):
        if time.monotonic() > deadline:
            print(json.dumps({"error": "the start file never appeared"}), flush=True)
            return 2
        time.sleep(0.001)

    peer = cloud.peer
    report: dict[str, Any] = {}
    try:
        report["results"] = square.sync_parallel((kw_args(x=i) for i in range(config["calls"])),
                                                 timeout=config["timeout"])
    except Exception as e:  # reported with what the peer logged, for the test to show
        report["error"] = f"{type(e).__module__}.{type(e).__qualname__}: {e}"
    finally:
        cloud.close()
    report.update(executed=peer.executed, log=said.records)
    print(json.dumps(report), flush=True)
    return 1 if "error" in report else 0


if __name__ == "__main__":
    sys.exit(main(json.loads(sys.argv[1])))
