"""Pure functions that call pure functions (issue 18): what nesting costs.

    .venv/bin/python -m benchmarks.composition [--hits 20000] [--depth 4] [--leaf 0.1]

Figures, each beside its reference from the same run (the calls are a script's, run as
``__main__`` in a child interpreter, so they travel by value as a user's do):

- ``nested_hit`` -- a hit of ``inner(x=...)`` made inside a pure function's body, computed in
  this process and in a worker process of the peer, beside the same hit at the top level.
  Goal: a nested hit costs no more than a top-level one (ratio <= 1, up to noise).
- ``tree`` -- a four-level binary tree of nested calls (each node waits on its two children's
  ``sync_parallel``; 16 leaves that sleep ``--leaf`` s) on two peers of one worker each (the
  script's, and a ``pythagoras worker``), beside the same 16 leaves run flat, in one
  ``sync_parallel``. Ideal for the flat run on two workers: 16 x leaf / 2. A waiting node lends
  its slot, so the nested run is not bounded by the two workers.

Nothing is asserted: this is a benchmark, not a test. Every process started is killed with its
process group at the end.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from ._report import kill_groups, loadavg, machine, print_load, run_child, write_json

CHILD = str(Path(__file__).resolve().parent / "_composition_child.py")
RESULTS = Path(__file__).resolve().parent / "results" / "composition.json"


def nested_hit(folder: Path, hits: int) -> dict[str, Any]:
    got, _ = run_child([sys.executable, CHILD, str(folder), "hits", str(hits)], 300, "nested hits")
    top = got["top_level_us"]
    return {**got, "ratio_nested_here": got["nested_here_us"] / top,
            "ratio_nested_in_worker": got["nested_in_worker_us"] / top}


def tree(folder: Path, depth: int, leaf: float) -> dict[str, Any]:
    worker = subprocess.Popen([sys.executable, "-m", "pythagoras", "worker", str(folder),
                               "--max-workers", "1"], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, start_new_session=True)
    leftovers: list[int] = []
    try:
        command = [sys.executable, CHILD, str(folder), "tree", str(depth), str(leaf),
                   str(time.time_ns())]
        got, _ = run_child(command, 600, "the tree")
    finally:
        kill_groups([worker], leftovers)
    ideal = 2 ** depth * leaf / 2
    return {**got, "ideal_flat_s": ideal, "ratio_nested_to_flat": got["nested_s"] / got["flat_s"],
            "leftover_groups": leftovers}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hits", type=int, default=20000)
    parser.add_argument("--depth", type=int, default=4)
    parser.add_argument("--leaf", type=float, default=0.1)
    parser.add_argument("--json", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    before, started = loadavg(), time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="pythagoras-bench-") as root:
        hits = nested_hit(Path(root) / "hits", args.hits)
        print(f"hit at the top level {hits['top_level_us']:.1f} us; nested, this process "
              f"{hits['nested_here_us']:.1f} us ({hits['ratio_nested_here']:.2f}x); nested, in a "
              f"worker {hits['nested_in_worker_us']:.1f} us ({hits['ratio_nested_in_worker']:.2f}x)"
              "; goal <= 1x")
        shape = tree(Path(root) / "tree", args.depth, args.leaf)
        print(f"tree of depth {args.depth} on two peers: nested {shape['nested_s']:.2f} s, the same "
              f"leaves flat {shape['flat_s']:.2f} s (ideal flat {shape['ideal_flat_s']:.2f} s); "
              f"nested/flat {shape['ratio_nested_to_flat']:.2f}")
    wall, after = time.perf_counter() - started, loadavg()
    write_json(args.json, {"nested_hit": hits, "tree": shape, "parameters": vars(args) | {"json": None},
                           "machine": machine(before, after)})
    print_load(wall, before, after, "figures may be slower than on a calm machine")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
