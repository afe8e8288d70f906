"""The benchmarks' harness runs a figure end to end: ``python -m benchmarks --quick --only memo``
in a child (its group killed at the deadline), and its record has the figure's rows.

Only the structure is checked, never a time: timings belong to the benchmarks themselves."""

from __future__ import annotations

import json
from pathlib import Path

import child_processes

REPO = child_processes.HERE.parent
DEADLINE = 240.0


def test_a_quick_run_of_one_figure_records_its_rows(tmp_path: Path) -> None:
    done = child_processes.run(["-m", "benchmarks", "--quick", "--only", "memo", "--results", str(tmp_path),
                                "--dir", str(tmp_path / "work")], timeout=DEADLINE, cwd=REPO)
    assert done.returncode == 0, done.stdout + done.stderr
    record = json.loads((tmp_path / "memo-quick.json").read_text())
    assert record["benchmark"] == "memo" and record["mode"] == "quick"
    assert "error" not in record, record.get("traceback")
    labels = {(row["label"], row["peer"]) for row in record["rows"]}
    for front in ("decorator", "Memory"):
        assert (f"{front} miss, small int", "joblib.Memory") in labels
    for front in ("decorator", "Memory", "executor", "joblib backend"):
        for case in ("hit, small int", "hit, 1 MiB array"):
            assert {(f"{front} {case}", "joblib.Memory"), (f"{front} {case}", "floor")} <= labels
    assert all(row["value"] is not None and row["peer_value"] is not None for row in record["rows"])
    assert "[memo]" in done.stdout
    assert not list((tmp_path / "work").iterdir())  # the temporary folder is removed
