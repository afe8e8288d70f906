"""The tutorial's memoization cells (1-9), with the hour replaced by a short sleep.

Run it twice: the first run computes, the second finds every result in the folder. Any other
process or machine that opens the same folder finds them too.

    python examples/tutorial_memoization.py            # the embedded default location
    python examples/tutorial_memoization.py my_project # a folder of your choice
"""

from __future__ import annotations

import os
import sys
import time

from pythagoras import *  # noqa: F403 -- cell 2: SharedStorage_P2P_Cloud, kw_args

SECONDS = float(os.environ.get("PYTHAGORAS_EXAMPLE_SLEEP", "0.3"))  # stands for an hour


def cell(title: str, run):  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    value = run()
    elapsed = time.perf_counter() - started
    print(f"{title:<48} {elapsed * 1000:10.2f} ms   {value}")
    return value


# Cell 3: the folder the swarm shares; None is the embedded default location.
my_cloud = SharedStorage_P2P_Cloud(shared_dir_name=sys.argv[1] if len(sys.argv) > 1 else None)  # noqa: F405
print(f"swarm folder: {my_cloud.store.location}\n")


# Cell 4
@my_cloud.add_pure_function
def very_slow_function(*, important_parameter: int) -> int:
    """     >>>>>       THIS FUNCTION RUNS FOR ABOUT AN HOUR       <<<<<     """
    time.sleep(SECONDS)
    return important_parameter**2


# Cells 5 to 9
cell("[5] very_slow_function(important_parameter=22)", lambda: very_slow_function(important_parameter=22))
cell("[6] the same call again", lambda: very_slow_function(important_parameter=22))
cell("[7] very_slow_function(important_parameter=99)", lambda: very_slow_function(important_parameter=99))
cell("[8] a loop over range(10)", lambda: [very_slow_function(important_parameter=i) for i in range(10)])
cell("[9] a comprehension over range(100, 110)",
     lambda: [very_slow_function(important_parameter=i) for i in range(100, 110)])
print("\nRun me again, or from another process on the same folder: every line is now a hit.")
