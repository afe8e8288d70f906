"""One peer of ``test_concurrent_writers``: run as ``python _peer_writer.py '<json config>'``.

It opens the LocalFolderStore, announces that it is ready (a file ``ready-<peer>``), waits for
the start file, then for each round:

* tries to ``create`` the round's claim key, which every peer contends for;
* writes a framed record to one of the shared keys and to its own key;
* reads back every shared key and its own key and unframes them.

A torn read shows up as CorruptRecord. It prints one JSON line (its report) and exits 0 if
every read was whole and its own key always read back as last written, 1 otherwise, 2 if it
never saw the start file.
"""

from __future__ import annotations

import json
import os
import random
import sys
import time

from pythagoras.errors import CorruptRecord
from pythagoras.records.frames import frame, unframe
from pythagoras.storage.local import LocalFolderStore

KIND = b"T"


def payload(peer: int, round_: int, rng: random.Random) -> bytes:
    """A payload that names its writer and round, padded to a random size so torn reads show."""
    return f"{peer}:{round_}:".encode() + rng.randbytes(rng.randrange(0, 48_000))


def main(config: dict) -> int:
    peer: int = config["peer"]
    store = LocalFolderStore(config["root"])
    deadline = time.monotonic() + config["deadline"]
    rng = random.Random(peer)
    report: dict = {"peer": peer, "won": [], "corrupt": 0, "first_corrupt": [], "mismatches": 0}
    report["reads"] = 0

    open(os.path.join(config["barrier_dir"], f"ready-{peer}"), "x").close()
    while not os.path.exists(config["start_file"]):
        if time.monotonic() > deadline:
            report["error"] = "the start file never appeared"
            print(json.dumps(report), flush=True)
            return 2
        time.sleep(0.001)

    shared: list[str] = config["shared_keys"]
    own = f"own/p{peer}/record"
    for r in range(config["rounds"]):
        if store.create(f"claims/r{r}", frame(KIND, str(peer).encode())):
            report["won"].append(r)
        store.write(shared[(peer + r) % len(shared)], frame(KIND, payload(peer, r, rng)))
        mine = frame(KIND, payload(peer, r, rng))
        store.write(own, mine)
        for key in (*shared, own):
            data = store.read(key)
            report["reads"] += 1
            if data is None:
                continue  # a shared key nobody has written yet
            try:
                unframe(data, KIND)
            except CorruptRecord as e:
                report["corrupt"] += 1
                if len(report["first_corrupt"]) < 3:
                    report["first_corrupt"].append(f"{key}: {e}")
            if key == own and data != mine:
                report["mismatches"] += 1
    report["last_own"] = f"{peer}:{config['rounds'] - 1}:"
    print(json.dumps(report), flush=True)
    return 1 if report["corrupt"] or report["mismatches"] else 0


if __name__ == "__main__":
    sys.exit(main(json.loads(sys.argv[1])))
