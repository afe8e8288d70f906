"""The distribution's name: ``pythagoras`` on the public index is another project, so this one is
published as ``pythagoras-swarm`` (the import name stays ``pythagoras``), and the tutorial
notebook's install cell installs this checkout, never ``pythagoras`` from the index.

The install cell is handed to pip as the notebook would run it (``%pip`` is pip in the kernel's
interpreter, in the notebook's folder), with ``--dry-run``: pip builds the metadata of what the
cell installs and reports its name, installing nothing."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK = ROOT / "examples" / "p2p_tutorial.ipynb"
NAME = "pythagoras-swarm"

pytestmark = pytest.mark.timeout(300)


def install_line() -> str:
    """The ``%pip`` line of the notebook's first code cell."""
    cells = json.loads(NOTEBOOK.read_text())["cells"]
    first = next(cell for cell in cells if cell["cell_type"] == "code")
    assert "skip-execution" in first["metadata"].get("tags", [])  # the notebook test skips it
    lines = [line for line in "".join(first["source"]).splitlines() if line.startswith("%pip")]
    assert len(lines) == 1, first["source"]
    return lines[0]


def test_the_project_states_its_distribution_name() -> None:
    project = (ROOT / "pyproject.toml").read_text().partition("[project]")[2]
    assert re.search(r'^name = "(.+)"$', project, re.M)[1] == NAME  # type: ignore[index]
    assert f"`{NAME}`" in (ROOT / "README.md").read_text()


def test_the_notebooks_install_cell_installs_this_checkout(tmp_path: Path) -> None:
    args = shlex.split(install_line())[2:]  # after "%pip install"
    report = tmp_path / "report.json"
    done = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--dry-run", "--no-deps", "--quiet",
         "--report", str(report), *args],
        cwd=NOTEBOOK.parent, capture_output=True, text=True, timeout=240, check=False)
    assert done.returncode == 0, done.stderr
    installed = json.loads(report.read_text())["install"]
    assert [item["metadata"]["name"] for item in installed] == [NAME]
    assert installed[0]["download_info"]["url"] == ROOT.as_uri()
