"""Reports: one row format for every figure (pythagoras beside the peer the figure names, their
ratio and the issue's goal), one table, and the JSON record of a run in ``benchmarks/results/``."""

from __future__ import annotations

import datetime
import importlib.metadata
import json
import operator
import os
import platform
import subprocess
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
RESULTS = REPO / "benchmarks" / "results"
DISTRIBUTIONS = ("pythagoras-swarm", "joblib", "loky", "cloudpickle", "numpy", "xxhash", "diskcache", "dask",
                 "distributed", "ray", "scikit-learn", "watchdog", "fsspec", "s3fs", "moto")
_OPS = {"<=": operator.le, ">=": operator.ge}


@dataclass
class Row:
    """One line of a figure: pythagoras's value beside its peer's, measured in the same run.

    ``goal`` is ``"ratio<=1.15"``, ``"ratio>=20"`` or ``"value<=2"``; ``inverse`` makes the
    ratio peer/pythagoras (a speed-up, or an efficiency against an ideal)."""

    label: str
    value: float | None
    unit: str  # "us", "ms", "s", "/s", "x" or "" (a count)
    peer: str
    peer_value: float | None
    goal: str | None = None
    inverse: bool = False

    @property
    def ratio(self) -> float | None:
        a, b = (self.peer_value, self.value) if self.inverse else (self.value, self.peer_value)
        return None if a is None or not b else a / b

    @property
    def met(self) -> bool | None:
        if self.goal is None:
            return None
        what, op, target = self.goal[:5], self.goal[5:7], float(self.goal[7:])
        actual = self.ratio if what == "ratio" else self.value
        return None if actual is None else _OPS[op](actual, target)

    def record(self) -> dict[str, Any]:
        ratio = self.ratio
        return {**asdict(self), "ratio": None if ratio is None else round(ratio, 4), "met": self.met,
                "ratio_is": "peer/pythagoras" if self.inverse else "pythagoras/peer"}


@dataclass
class Result:
    """What a figure's ``measure`` returns: its rows, notes for the reader, raw measurements."""

    rows: list[Row]
    notes: list[str] = field(default_factory=list)
    raw: dict[str, Any] = field(default_factory=dict)


def fmt(value: float | None, unit: str) -> str:
    if value is None:
        return "-"
    if unit == "us":
        return f"{value:.1f} µs" if value < 1000 else f"{value / 1000:.2f} ms"
    if unit == "ms":
        return f"{value:.3f} ms" if value < 10 else f"{value:.1f} ms"
    if unit == "/s":
        return f"{value:,.0f}/s"
    if unit == "s":
        return f"{value:.3f} s"
    if unit == "x":
        return f"{value:.2f}x"
    return f"{value:g}"


def print_table(figure: str, rows: list[dict[str, Any]], notes: list[str]) -> None:
    """The figure's rows (as recorded) and notes, in the one table format."""
    head = (f"{'[' + figure + ']':<46} {'pythagoras':>11}  {'peer':<26} {'':>11}  "
            f"{'ratio':>7}  {'goal':>12}  met")
    print(head)
    print("-" * len(head))
    for r in rows:
        ratio = "-" if r["ratio"] is None else f"{r['ratio']:.3f}"
        goal = (r["goal"] or "-").replace("ratio", "").replace("value", "")
        met = {True: "yes", False: "NO", None: "-"}[r["met"]]
        print(f"{r['label'][:46]:<46} {fmt(r['value'], r['unit']):>11}  {r['peer'][:26]:<26} "
              f"{fmt(r['peer_value'], r['unit']):>11}  {ratio:>7}  {goal:>12}  {met}")
    for note in notes:
        print(f"  {note}")


def loadavg() -> float | None:
    """The 1-minute load average: other work on the machine skews every figure."""
    try:
        return round(os.getloadavg()[0], 2)
    except (AttributeError, OSError):
        return None


def machine() -> dict[str, Any]:
    """Python, platform, CPUs, the versions of the libraries measured, and the commit."""
    def version(dist: str) -> str | None:
        try:
            return importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            return None

    def git(*args: str) -> str | None:
        try:
            return subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True,
                                  timeout=10, check=False).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return None

    return {"python": platform.python_version(), "implementation": platform.python_implementation(),
            "platform": platform.platform(), "cpu_count": os.cpu_count(),
            "versions": {d: version(d) for d in DISTRIBUTIONS},
            "git": {"commit": git("rev-parse", "HEAD") or None,
                    "pythagoras_dirty": bool(git("status", "--porcelain", "--", "pythagoras"))}}


def write(path: Path, record: dict[str, Any]) -> None:
    """Write a run's record; an earlier record at ``path`` is kept beside it, named by its date."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists():
        try:
            when = str(json.loads(path.read_text()).get("when", ""))[:19].replace(":", "")
        except (OSError, ValueError, AttributeError):
            when = ""
        path.replace(path.with_name(f"{path.stem}-{when or int(path.stat().st_mtime)}.json"))
    record = {"when": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"), **record}
    path.write_text(json.dumps(record, indent=2, default=str) + "\n")
    print(f"wrote {path}")
