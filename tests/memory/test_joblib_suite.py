"""joblib's own Memory tests, run against pythagoras.Memory (``joblib_memory_plugin``): every test
passes except the intended differences below, each listed in ``docs/memory.md`` with its reason,
and each failing for that reason (its failure's message matches the reason's pattern).

A new failure, an intended difference that fails for another reason, or one that starts to pass
fails this test: the list and the documentation then have to be brought up to date.

joblib's tests are found beside the joblib this interpreter imports (``joblib/test/``), wherever
it is installed; an installation without them (some distributions strip them) skips the test.
"""

from __future__ import annotations

import os
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import child_processes
import joblib
import pytest

ROOT = Path(__file__).resolve().parents[2]
JOBLIB_TESTS = Path(joblib.__file__).resolve().parent / "test" / "test_memory.py"
COMMAND = ["-m", "pytest", "-p", "tests.memory.joblib_memory_plugin", str(JOBLIB_TESTS),
           "-p", "no:cacheprovider", "-q"]

pytestmark = pytest.mark.timeout(900)

#: The tests of joblib.test.test_memory that fail by design, by reason (docs/memory.md): the
#: pattern each one's failure message must match, and the tests.
INTENDED: dict[str, tuple[str, list[str]]] = {
    "a function that appends to a list it reads is a new function at each call": (
        r"where 2 = len\(\[1, 1\]\)", [  # it ran again: joblib expects one run
            "test_memory_integration",
            "test_memory_kwarg",
            "test_memory_lambda",
            "test_memory_partial",
            "test_memory_numpy[None]",
            "test_memory_numpy[r]",
            "test_memory_ignore",
            "test_memory_ignore_decorated",
        ]),
    "no name collisions, so no JobLibCollisionWarning": (
        r"DID NOT WARN\. No warnings of type \(<class 'joblib\.memory\.JobLibCollisionWarning'>", [
            "test_memory_name_collision",
            "test_memory_warning_lambda_collisions",
            "test_memory_warning_collision_detection",
            "test_memory_in_memory_function_code_change",
        ]),
    "joblib's folder layout and private methods": (
        r"object has no attribute '_?(get_args_id|call_id|get_items_to_delete|get_items)'"
        r"|No such file or directory: '[^']*/joblib'|test_memory/f' == '", [
            "test_parallel_call_cached_function_defined_in_jupyter[True]",
            "test_parallel_call_cached_function_defined_in_jupyter[False]",
            "test_func_dir",
            "test_persistence",
            "test_call_and_shelve_lazily_load_stored_result",
            "test__get_items",
            "test__get_items_to_delete",
            "test_memory_reduce_size_bytes_limit",
            "test_memory_reduce_size_items_limit",
            "test_memory_reduce_size_age_limit",
            "test_memory_clear",
            "test_memory_recomputes_after_an_error_while_loading_results",
            "test_memorized_result_forwards_mmap_mode",
        ]),
    "no memory maps: loading is zero-copy already": (
        r"where <class 'numpy\.memmap'> = np\.memmap", ["test_memory_numpy_check_mmap_mode"]),
    "pythagoras's own result classes": (
        r"where False = isinstance\(MemorizedResult\(location=", ["test_call_and_shelve"]),
    "a call that does not fit the signature raises TypeError, as the function would": (
        r"PurityError: func_with_kwonly_args\(\) cannot be called so: too many positional",
        ["test_memory_func_with_kwonly_args"]),
    "a local folder refuses options it does not know": (
        r"StoreError: a local folder takes no storage_options",
        ["test_memory_pickle_dump_load[memory_kwargs1]"]),
    "the .gitignore says pythagoras wrote it": (
        r"\+ # Created by pythagoras automatically",
        ["TestAutoGitignore::test_memory_creates_gitignore"]),
}


def _outcomes(report: Path) -> dict[str, str | None]:
    """Each test that ran, by name: None if it passed, else its failure's message."""
    outcomes: dict[str, str | None] = {}
    for case in ET.parse(report).getroot().iter("testcase"):
        if case.find("skipped") is not None:
            continue
        # classname: <the module's path, dotted>[.<test class>]. The path is relative to the
        # rootdir: it is empty where joblib is installed outside it (a venv in /tmp), so the class
        # is told by its name (pytest's "Test*"), not by what follows "joblib.test.test_memory".
        last = case.get("classname", "").rpartition(".")[2]
        test_class = last if last.startswith("Test") else ""
        name = f"{test_class}::{case.get('name')}" if test_class else str(case.get("name"))
        failure = case.find("failure")
        if failure is None:
            failure = case.find("error")
        outcomes[name] = None if failure is None else failure.get("message", "")
    return outcomes


def test_every_intended_failure_has_one_reason_whose_pattern_compiles() -> None:
    names = [name for _, tests in INTENDED.values() for name in tests]
    assert len(names) == len(set(names))
    for pattern, _ in INTENDED.values():
        re.compile(pattern)


def test_joblib_memory_suite_fails_only_where_intended(tmp_path: Path) -> None:
    if not JOBLIB_TESTS.is_file():
        pytest.skip(f"joblib {joblib.__version__} is installed without its tests ({JOBLIB_TESTS})")
    report = tmp_path / "report.xml"
    options = [f"--junitxml={report}", f"--basetemp={tmp_path / 'run'}"]
    done = child_processes.run([*COMMAND, *options], cwd=ROOT, env=dict(os.environ), timeout=600)
    assert report.exists(), done.stdout + done.stderr
    outcomes = _outcomes(report)
    assert len(outcomes) > 60, done.stdout[-2000:]  # the suite ran, not an import error
    failed = {name: message for name, message in outcomes.items() if message is not None}
    reasons = {name: (reason, pattern) for reason, (pattern, tests) in INTENDED.items()
               for name in tests}
    assert set(failed) == set(reasons), (
        f"unexpected failures: {sorted(set(failed) - set(reasons))}; "
        f"intended failures that pass: {sorted(set(reasons) - set(failed))}"
        f"\n{done.stdout[-4000:]}"
    )
    otherwise = {name: f"expected: {reasons[name][0]} ({reasons[name][1]}); got: {message}"
                 for name, message in failed.items() if not re.search(reasons[name][1], message)}
    assert not otherwise, "intended failures that failed for another reason:\n" + "\n".join(
        f"{name}: {why}" for name, why in sorted(otherwise.items()))
