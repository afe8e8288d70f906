"""A sync-folder simulator: mirrors two replica folders as Dropbox or Syncthing do, at their worst.

    replica A                        copier (one process)                        replica B
    ---------                        --------------------                        ---------
    files  --scan every ~10 ms-->  compare A, B and the last synced  <--scan--  files
                                   state ("base") of every path
                                     | a path that differs is scheduled 50-500 ms later, plus
                                     | its size over the bandwidth (big files arrive last), then:
    <------------------  copy the side that changed since then over the other ---------------->
                                    (atomically, in place, or truncated first and whole later)
    <---- rename the loser to "x (conflicted copy <date>).ext" / "x.sync-conflict-<..>.ext" -->
                                    and copy the winner over it, when both sides changed
    <-----------------------------  propagate a deletion (an edit on the other side wins) ---->

Run as ``python simulator.py A B --seed N --deadline S [--stop-file F] [--ready-file R]
[--bandwidth BYTES_PER_S] [--verbose]``, or call :func:`run`. It stops by itself at the deadline
(seconds from its start) or when the stop file appears, finishes the truncated copies it has in
flight, and prints one JSON line of counts (:class:`Counts`), so that a test can check that
conflicts and truncated arrivals really happened.

What a sync service gives, and so what this gives: no exclusive create across replicas, no order
between files, a reader may see a file half-written, and the content copied is whatever the source
holds when the copy starts ("late"). Every random choice comes from one ``random.Random(seed)``;
which paths a scan sees depends on the peers' timing, so a run is reproducible only as far as that.
"""

from __future__ import annotations

import argparse
import dataclasses
import heapq
import json
import os
import random
import sys
import time
from collections.abc import Callable
from typing import Any

__all__ = ["Copier", "Counts", "run"]

OWN_TEMP_PREFIX = ".syncsim-"  # the copier's temp files: the only names its scans skip
SCAN_INTERVAL = 0.01
_DATE = "2026-11-26"
_STAMP = "20261126"


@dataclasses.dataclass
class Counts:
    """What the copier did; the test asserts on some of it."""

    scans: int = 0
    deliveries: int = 0  # files copied (each also counted under one of the next three)
    atomic: int = 0  # written to a temp name, then renamed over the target
    in_place: int = 0  # written straight into the target: a reader may see it part-written
    truncated: int = 0  # a prefix written and left there, the rest 50-300 ms later
    conflicts: int = 0  # both sides changed: the loser was renamed to a conflict copy
    conflict_copies: list[str] = dataclasses.field(default_factory=list)
    deletions: int = 0  # a deletion propagated to the other side
    resurrections: int = 0  # deleted on one side, changed on the other: the edit came back
    errors: int = 0  # an OS error in an action (the path is retried at the next scan)


