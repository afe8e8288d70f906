"""``python -m benchmarks``: every figure, or those named, each in a child interpreter of its own.

    python -m benchmarks                      # every figure, full samples (many minutes on 2 cores)
    python -m benchmarks --quick              # every figure, few samples: a smoke run
    python -m benchmarks memo executor        # these figures (also: --only memo --only executor)
    python -m benchmarks --list               # the figures, what each measures, against which peer
    python -m benchmarks records --set large=200000 --set budget=60

A figure is a module of this package with ``SETTINGS`` (``full`` and ``quick``) and
``measure(root, **settings) -> Result``. Each runs in a fresh interpreter in a session of its own
(``--child``), so no figure's threads, pools or caches reach the next one, and one that hangs is
killed with its whole group at ``--timeout`` without losing the others. Every figure prints one
table (pythagoras, the peer measured in the same run, the ratio, the goal) and its record goes to
``benchmarks/results/FIGURE.json`` (``FIGURE-quick.json`` for ``--quick``); an earlier record there
is kept, renamed by its date. ``--profile DIR`` runs each figure under ``py-spy record
--subprocesses``: collapsed stacks in ``DIR/FIGURE.txt`` and their top functions in
``DIR/FIGURE-top.txt``. Nothing is asserted: these are benchmarks.
"""

from __future__ import annotations

import argparse
import importlib
import json
import shutil
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any

from . import processes
from .report import RESULTS, loadavg, machine, print_table, write

#: The figures in the order a full run measures them: cheap ones first.
FIGURES = ("memo", "records", "executor", "first_map", "joblib_backend", "engines", "swarm", "peers",
           "composition", "stores", "tier")


def describe(name: str) -> str:
    module = importlib.import_module(f"benchmarks.{name}")
    return (module.__doc__ or "").strip().splitlines()[0]


def child(name: str, mode: str, overrides: dict[str, Any], root: Path, out: Path) -> int:
    """Measure one figure in this (fresh) interpreter; its result as JSON in ``out``."""
    module = importlib.import_module(f"benchmarks.{name}")
    settings = {**module.SETTINGS[mode], **overrides}
    began = time.perf_counter()
    try:
        result = module.measure(root, **settings)
        record: dict[str, Any] = {"rows": [r.record() for r in result.rows], "notes": result.notes,
                                  "raw": result.raw}
    except (Exception, SystemExit) as e:  # noqa: BLE001 -- reported in the table, not fatal to the run
        record = {"error": f"{type(e).__name__}: {e}", "traceback": traceback.format_exc()[-4000:]}
    killed = processes.reap_leftovers()
    if killed:
        record.setdefault("notes", []).append(
            f"child processes outlived their shutdown and were killed: {killed}")
    record.update(settings=settings, seconds=round(time.perf_counter() - began, 2))
    out.write_text(json.dumps(record, default=str))
    return 0


def run(name: str, mode: str, overrides: dict[str, Any], root: Path, timeout: float,
        profile: Path | None) -> dict[str, Any]:
    """One figure in a child interpreter, killed with its group past ``timeout``."""
    out = root / f"{name}.json"
    (root / name).mkdir()
    args = ["-m", "benchmarks", "--child", name, "--mode", mode, "--child-root", str(root / name),
            "--child-out", str(out), *[f"--set={k}={json.dumps(v)}" for k, v in overrides.items()]]
    before, t0 = loadavg(), time.perf_counter()
    if profile is not None:
        py_spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
        args = ["-c", "import subprocess, sys; sys.exit(subprocess.call(sys.argv[1:]))", py_spy, "record",
                "--subprocesses", "--rate", "200", "--nonblocking", "--format", "raw", "-o",
                str(profile / f"{name}.txt"), "--", sys.executable, *args]
    proc = processes.start(args, out=None)
    try:
        proc.wait(timeout=timeout)
    except Exception:  # noqa: BLE001 -- a timeout, or Ctrl-C: the group goes either way
        processes.kill_group(proc)
        record: dict[str, Any] = {"error": f"killed after {timeout:.0f} s"}
    else:
        processes.kill_group(proc)  # whatever it left in its session
        try:
            record = json.loads(out.read_text())
        except (OSError, ValueError):
            record = {"error": f"the figure's process exited with {proc.returncode} and wrote no result"}
    record.update(wall_s=round(time.perf_counter() - t0, 2), load_before=before, load_after=loadavg())
    if profile is not None and (profile / f"{name}.txt").exists():
        from .profile import format_top, top

        (profile / f"{name}-top.txt").write_text(format_top(top(profile / f"{name}.txt", 30)) + "\n")
    return record


