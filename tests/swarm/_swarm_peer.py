"""One peer of the swarm tests: run as ``python _swarm_peer.py '<json config>'``.

The pure functions live here, in ``__main__``, so they travel to other peers by value, as a
user's script or notebook does. Every execution appends one JSON line to the file named by
``PYTHAGORAS_TEST_EXECUTION_LOG``: the argument, the executing process's pid and its parent's
(a call runs in a worker process of the peer's pool, or in the peer itself when called
directly), so the test can tell which peer ran what. A file outside the function, named by an
environment variable, keeps the function pure: what it reads (``os``) never changes.

The peer opens the swarm's folder, creates ``ready-<name>`` in the barrier folder, waits for
the start file, performs its ``action``, prints one JSON line (its report) and exits 0. It
exits 2 if the start file never appears; an unexpected exception exits 1 with a traceback.
"""

from __future__ import annotations

import json
import os
import sys
import time
import traceback
from typing import Any

from pythagoras import PythagorasExecutor, SharedStorage_P2P_Cloud, kw_args
from pythagoras.swarm.protocol import RemoteTraceback

LOG = "PYTHAGORAS_TEST_EXECUTION_LOG"
GATE = "PYTHAGORAS_TEST_GATE"  # a file a call waits for before it starts its work, if set
POLL = 0.002


def wait_for_file(path: str, deadline: float) -> bool:
    """Poll for ``path`` until ``deadline`` (monotonic); True if it appeared."""
    while not os.path.exists(path):
        if time.monotonic() > deadline:
            return False
        time.sleep(POLL)
    return True


def log_execution(x: int) -> None:
    with open(os.environ[LOG], "a") as log:
        log.write(json.dumps({"x": x, "pid": os.getpid(), "ppid": os.getppid()}) + "\n")


def gated_square(*, x: int, seconds: float) -> int:
    """x squared, after waiting for the gate file (if this process has one) and ``seconds``."""
    log_execution(x)
    gate = os.environ.get(GATE)
    if gate:  # held until the test opens the gate, or kills this peer
        wait_for_file(gate, time.monotonic() + 120)
    time.sleep(seconds)  # the work itself
    return x * x


class Boom(Exception):
    """Raised by ``explode``: a class of this script, so it travels by value too."""


def explode(*, x: int, seconds: float) -> int:
    log_execution(x)
    time.sleep(seconds)
    raise Boom(f"boom {x}")


def describe(error: BaseException) -> dict[str, Any]:
    """What the test checks about an exception a call raised here."""
    cause = error.__cause__
    return {
        "is_script_class": type(error) is Boom,
        "type": f"{type(error).__module__}.{type(error).__qualname__}",
        "message": str(error),
        "cause_is_remote_traceback": isinstance(cause, RemoteTraceback),
        "cause_text": getattr(cause, "text", ""),
    }


def executions() -> int:
    with open(os.environ[LOG]) as log:
        return sum(1 for _ in log)


def raise_twice_then_retry(cloud: SharedStorage_P2P_Cloud, config: dict[str, Any],
                           deadline: float) -> dict[str, Any]:
    """Call ``explode`` through sync_parallel twice; then, if told to, once more with retry."""
    f = cloud.add_pure_function(explode)
    calls = [kw_args(x=config["x"], seconds=config["seconds"])]
    report: dict[str, Any] = {"raised": []}

    def attempt(retry: bool) -> None:
        try:
            value = f.sync_parallel(calls, timeout=deadline - time.monotonic(), retry=retry)
        except Boom as error:  # the class of this script, as the caller wrote it
            report["raised"].append({"caught_as_boom": True, **describe(error)})
        except Exception as error:
            report["raised"].append({"caught_as_boom": False, **describe(error)})
        else:
            report["raised"].append({"returned": value})

    attempt(retry=False)
    attempt(retry=False)
    open(os.path.join(config["barrier_dir"], f"done-{config['name']}"), "x").close()
    if config.get("retry_after"):
        for other in config["retry_after"]:
            path = os.path.join(config["barrier_dir"], f"done-{other}")
            if not wait_for_file(path, deadline):
                raise TimeoutError(f"{path} never appeared")
        report["executions_before_retry"] = executions()
        attempt(retry=True)
    return report


def square_after(x: int, seconds: float) -> int:
    """``gated_square`` with positional arguments, for ``PythagorasExecutor.map``."""
    log_execution(x)
    time.sleep(seconds)  # the work itself
    return x * x


def executor_map(config: dict[str, Any], deadline: float) -> int:
    """Map ``square_after`` over ``xs`` with a PythagorasExecutor of its own, as a user would."""
    options = {"max_workers": config["max_workers"], "lease_timeout": config.get("lease_timeout", 30.0),
               "storage_options": config.get("storage_options") or None}
    with PythagorasExecutor(config["store"], **options) as executor:
        open(os.path.join(config["barrier_dir"], f"ready-{config['name']}"), "x").close()
        if not wait_for_file(config["start_file"], deadline):
            print(json.dumps({"error": "the start file never appeared"}), flush=True)
            return 2
        xs = config["xs"]
        started = time.monotonic()
        results = list(executor.map(square_after, xs, [config.get("seconds", 0.0)] * len(xs),
                                    timeout=deadline - time.monotonic()))
        seconds = time.monotonic() - started
    print(json.dumps({"name": config["name"], "pid": os.getpid(), "results": results,
                      "seconds": seconds}), flush=True)
    return 0


def main(config: dict[str, Any]) -> int:
    deadline = time.monotonic() + config["deadline"]
    if config["action"] == "executor_map":
        return executor_map(config, deadline)
    cloud = SharedStorage_P2P_Cloud(config["store"], max_workers=config["max_workers"],
                                    lease_timeout=config.get("lease_timeout", 30.0),
                                    storage_options=config.get("storage_options") or None)
    f = cloud.add_pure_function(gated_square)
    open(os.path.join(config["barrier_dir"], f"ready-{config['name']}"), "x").close()
    if not wait_for_file(config["start_file"], deadline):
        print(json.dumps({"error": "the start file never appeared"}), flush=True)
        return 2

    action = config["action"]
    seconds = config.get("seconds", 0.0)
    report: dict[str, Any] = {"name": config["name"], "pid": os.getpid()}
    if action == "sync_parallel":
        calls = (kw_args(x=x, seconds=seconds) for x in config["xs"])
        report["results"] = f.sync_parallel(calls, timeout=deadline - time.monotonic())
    elif action == "async_parallel":
        futures = f.async_parallel(kw_args(x=x, seconds=seconds) for x in config["xs"])
        report["results"] = [fu.result(timeout=deadline - time.monotonic()) for fu in futures]
    elif action == "direct":
        report["value"] = f(x=config["x"], seconds=seconds)
    elif action == "raise":
        report.update(raise_twice_then_retry(cloud, config, deadline))
    else:
        raise ValueError(f"unknown action {action!r}")
    cloud.close()
    print(json.dumps(report), flush=True)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(json.loads(sys.argv[1])))
    except Exception:
        traceback.print_exc()
        sys.exit(1)
