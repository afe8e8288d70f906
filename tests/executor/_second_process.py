"""Another process on the same folder: run as ``python _second_process.py <folder> <x>``.

It opens its own PythagorasExecutor (one worker, so that a call not found in the folder would
run here, and show in the execution log), submits ``square(x)`` and prints one JSON line:
whether the future was done when ``submit`` returned, and its value.
"""

from __future__ import annotations

import json
import sys

import _functions as fx

from pythagoras import PythagorasExecutor

#: Only a deadlock reaches this.
TIMEOUT = 20.0


def main(folder: str, x: int) -> int:
    with PythagorasExecutor(folder, max_workers=1) as executor:
        future = executor.submit(fx.square, x)
        done_at_submit = future.done()
        value = future.result(timeout=TIMEOUT)
    print(json.dumps({"done_at_submit": done_at_submit, "value": value}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], int(sys.argv[2])))