class Copier:
    """Keeps two replica folders in sync, late and untidily; see the module docstring."""

    def __init__(self, a: str, b: str, *, seed: int = 0, min_delay: float = 0.05,
                 max_delay: float = 0.5, bandwidth: float = 2048.0, p_in_place: float = 0.3,
                 p_truncated: float = 0.3, log: Callable[[str], None] | None = None) -> None:
        self.roots = {"A": os.path.abspath(a), "B": os.path.abspath(b)}
        for root in self.roots.values():
            os.makedirs(root, exist_ok=True)
        self.rng = random.Random(seed)
        self.min_delay, self.max_delay, self.bandwidth = min_delay, max_delay, bandwidth
        self.p_in_place, self.p_truncated = p_in_place, p_truncated
        self.counts = Counts()
        self.base: dict[str, bytes] = {}  # path -> the content both sides last agreed on
        self.pending: set[str] = set()  # paths with an action scheduled or a copy in flight
        self._queue: list[tuple[float, int, Callable[..., None], tuple[Any, ...]]] = []
        self._seq = 0
        self._cache: dict[tuple[str, str], tuple[tuple[int, ...], bytes]] = {}
        self._in_flight: dict[str, tuple[int, bytes, int, int]] = {}  # truncated copies
        self._log = log or (lambda message: None)

    # -- the loop --------------------------------------------------------------------------

    def run(self, deadline: float, stop_file: str | None = None,
            ready_file: str | None = None) -> Counts:
        """Sync until ``deadline`` (a ``time.monotonic()`` value) or until ``stop_file`` exists."""
        self.tick()
        if ready_file is not None:
            open(ready_file, "x").close()
        while time.monotonic() < deadline and not (stop_file and os.path.exists(stop_file)):
            self.tick()
            now = time.monotonic()
            while self._queue and self._queue[0][0] <= now:
                _, _, action, args = heapq.heappop(self._queue)
                self._act(action, *args)
            due = self._queue[0][0] if self._queue else now + SCAN_INTERVAL
            time.sleep(max(0.0, min(due, now + SCAN_INTERVAL, deadline) - now))
        for path in list(self._in_flight):  # leave no file truncated behind
            self._act(self._complete, path)
        return self.counts

    def _schedule(self, delay: float, action: Callable[..., None], *args: Any) -> None:
        self._seq += 1
        heapq.heappush(self._queue, (time.monotonic() + delay, self._seq, action, args))

    def _act(self, action: Callable[..., None], path: str, *args: Any) -> None:
        try:
            action(path, *args)
        except OSError as e:  # a peer moved the file under us: look at the path again later
            self.counts.errors += 1
            self._log(f"{action.__name__} {path}: {e!r}")
            fd = self._in_flight.pop(path, (None,))[0]
            if fd is not None:
                os.close(fd)
            self.pending.discard(path)

    def tick(self) -> None:
        """Scan both replicas; schedule a late sync of every path where they differ."""
        self.counts.scans += 1
        a, b = self._scan("A"), self._scan("B")
        for path in sorted(a.keys() | b.keys() | self.base.keys()):  # sorted: one rng order
            if path in self.pending:
                continue
            here, there = a.get(path), b.get(path)
            if here == there:
                self._agree(path, here)
            else:
                self.pending.add(path)
                size = max(len(here or b""), len(there or b""))
                delay = self.rng.uniform(self.min_delay, self.max_delay) + size / self.bandwidth
                self._schedule(delay, self._sync, path)

    # -- reading the replicas ----------------------------------------------------------------

    def _scan(self, side: str) -> dict[str, bytes]:
        root = self.roots[side]
        found: dict[str, bytes] = {}
        for directory, _, names in os.walk(root):
            relative = os.path.relpath(directory, root)
            for name in names:
                if name.startswith(OWN_TEMP_PREFIX):
                    continue
                path = name if relative == "." else f"{relative}/{name}".replace(os.sep, "/")
                data = self._cached_read(side, path)
                if data is not None:
                    found[path] = data
        return found

    def _cached_read(self, side: str, path: str) -> bytes | None:
        full = os.path.join(self.roots[side], path)
        try:
            st = os.stat(full)
        except OSError:
            return None
        signature = (st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)
        cached = self._cache.get((side, path))
        if cached is not None and cached[0] == signature:
            return cached[1]
        data = self._read(side, path)
        if data is not None:
            self._cache[(side, path)] = (signature, data)
        return data

    def _read(self, side: str, path: str) -> bytes | None:
        try:
            with open(os.path.join(self.roots[side], path), "rb") as f:
                return f.read()
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            return None

    def _mtime_ns(self, side: str, path: str) -> int:
        try:
            return os.stat(os.path.join(self.roots[side], path)).st_mtime_ns
        except OSError:
            return time.time_ns()

    # -- syncing one path --------------------------------------------------------------------

    def _agree(self, path: str, data: bytes | None) -> None:
        if data is None:
            self.base.pop(path, None)
        else:
            self.base[path] = data

    def _sync(self, path: str) -> None:
        """Bring the path in line, from what both sides hold now (not when it was scheduled)."""
        a, b, base = self._read("A", path), self._read("B", path), self.base.get(path)
        if a == b:
            self._agree(path, a)
            self.pending.discard(path)
        elif b == base:
            self._propagate("A", "B", path, a)
        elif a == base:
            self._propagate("B", "A", path, b)
        elif a is None or b is None:  # deleted on one side, changed on the other
            self.counts.resurrections += 1
            self._propagate(*(("B", "A") if a is None else ("A", "B")), path, a if b is None else b)
        else:
            self._conflict(path, {"A": a, "B": b})

    def _propagate(self, source: str, target: str, path: str, data: bytes | None) -> None:
        if data is None:
            self._log(f"delete {target}:{path}")
            try:
                os.unlink(os.path.join(self.roots[target], path))
            except FileNotFoundError:
                pass
            self.counts.deletions += 1
            self._agree(path, None)
            self.pending.discard(path)
        else:
            self._deliver(target, path, data, self._mtime_ns(source, path))

    def _conflict(self, path: str, versions: dict[str, bytes]) -> None:
        """Both sides changed: keep the loser's file as a conflict copy beside the original."""
        winner = self.rng.choice("AB")
        loser = "B" if winner == "A" else "A"
        copy = self._conflict_name(loser, path)
        self._log(f"conflict {path}: {winner} wins, {loser}'s copy is {copy}")
        os.rename(os.path.join(self.roots[loser], path), os.path.join(self.roots[loser], copy))
        self.counts.conflicts += 1
        self.counts.conflict_copies.append(copy)
        self._deliver(loser, path, versions[winner], self._mtime_ns(winner, path))

    def _conflict_name(self, side: str, path: str) -> str:
        head, _, name = path.rpartition("/")
        dot = name.rfind(".")
        stem, ext = (name[:dot], name[dot:]) if dot > 0 else (name, "")
        dropbox = f"{stem} (conflicted copy {_DATE}){ext}"
        tag = "".join(self.rng.choice("ABCDEFGHJKLMNPQRSTUVWXYZ234567") for _ in range(7))
        syncthing = f"{stem}.sync-conflict-{_STAMP}-{self.rng.randrange(1_000_000):06d}-{tag}{ext}"
        choice = self.rng.choice([dropbox, syncthing])
        if os.path.lexists(os.path.join(self.roots[side], head, choice)):
            choice = syncthing
        return f"{head}/{choice}" if head else choice

    # -- writing one file --------------------------------------------------------------------

    def _deliver(self, target: str, path: str, data: bytes, mtime_ns: int) -> None:
        """Copy ``data`` to the target replica: atomically, in place, or truncated first."""
        full = os.path.join(self.roots[target], path)
        os.makedirs(os.path.dirname(full), exist_ok=True)
        self.counts.deliveries += 1
        roll = self.rng.random()
        if roll < self.p_truncated and len(data) > 1:
            cut = self.rng.randrange(0, len(data))
            self._log(f"truncated {target}:{path} {cut}/{len(data)}")
            fd = os.open(full, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666)
            self._in_flight[path] = (fd, data, cut, mtime_ns)
            _write_all(fd, data[:cut])
            self.counts.truncated += 1
            self._schedule(self.rng.uniform(0.05, 0.3), self._complete, path)
            return
        if roll < self.p_truncated + self.p_in_place:
            self._log(f"in place {target}:{path}")
            fd = os.open(full, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666)
            try:
                _write_all(fd, data)
                os.utime(fd, ns=(mtime_ns, mtime_ns))
            finally:
                os.close(fd)
            self.counts.in_place += 1
        else:
            self._log(f"atomic {target}:{path}")
            temp = os.path.join(os.path.dirname(full),
                                f"{OWN_TEMP_PREFIX}{self.rng.getrandbits(32):08x}")
            with open(temp, "wb") as f:
                f.write(data)
            os.utime(temp, ns=(mtime_ns, mtime_ns))
            os.replace(temp, full)
            self.counts.atomic += 1
        self._agree(path, data)
        self.pending.discard(path)

    def _complete(self, path: str) -> None:
        """Write the rest of a truncated copy, through the same descriptor as a real client
        would: if a peer replaced or deleted the file meanwhile, the rest goes to the old file."""
        fd, data, cut, mtime_ns = self._in_flight.pop(path)
        try:
            _write_all(fd, data[cut:])
            os.utime(fd, ns=(mtime_ns, mtime_ns))
        finally:
            os.close(fd)
        self._log(f"completed {path}")
        self._agree(path, data)
        self.pending.discard(path)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def run(a: str, b: str, *, seed: int, deadline: float, stop_file: str | None = None,
        ready_file: str | None = None, bandwidth: float = 2048.0,
        verbose: bool = False) -> dict[str, Any]:
    """Sync ``a`` and ``b`` for at most ``deadline`` seconds; the counts, as a dict."""
    def log(message: str) -> None:
        print(f"syncsim {time.monotonic():.3f} {message}", file=sys.stderr)

    copier = Copier(a, b, seed=seed, bandwidth=bandwidth, log=log if verbose else None)
    counts = copier.run(time.monotonic() + deadline, stop_file, ready_file)
    return dataclasses.asdict(counts)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.partition("\n")[0])
    parser.add_argument("a", help="replica folder A")
    parser.add_argument("b", help="replica folder B")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--deadline", type=float, required=True, help="seconds to run at most")
    parser.add_argument("--stop-file", help="stop as soon as this file exists")
    parser.add_argument("--ready-file", help="create this file once the first scan is done")
    parser.add_argument("--bandwidth", type=float, default=2048.0,
                        help="bytes per second: a file's copy is late by its size over this, too")
    parser.add_argument("--verbose", action="store_true", help="log every action on stderr")
    args = parser.parse_args(argv)
    counts = run(args.a, args.b, seed=args.seed, deadline=args.deadline, stop_file=args.stop_file,
                 ready_file=args.ready_file, bandwidth=args.bandwidth, verbose=args.verbose)
    print(json.dumps(counts), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
