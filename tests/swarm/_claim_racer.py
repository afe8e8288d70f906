"""One contender of the claim races: run as ``python _claim_racer.py '<json config>'``.

It opens the store, creates ``ready-<name>`` in the barrier folder, waits for the start file,
then claims each address of ``addresses`` in order, as fast as it can, and prints one JSON
line: ``{"won": [true, false, ...]}``. It exits only once every racer of ``racers`` is done
(``done-<name>`` in the barrier folder): a claim whose holder on this machine has exited holds
nothing, so a racer that left early would let a slower one break its claims. With
``lease_timeout`` below zero every existing claim is stale to it, so the race is to break a
lease rather than to take a free one.
"""

from __future__ import annotations

import json
import os
import sys
import time
import traceback
from typing import Any

from pythagoras.identity.address import CallAddress
from pythagoras.storage.plugins import open_store
from pythagoras.swarm.protocol import new_peer_id
from pythagoras.swarm.swarm_store import SwarmStore

POLL = 0.001


def main(config: dict[str, Any]) -> int:
    deadline = time.monotonic() + config["deadline"]
    store = open_store(config["store"], config.get("storage_options") or None)
    swarm = SwarmStore(store, lease_timeout=config.get("lease_timeout", 30.0))
    addresses = [CallAddress(function, arguments) for function, arguments in config["addresses"]]
    peer = new_peer_id()
    open(os.path.join(config["barrier_dir"], f"ready-{config['name']}"), "x").close()
    while not os.path.exists(config["start_file"]):
        if time.monotonic() > deadline:
            print(json.dumps({"error": "the start file never appeared"}), flush=True)
            return 2
        time.sleep(POLL)
    won = [swarm.claim(address, peer) is not None for address in addresses]
    open(os.path.join(config["barrier_dir"], f"done-{config['name']}"), "x").close()
    while not all(os.path.exists(os.path.join(config["barrier_dir"], f"done-{name}"))
                  for name in config["racers"]):
        if time.monotonic() > deadline:
            print(json.dumps({"error": "the other racers never finished"}), flush=True)
            return 2
        time.sleep(POLL)
    print(json.dumps({"name": config["name"], "peer": peer, "won": won}), flush=True)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(json.loads(sys.argv[1])))
    except Exception:
        traceback.print_exc()
        sys.exit(1)
