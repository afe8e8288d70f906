"""``pythagoras status`` as a few aligned lines (the report itself: :mod:`pythagoras.cli.status`)."""

from __future__ import annotations

from typing import Any

__all__ = ["format_status", "plural"]


def _ago(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds / size:.0f}{unit} ago"
    return f"{seconds:.0f}s ago"


def _size(count: int) -> str:
    value = float(count)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{count} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{count} B"


def _table(rows: list[list[str]], indent: str) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return [indent + "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
            for row in rows]


def plural(count: int, word: str) -> str:
    return f"{count} {word}" + ("" if count == 1 else "s")


def _short_type(type_name: str | None) -> str:
    if not type_name:
        return "?"
    return type_name.removeprefix("builtins.")


def format_status(report: dict[str, Any]) -> str:
    """The report as a few aligned lines."""
    pad = " " * 10
    lines = [f"{'location':<10}{report['location']}"]
    peers = report["peers"]
    live = [p for p in peers if p["live"]]
    workers = sum(p["workers"] for p in live if isinstance(p["workers"], int))
    summary = (f"{len(live)} live ({plural(workers, 'worker')}), {len(peers) - len(live)} stale"
               f"   (lease {report['lease_timeout']:g} s)" if peers else "none")
    lines.append(f"{'peers':<10}{summary}")
    if peers:
        rows = [["HOST", "PID", "PYTHON", "WORKERS", "SERVING", "HEARTBEAT", "STATE"]]
        for p in peers:
            serving = {True: "yes", False: "no"}.get(p["serving"], "?")
            rows.append([str(p["host"]), str(p["pid"]), str(p.get("python") or "?"), str(p["workers"]),
                         serving, _ago(p["heartbeat_age"]), "live" if p["live"] else "stale"])
        lines += _table(rows, pad)
    calls = report["calls"]
    text = (f"{calls['pending']} pending, {calls['running']} running, {calls['done']} done, "
            f"{calls['failed']} failed")
    if report["stale_claims"]:
        text += f"   ({plural(report['stale_claims'], 'stale claim')})"
    lines.append(f"{'calls':<10}{text}")
    for python, count in sorted(calls.get("pending_only_for_python", {}).items()):
        lines.append(f"{'':<10}{count} pending only for peers of Python {python} (bytecode only: "
                     "a lambda, a closure or code without source)")
    store = report["store"]
    lines.append(f"{'store':<10}{_size(store['bytes'])} in {plural(store['records'], 'record')}")
    lines += _not_loaded(report, pad)
    shown = report["recent_failures"]
    if shown:
        lines.append(f"{'failures':<10}the {len(shown)} most recent of {calls['failed']}:")
        rows = []
        for f in shown:
            message = (f["message"] or "").strip().splitlines()
            first = message[0] if message else ""
            if len(first) > 120:
                first = first[:117] + "..."
            rows.append([_ago(f["age"]), f["function"] or f["function_id"][:12],
                         f"{_short_type(f['type'])}: {first}"])
        lines += _table(rows, pad)
    return "\n".join(lines)


def _not_loaded(report: dict[str, Any], pad: str) -> list[str]:
    """What others put in the location and this report did not load or follow."""
    lines = []
    if report["refused"]:
        lines.append(f"{'refused':<10}{plural(len(report['refused']), 'record')} unsigned or signed "
                     "with another secret, moved to quarantine/ and never loaded")
    unreadable = report.get("unreadable", [])
    if unreadable:
        lines.append(f"{'unreadable':<11}{plural(len(unreadable), 'record')} not loaded: "
                     "damaged, or naming code no record of their kind holds (written by "
                     "someone else?):")
        lines += _table([[u["key"], u["why"]] for u in unreadable], pad)
    links = report.get("links", [])
    if links:
        lines.append(f"{'links':<10}{plural(len(links), 'link')} (or pipes) among the records, "
                     "never followed: only a writer of the location puts them there:")
        lines += [f"{pad}{name}" for name in links]
    return lines
