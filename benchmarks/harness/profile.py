"""The top functions of a py-spy profile in its ``raw`` format (collapsed stacks).

Each line of a raw profile is ``frame;frame;...;frame COUNT``, outermost first, a frame being
``function (file:line)``, optionally led by ``process NNN:"command"`` frames (``--subprocesses``:
a child's frame follows its parent's) and a ``thread (0x..)`` frame (``--threads``). Without
``--idle`` py-spy leaves out the samples of threads it judges idle, so the counts are roughly
time on a CPU.

    .venv/bin/python -m benchmarks.harness.profile PROFILE.txt [--top 25] [--process TEXT]
"""

from __future__ import annotations

import argparse
import re
from collections import Counter
from pathlib import Path

_LINE = re.compile(r"^(.*) (\d+)$")
_FRAME = re.compile(r"^(?P<function>.*?) \((?P<file>[^():]*?)(?::(?P<line>\d+))?\)$")


def _function(frame: str) -> str | None:
    """``function (file)`` without the line number; None for a process or thread frame."""
    if frame.startswith(("process ", "thread ")):
        return None
    match = _FRAME.match(frame)
    if match is None:
        return frame
    return f"{match['function']} ({match['file']})"


_PROCESS = re.compile(r'process \d+:".*?"(?:;|$)')  # a command line may hold ";" but not '";'


def _frames(stack: str) -> list[str]:
    """The frames of a stack: its leading process frames whole, then the rest split on ";"."""
    frames = []
    while (match := _PROCESS.match(stack)) is not None:
        frames.append(match[0].rstrip(";"))
        stack = stack[match.end():]
    return frames + (stack.split(";") if stack else [])


def _process(frames: list[str]) -> str:
    """The sampled process: the innermost ``process`` frame (a child's follows its parent's)."""
    for frame in reversed(frames):
        if frame.startswith("process "):
            return frame
    return ""


def top(path: Path, n: int = 25, process: str | None = None) -> dict[str, object]:
    """Samples in all, and the ``n`` functions with most samples on top of the stack (self) and
    anywhere in it (inclusive), from the raw profile at ``path``; only the processes whose
    frame contains ``process`` if given."""
    self_counts: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    processes: Counter[str] = Counter()
    total = idle = 0
    for line in path.read_text(errors="replace").splitlines():
        match = _LINE.match(line.strip())
        if match is None:
            continue
        frames, count = _frames(match[1]), int(match[2])
        proc = _process(frames)
        if process is not None and process not in proc:
            continue
        functions = [f for f in map(_function, frames) if f is not None]
        if not functions:  # a process sampled with no active thread: idle, left out
            idle += count
            continue
        total += count
        processes[proc[:120]] += count
        self_counts[functions[-1]] += count
        for function in set(functions):
            inclusive[function] += count
    return {"samples": total, "idle_samples": idle, "processes": processes.most_common(12),
            "self": self_counts.most_common(n), "inclusive": inclusive.most_common(n)}


def format_top(summary: dict[str, object]) -> str:
    total = max(1, int(summary["samples"]))  # type: ignore[call-overload]
    lines = [(f"{summary['samples']} samples with a Python stack (and {summary['idle_samples']} of processes "
              "with no active thread, left out)")]
    lines.append("by process:")
    lines += [f"  {c / total:6.1%}  {p or '(one process)'}" for p, c in summary["processes"]]  # type: ignore[attr-defined]
    for kind in ("self", "inclusive"):
        lines.append(f"top functions, {kind}:")
        lines += [f"  {c / total:6.1%}  {f}" for f, c in summary[kind]]  # type: ignore[attr-defined]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.harness.profile",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("profile", type=Path)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--process", default=None, help="only processes whose frame contains this text")
    opts = parser.parse_args(argv)
    print(format_top(top(opts.profile, opts.top, opts.process)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
