"""The command line: ``pythagoras worker|status|clear [LOCATION]``.

- ``worker`` serves a swarm's location until stopped;
- ``status`` shows its peers, its calls (pending, running, done, failed), its size and its
  latest failures (``--json`` for scripts);
- ``clear`` deletes leftovers, failures (``--failures``) or everything (``--all``), after a
  confirmation that ``--yes`` skips.

LOCATION defaults to the embedded default location everywhere. This module only parses
arguments: each subcommand is one ``_add_<name>`` that declares it and one function that runs
it, set as the parser's ``run`` default, so that ``main`` dispatches on nothing. The logic of
``status`` and ``clear`` (and the choices made for them) is :mod:`pythagoras.cli.status`; the
user's description is ``docs/cli.md``. Exit codes: 0 ok, 1 refused or aborted, 2 a usage or
location error (one line on stderr, no traceback).
"""

from __future__ import annotations

import argparse
import getpass
import json
import logging
import os
import signal
import sys
import threading
from collections.abc import Sequence
from types import FrameType

from ..errors import StoreError
from ..storage.base import Store
from ..storage.location import resolve_location
from ..storage.plugins import open_store, others_may_write
from ..swarm.peer import Peer
from . import clear as _clear
from . import status as _status

__all__ = ["main"]

_LOCATION_HELP = "the swarm's folder or URL (default: the embedded default location)"
_OPTIONS_HELP = ("options for the store, as a JSON object, e.g. "
                 "'{\"client_kwargs\": {\"endpoint_url\": \"http://minio:9000\"}}' "
                 "for an S3 URL (credentials are best left to the environment)")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="pythagoras",
                                     description="A shared folder or bucket as a compute swarm: "
                                                 "serve it, inspect it, clear it.",
                                     epilog="exit codes: 0 ok, 1 refused or aborted, "
                                            "2 usage or location error")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_demo(commands)
    _add_worker(commands)
    _add_status(commands)
    _add_clear(commands)
    return parser


def _add_location(command: argparse.ArgumentParser) -> None:
    command.add_argument("location", nargs="?", default=None, help=_LOCATION_HELP)
    command.add_argument("--storage-options", type=_json_object, default=None, metavar="JSON",
                         help=_OPTIONS_HELP)


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be a positive number of seconds, not {text}")
    return value


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, not {text}")
    return value


def _json_object(text: str) -> dict[str, object]:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as e:
        raise argparse.ArgumentTypeError(f"not JSON ({e}); give an object such as "
                                         "'{\"anon\": true}'") from e
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError("give a JSON object, such as '{\"anon\": true}'")
    return value


# -- worker ------------------------------------------------------------------------------------


