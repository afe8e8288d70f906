"""joblib's own ``test_parallel.py``, its test cases parametrized with the "pythagoras" backend
(``joblib_plugin``): every one passes except the intended differences below, each listed in
``docs/joblib.md`` with its reason, and each failing for that reason (a part of its message).

A new failure, an intended failure that starts to pass, or one that fails for another reason
fails this test: the list and the documentation then have to be brought up to date.

The run is a subprocess in a session of its own on a fresh swarm folder; past its deadline the
whole process group (pytest, the peer's pool, the pools its tasks started) is killed.
"""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import child_processes
import pytest

ROOT = Path(__file__).resolve().parents[2]
DEADLINE = 300.0  # about 40 s on 2 cores; only a hang reaches this
CASE_TIMEOUT = 60  # seconds per test case: a hung case fails alone, the run goes on
COMMAND = ["-m", "pytest", "-p", "tests.joblib_backend.joblib_plugin", "--pyargs",
           "joblib.test.test_parallel", "--pythagoras-only", "-p", "no:cacheprovider", "-q",
           f"--timeout={CASE_TIMEOUT}"]

pytestmark = pytest.mark.timeout(DEADLINE + 60)

#: The test cases that fail by design, by reason (docs/joblib.md): a part of the failure's
#: message, and the cases.
INTENDED: dict[str, tuple[str, list[str]]] = {
    "a loky worker that never imported pythagoras does not know the backend by name": (
        "Invalid backend: pythagoras", [
            "test_nested_loop[loky-pythagoras]",
            "test_nested_loop[back_compat_backend-pythagoras]",
        ]),
}


@dataclass(frozen=True)
class Outcome:
    """One test case of the run: "passed", "failed" or "skipped", and the failure's message."""

    status: str
    message: str = ""


def run_suite(tmp_path: Path) -> tuple[dict[str, Outcome], str]:
    """Run the selection on a fresh swarm folder; the outcome of each case and pytest's output."""
    report = tmp_path / "report.xml"
    env = {**os.environ, "PYTHAGORAS_LOCATION": str(tmp_path / "swarm")}
    options = [f"--junitxml={report}", f"--basetemp={tmp_path / 'run'}"]
    done = child_processes.run([*COMMAND, *options], timeout=DEADLINE, env=env, cwd=ROOT)
    output = done.stdout + done.stderr
    assert report.exists(), output[-4000:]
    return parse_report(report), output


def parse_report(report: Path) -> dict[str, Outcome]:
    outcomes: dict[str, Outcome] = {}
    for case in ET.parse(report).getroot().iter("testcase"):
        failure = case.find("failure")
        if failure is None:
            failure = case.find("error")
        if failure is not None:
            outcome = Outcome("failed", f"{failure.get('message', '')}\n{failure.text or ''}")
        elif case.find("skipped") is not None:
            outcome = Outcome("skipped")
        else:
            outcome = Outcome("passed")
        outcomes[str(case.get("name"))] = outcome
    return outcomes


def test_joblib_parallel_suite_fails_only_where_intended(tmp_path: Path) -> None:
    outcomes, output = run_suite(tmp_path)
    # The selection ran: cases by name and cases with an instance of the backend (backendN).
    assert len(outcomes) > 60, output[-4000:]
    assert any("pythagoras" not in name for name in outcomes), sorted(outcomes)
    failed = {name for name, outcome in outcomes.items() if outcome.status == "failed"}
    intended = {name for _, names in INTENDED.values() for name in names}
    assert failed == intended, (
        f"unexpected failures: {sorted(failed - intended)}; "
        f"intended failures that pass: {sorted(intended - failed)}\n{output[-6000:]}")
    wrong_reason = {name: outcomes[name].message[:500]
                    for part, names in INTENDED.values() for name in names
                    if part not in outcomes[name].message}
    assert not wrong_reason, f"intended failures that failed for another reason: {wrong_reason}"
