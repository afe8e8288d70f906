"""The random-kills run of ``test_random_kills.py``, many times in a row: a script, not a test.

    .venv/bin/python tests/faults/loop_random_kills.py [RUNS] [--remote-looking]

Each run: 200 calls of 50-100 ms through 3 worker peers, one SIGKILLed at random every
0.5-1.5 s. Prints one line a run and the totals: calls lost, answered wrongly, and failed with
PeersDied, each of which must be a call whose runs were really killed three times (its
executions counted from the log; ``_fault_swarm.run_under_kills`` counts any other PeersDied as
a wrong answer). Exits 1 if any call was lost or wrong.
"""

from __future__ import annotations

import random
import sys
import tempfile
from pathlib import Path

sys.path[:0] = [str(Path(__file__).resolve().parent), str(Path(__file__).resolve().parents[1])]

from _fault_swarm import run_under_kills  # noqa: E402 -- found on the sys.path set just above


def main(argv: list[str]) -> int:
    runs = int(next((a for a in argv if a.isdigit()), "50"))
    remote_looking = "--remote-looking" in argv
    totals = {"calls": 0, "lost": 0, "wrong": 0, "died": 0, "kills": 0, "duplicates": 0}
    for run in range(runs):
        seed = random.SystemRandom().randrange(2**32)
        with tempfile.TemporaryDirectory(prefix="pythagoras-kills-") as folder:
            figures, _ = run_under_kills(Path(folder), seed=seed, calls=200, peers=3,
                                         lease_timeout=2.0, remote_looking=remote_looking,
                                         seconds=(0.05, 0.1), interval=(0.5, 1.5), deadline=100.0)
        for name in ("lost", "wrong", "died"):
            totals[name] += len(getattr(figures, name))
        totals["calls"] += figures.calls
        totals["kills"] += figures.kills
        totals["duplicates"] += figures.duplicates
        print(f"run {run + 1}/{runs}: {figures.summary()}", flush=True)
        for x, why in figures.wrong:
            print(f"  wrong: call {x} {why}", flush=True)
    print(f"totals over {runs} runs: {totals}")
    return 1 if totals["lost"] or totals["wrong"] else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