def _add_worker(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    worker_ = commands.add_parser("worker", help="serve a swarm: run its pending calls until stopped")
    _add_location(worker_)
    worker_.add_argument("--max-workers", type=int, default=None,
                         help="worker processes (default: the number of CPUs)")
    worker_.add_argument("--lease-timeout", type=float, default=30.0,
                         help="seconds after which a silent peer's calls run elsewhere (default 30)")
    worker_.set_defaults(run=_run_worker, log_level=logging.INFO)


def _run_worker(args: argparse.Namespace) -> int:
    if args.max_workers is not None and args.max_workers < 1:
        print("pythagoras worker: --max-workers must be at least 1", file=sys.stderr)
        return 2
    return worker(args.location, args.max_workers, args.lease_timeout, args.storage_options)


def worker(location: str | None, max_workers: int | None, lease_timeout: float,
           storage_options: dict[str, object] | None = None) -> int:
    """Serve until SIGINT or SIGTERM, then release unfinished calls to the swarm and exit."""
    store = open_store(resolve_location(location), storage_options)
    _warn_if_exposed(store)
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


def _warn_if_exposed(store: Store) -> None:
    """One line, where the swarm is unsigned and others may write its location: they can make
    this worker run any code, as this user."""
    why = others_may_write(store)
    if why is not None:
        logging.warning("pythagoras worker: the swarm at %s is not signed, and %s; anyone who "
                        "can write there runs code as %s through this worker. Give every "
                        "member the same secret: set PYTHAGORAS_SECRET (docs/trust.md)",
                        store.location, why, _user())


def _user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no name for this uid
        return f"uid {os.getuid()}" if hasattr(os, "getuid") else "this user"


# -- status ------------------------------------------------------------------------------------


def _add_status(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    status = commands.add_parser(
        "status", help="show a swarm's peers, calls, size and latest failures",
        description="Show a swarm's peers (live and stale), its calls (pending, running, done, "
                    "failed), the size of its records and its most recent failures. Creates "
                    "nothing: a missing folder is an error.")
    _add_location(status)
    status.add_argument("--json", action="store_true",
                        help="print one JSON object (for scripts) instead of text")
    status.add_argument("--recent", type=_count, default=5, metavar="N",
                        help="how many of the most recent failures to show (default 5)")
    status.add_argument("--lease-timeout", type=_positive, default=30.0, metavar="SECONDS",
                        help="the swarm's lease: a peer or claim silent for longer is stale "
                             "(default 30, the swarm's default)")
    status.set_defaults(run=_run_status)


def _run_status(args: argparse.Namespace) -> int:
    return _status.run_status(args.location, storage_options=args.storage_options,
                              lease_timeout=args.lease_timeout, recent=args.recent,
                              as_json=args.json)


# -- clear -------------------------------------------------------------------------------------


def _add_clear(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    clear = commands.add_parser(
        "clear", help="delete a swarm's leftovers, its failures (--failures) or all (--all)",
        description="Delete records at a swarm's location, after a confirmation. Without a "
                    "flag, only leftovers no peer will read again: stale peer records, requests "
                    "and stale claims of finished calls, spent break markers, Memory metadata "
                    "without a result.")
    _add_location(clear)
    what = clear.add_mutually_exclusive_group()
    what.add_argument("--failures", dest="what", action="store_const", const="failures",
                      help="delete the failure records: those calls run again when next called")
    what.add_argument("--all", dest="what", action="store_const", const="all",
                      help="delete every record pythagoras wrote there, results included")
    clear.add_argument("-y", "--yes", action="store_true",
                       help="delete without asking (needed when stdin is not a terminal)")
    clear.add_argument("--lease-timeout", type=_positive, default=30.0, metavar="SECONDS",
                       help="the swarm's lease, to tell stale peers and claims (default 30)")
    clear.set_defaults(run=_run_clear, what="leftovers")


def _run_clear(args: argparse.Namespace) -> int:
    return _clear.run_clear(args.location, args.what, storage_options=args.storage_options,
                             lease_timeout=args.lease_timeout, yes=args.yes)


# -- demo --------------------------------------------------------------------------------------


def _add_demo(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    demo = commands.add_parser(
        "demo", help="watch a swarm of three local peers share a slow function's calls, twice",
        description="Start two more peers on the location (default: the embedded default "
                    "location), run a slow function over a list with a progress bar, run it "
                    "again to read every value back, print the timings, stop the peers.")
    demo.add_argument("--location", default=None, help=_LOCATION_HELP)
    demo.add_argument("--calls", type=_count, default=12, help="calls per run (default 12)")
    demo.add_argument("--seconds", type=_positive, default=1.0,
                      help="how long one call takes (default 1)")
    demo.set_defaults(run=_run_demo)


def _run_demo(args: argparse.Namespace) -> int:
    from .demo import run

    return run(args.location, calls=args.calls, seconds=args.seconds)


# -- dispatch ----------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=getattr(args, "log_level", logging.WARNING),
                        format="%(asctime)s %(message)s", stream=sys.stderr)
    try:
        code: int = args.run(args)
    except (StoreError, OSError) as e:
        print(f"pythagoras {args.command}: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"pythagoras {args.command}: interrupted", file=sys.stderr)
        return 130
    return code
