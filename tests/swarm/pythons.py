"""The other Python interpreters the cross-version tests start peers of.

They are named by ``$PYTHAGORAS_TEST_PYTHONS`` (comma-separated executables, each with
pythagoras installed; ``.ci/run`` makes them). Without it the tests are skipped on a
developer's machine and fail in CI.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

DIRECTIONS = ["theirs on our worker", "ours on their worker"]


def other_pythons() -> list[str]:
    """The interpreters named, less those of this one's version (CI names the same list to
    every run)."""
    mine = "{}.{}".format(*sys.version_info[:2])
    named = [p for p in os.environ.get("PYTHAGORAS_TEST_PYTHONS", "").split(",")
             if p.strip() and version(p) != mine]
    if not named:
        if os.environ.get("CI"):
            pytest.fail("$PYTHAGORAS_TEST_PYTHONS names no other Python: .ci/run must make them")
        pytest.skip("$PYTHAGORAS_TEST_PYTHONS names no other Python with pythagoras installed")
    return named


def version(python: str) -> str:
    """The minor version of the interpreter ``python``: ``"3.13"``."""
    done = subprocess.run([python, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def pair(direction: str) -> tuple[str, str]:
    """(the client's Python, the worker's Python) for one of ``DIRECTIONS``, with the first
    other Python named."""
    other = other_pythons()[0]
    return (other, sys.executable) if direction == "theirs on our worker" else (sys.executable, other)
