"""A ``pythagoras worker`` on a simulated machine: ``python _fault_peer.py '<json config>'``.

Before pythagoras is imported, two things of the machine are replaced, as the config says:

- ``clock_offset``: seconds added to ``time.time()``, a clock that runs ahead of (or behind) the
  file server's. File times are still stamped by the kernel, as a file server stamps them, so
  every age this peer reads is off by the offset until it measures its skew.
- ``hostname``: what ``socket.gethostname()`` answers, so that the peer's id names another
  machine. Peers of this machine break a dead peer's claim at once (its pid is gone); a peer of
  another machine can only wait for the lease to lapse, which is what this makes the others do.

Then it runs ``pythagoras worker FOLDER --max-workers N --lease-timeout L``, which serves until
SIGTERM or until it is killed.
"""

from __future__ import annotations

import json
import socket
import sys
import time


def main(config: dict[str, object]) -> int:
    offset = float(config.get("clock_offset", 0.0))  # type: ignore[arg-type]
    if offset:
        real_time = time.time
        time.time = lambda: real_time() + offset
    hostname = config.get("hostname")
    if hostname:
        socket.gethostname = lambda: str(hostname)

    from pythagoras.cli import main as pythagoras_main

    return pythagoras_main(["worker", str(config["folder"]),
                            "--max-workers", str(config.get("max_workers", 1)),
                            "--lease-timeout", str(config["lease_timeout"])])


if __name__ == "__main__":
    sys.exit(main(json.loads(sys.argv[1])))
