"""A script for ``test_misconfigured_members.py``: one member's run on a team's folder.

    python _member_run.py FOLDER

The secret, if any, comes from the environment (``$PYTHAGORAS_SECRET``), as it does for a
teammate who forgot to set it or mistyped it. The run computes three squares with the
executor (its peer's worker process runs them) and a cube with ``Memory``; each execution is
recorded (``execution_log``). It prints "done" at its end.
"""

from __future__ import annotations

import sys

import execution_log

from pythagoras import Memory, PythagorasExecutor


def logged_square(x: int) -> int:
    execution_log.record(["square", x])
    return x * x


def logged_cube(x: int) -> int:
    execution_log.record(["cube", x])
    return x ** 3


def main(folder: str) -> None:
    with PythagorasExecutor(folder, max_workers=1) as executor:
        assert list(executor.map(logged_square, range(3), timeout=120)) == [0, 1, 4]
    assert Memory(folder, verbose=0).cache(logged_cube)(3) == 27
    print("done", flush=True)


if __name__ == "__main__":
    main(sys.argv[1])
