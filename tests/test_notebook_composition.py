"""Pure functions that call pure functions, defined in a notebook's cells and run in a real
Jupyter kernel (nbclient, ipykernel): the functions travel to the worker by value, from cells
that have no file the worker could read."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

pytestmark = pytest.mark.timeout(300)

CELLS = [
    "from pythagoras import *\n"
    "cloud = SharedStorage_P2P_Cloud({location!r}, max_workers=1)",
    "@cloud.add_pure_function\n"
    "def square(*, x):\n"
    "    return x * x\n"
    "\n"
    "@cloud.add_pure_function\n"
    "def sum_squares(*, n):\n"
    "    return sum(square.sync_parallel(kw_args(x=i) for i in range(n)))",
    "sum_squares.sync_parallel([kw_args(n=5), kw_args(n=6)])",
    "@cloud.add_pure_function\n"
    "def inverse(*, x):\n"
    "    return 1 / x\n"
    "\n"
    "@cloud.add_pure_function\n"
    "def sum_inverses(*, n):\n"
    "    return sum(inverse(x=i) for i in range(n))",
    "try:\n"
    "    sum_inverses.sync_parallel([kw_args(n=3)])\n"
    "except ZeroDivisionError as error:\n"
    "    print(str(error.__cause__))",
    "print(all(square.is_stored(x=i) for i in range(6)), [square(x=i) for i in range(6)])",
]


def test_pure_functions_of_a_notebook_compose_in_a_kernel(tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTHAGORAS_LOCATION", str(tmp_path / "default_location"))
    location = str(tmp_path / "swarm")
    notebook = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell(CELLS[0].format(location=location)),
        *(nbformat.v4.new_code_cell(cell) for cell in CELLS[1:])])
    client = NotebookClient(notebook, timeout=180, startup_timeout=90, kernel_name="python3",
                            resources={"metadata": {"path": str(tmp_path)}})
    client.execute()
    outputs = ["".join(o["text"] if o.get("name") == "stdout" else o.get("data", {}).get("text/plain", "")
                       for o in cell.outputs) for cell in notebook.cells]  # not the progress bars
    assert outputs[2] == "[30, 55]"
    # The worker's traceback names the cell (ipykernel gives each cell a file name) and shows
    # its line, where cloudpickle alone would leave <dynamic-code>.
    assert "return 1 / x" in outputs[4] and "<dynamic-code>" not in outputs[4]
    assert "sum(inverse(x=i) for i in range(n))" in outputs[4]
    assert outputs[5] == "True [0, 1, 4, 9, 16, 25]\n"
