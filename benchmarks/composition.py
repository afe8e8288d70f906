"""Pure functions that call pure functions: a nested hit, and a tree of nested calls; peer: flat.

    python -m benchmarks composition [--quick]

The calls are a script's (``benchmarks/_composition_child.py``), run as ``__main__`` in a child
interpreter, so they travel by value as a user's do. Rows:
- nested hit: a hit of ``inner(x=...)`` made inside a pure function's body, computed in that
  process and in a worker of its peer, beside the same hit at the top level; goal <= 1x.
- tree: a binary tree of nested calls ``depth`` deep (each node waits on its two children's
  ``sync_parallel``; ``2**depth`` leaves that sleep ``leaf`` s) on two peers of one worker each
  (the script's, and a ``pythagoras worker``), beside the same leaves run flat in one
  ``sync_parallel``. A waiting node lends its slot, so the nested run is not bounded by the
  two workers.
"""

from __future__ import annotations

import time
from pathlib import Path

from .harness import Result, Row
from .harness.peers import workers
from .harness.processes import run_json

SETTINGS = {"full": {"hits": 20000, "depth": 4, "leaf": 0.1},
            "quick": {"hits": 2000, "depth": 3, "leaf": 0.05}}
CHILD = str(Path(__file__).resolve().parent / "_composition_child.py")


def measure(root: Path, *, hits: int, depth: int, leaf: float) -> Result:
    got, _ = run_json([CHILD, str(root / "hits"), "hits", str(hits)], 300, "the nested hits")
    with workers(root / "tree", 1, root / "executions.log"):
        tree, _ = run_json([CHILD, str(root / "tree"), "tree", str(depth), str(leaf), str(time.time_ns())],
                           600, "the tree")
    top = got["top_level_us"]
    rows = [Row("nested hit, computed in this process", got["nested_here_us"], "us",
                "a top-level hit", top, "ratio<=1"),
            Row("nested hit, computed in a worker", got["nested_in_worker_us"], "us",
                "a top-level hit", top, "ratio<=1"),
            Row(f"tree of depth {depth}, {leaf:g} s leaves, 2 peers", tree["nested_s"], "s",
                "the same leaves flat", tree["flat_s"])]
    notes = [f"ideal flat on two workers: {2 ** depth * leaf / 2:.2f} s"]
    return Result(rows, notes, {"hits": got, "tree": tree})