def _value(text: str) -> tuple[str, Any]:
    key, _, value = text.partition("=")
    try:
        return key, json.loads(value)
    except ValueError:
        return key, value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.split("\n")[0])
    parser.add_argument("figures", nargs="*", metavar="FIGURE", help="figures to run (default: all)")
    parser.add_argument("--only", action="append", default=[], metavar="FIGURE",
                        help="run this figure (repeatable)")
    parser.add_argument("--quick", action="store_true", help="few samples: a smoke run")
    parser.add_argument("--list", action="store_true", help="list the figures and exit")
    parser.add_argument("--set", action="append", default=[], type=_value, metavar="KEY=VALUE",
                        help="override a setting of the figures run (a JSON value)")
    parser.add_argument("--results", type=Path, default=RESULTS, help="where the JSON records go")
    parser.add_argument("--dir", type=Path, default=None,
                        help="make the temporary folder under this directory")
    parser.add_argument("--timeout", type=float, default=1200.0, help="kill a figure that runs longer (s)")
    parser.add_argument("--profile", type=Path, default=None, metavar="DIR",
                        help="run each figure under py-spy")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--mode", default="full", help=argparse.SUPPRESS)
    parser.add_argument("--child-root", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--child-out", type=Path, help=argparse.SUPPRESS)
    opts = parser.parse_args(argv)
    overrides = dict(opts.set)
    if opts.child:
        return child(opts.child, opts.mode, overrides, opts.child_root, opts.child_out)
    if opts.list:
        for name in FIGURES:
            print(f"{name:<15} {describe(name)}")
        return 0
    chosen = [n for part in opts.figures + opts.only for n in part.split(",")] or list(FIGURES)
    unknown = sorted(set(chosen) - set(FIGURES))
    if unknown:
        raise SystemExit(f"no such figure: {', '.join(unknown)}; see --list")
    mode = "quick" if opts.quick else "full"
    for folder in (opts.dir, opts.profile):
        if folder is not None:
            folder.mkdir(parents=True, exist_ok=True)
    root = Path(tempfile.mkdtemp(prefix="pythagoras-bench-", dir=opts.dir))
    about, failed = machine(), []
    try:
        for name in dict.fromkeys(chosen):
            print(f"{name} ({mode}) ...", file=sys.stderr, flush=True)
            record = run(name, mode, overrides, root, opts.timeout, opts.profile)
            notes = record.get("notes", []) + ([f"ERROR {record['error']}"] if "error" in record else [])
            profiled = "; PROFILED: slower than unprofiled" if opts.profile else ""
            notes.append(f"{record['wall_s']} s; 1-min load {record['load_before']} -> "
                         f"{record['load_after']} on {about['cpu_count']} CPUs{profiled}")
            print_table(name, record.get("rows", []), notes)
            print()
            failed += ["error" in record]
            write(opts.results / f"{name}{'-quick' if opts.quick else ''}.json",
                  {"benchmark": name, "mode": mode, "machine": about, **record})
    finally:
        if opts.keep:
            print(f"kept {root}", file=sys.stderr)
        else:
            shutil.rmtree(root, ignore_errors=True)
    return 1 if any(failed) else 0
