"""The command line: ``pythagoras worker LOCATION`` serves a swarm's folder until stopped."""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import threading
from collections.abc import Sequence
from types import FrameType

from .errors import StoreError
from .location import resolve_location
from .peer import Peer
from .plugins import open_store

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="pythagoras", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    worker = commands.add_parser("worker", help="serve a swarm: run its pending calls until stopped")
    worker.add_argument("location", nargs="?", default=None,
                        help="the swarm's folder or URL (default: the embedded default location)")
    worker.add_argument("--max-workers", type=int, default=None,
                        help="worker processes (default: the number of CPUs)")
    worker.add_argument("--lease-timeout", type=float, default=30.0,
                        help="seconds after which a silent peer's calls run elsewhere (default 30)")
    worker.add_argument("--storage-options", type=_json_object, default=None, metavar="JSON",
                        help="options for the store, as a JSON object, e.g. "
                             "'{\"client_kwargs\": {\"endpoint_url\": \"http://minio:9000\"}}' "
                             "for an S3 URL (credentials are best left to the environment)")
    return parser


def _json_object(text: str) -> dict[str, object]:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as e:
        raise argparse.ArgumentTypeError(f"not JSON ({e}); give an object such as "
                                         "'{\"anon\": true}'") from e
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError("give a JSON object, such as '{\"anon\": true}'")
    return value


def worker(location: str | None, max_workers: int | None, lease_timeout: float,
           storage_options: dict[str, object] | None = None) -> int:
    """Serve until SIGINT or SIGTERM, then release unfinished calls to the swarm and exit."""
    store = open_store(resolve_location(location), storage_options)
    peer = Peer(store, max_workers=max_workers, lease_timeout=lease_timeout)
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    logging.info("pythagoras worker %s serving %s with %d worker processes",
                 peer.id, store.location, peer.max_workers)
    peer.serve()
    while not stop.wait(0.5):
        pass
    logging.info("pythagoras worker %s stopping: releasing unfinished calls", peer.id)
    peer.close(wait=False)
    logging.info("pythagoras worker %s stopped after executing %d calls", peer.id, peer.executed)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stderr)
    try:
        if args.command == "worker":
            if args.max_workers is not None and args.max_workers < 1:
                print("pythagoras worker: --max-workers must be at least 1", file=sys.stderr)
                return 2
            return worker(args.location, args.max_workers, args.lease_timeout,
                          args.storage_options)
    except StoreError as e:
        print(f"pythagoras {args.command}: {e}", file=sys.stderr)
        return 2
    return 2
