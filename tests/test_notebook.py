"""examples/p2p_tutorial.ipynb in Jupyter kernels, as the tutorial deploys it: "Launch this
notebook on each of the computers in the swarm, and select Kernel / Restart & Run All".

One test starts three kernels (nbclient and ipykernel) at the same time: one alone on a folder
of its own, and two together on another folder, each kernel standing for one computer of the
swarm. Every kernel must print the tutorial's outputs; the kernel alone runs the first
``sync_parallel`` cell's 10 calls itself, the pair share them (each runs some, and each reads
back the values the other computed), and the second ``sync_parallel`` cell reads every value
back, computing nothing. No figure of time is asserted (how fast the pair is belongs to a
benchmark). The kernel alone runs beside the pair rather than before it: all of them mostly
sleep, and the test takes half as long.

The notebook is not changed for the test, apart from one probe cell appended to the copy the
kernels run. What the test needs from inside the kernels comes from an IPython startup file in
an ``IPYTHONDIR`` of the test's own, which only these kernels read:

- it makes each kernel a one-worker computer (the default ``max_workers`` of
  ``SharedStorage_P2P_Cloud`` is the CPU count, which on a machine with 10 or more CPUs would run
  the 10 calls at once in a kernel alone, leaving nothing to share);
- it registers a plugin for the ``pythagoras_call_finished`` event, which appends to a log file
  each call a kernel's worker pool ran (which calls ran where, and how often) and each call a
  kernel submitted (and whether its value was stored already), without touching
  ``very_slow_function`` (whose code is its identity).

The ``!pip install pythagoras`` cell carries the tag ``skip-execution``, which nbclient skips:
the test needs no network, and ``!pip`` would be whichever pip the PATH finds.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOK = Path(__file__).resolve().parent.parent / "examples" / "p2p_tutorial.ipynb"
KERNEL = "pythagoras-notebook-test"

# The tutorial's Out[n], by its In[n] (the code cells, in order, are In [1] to In [11]).
SQUARES = ("[4000000,\n 4004001,\n 4008004,\n 4012009,\n 4016016,\n 4020025,\n 4024036,\n"
           " 4028049,\n 4032064,\n 4036081]")
TUTORIAL_OUTPUTS = {
    1: None, 2: None, 3: None, 4: None,
    5: "484",
    6: "484",
    7: "9801",
    8: "[0, 1, 4, 9, 16, 25, 36, 49, 64, 81]",
    9: "[10000, 10201, 10404, 10609, 10816, 11025, 11236, 11449, 11664, 11881]",
    10: SQUARES,
    11: SQUARES,
}

pytestmark = pytest.mark.timeout(240)  # three kernels of about 35 s each, at once

STARTUP = '''\
# Written by tests/test_notebook.py for its own kernels (IPYTHONDIR points here).
def _pythagoras_notebook_test() -> None:
    import json
    import os
    import threading

    from pythagoras import SharedStorage_P2P_Cloud, hookimpl
    from pythagoras.storage.plugins import plugin_manager

    # Each kernel stands for one computer that runs one call at a time.
    SharedStorage_P2P_Cloud.__init__.__kwdefaults__["max_workers"] = 1
    path = os.environ["PYTHAGORAS_NOTEBOOK_TEST_RUNS"]
    lock = threading.Lock()

    class Runs:
        @hookimpl
        def pythagoras_call_finished(self, event):
            line = json.dumps({"location": event.location, "peer": event.peer,
                               "pid": os.getpid(), "call": event.address, "side": event.side,
                               "cached": event.cached})
            with lock, open(path, "a") as log:
                log.write(line + "\\n")

    plugin_manager().register(Runs(), name="notebook-test-runs")


_pythagoras_notebook_test()
del _pythagoras_notebook_test
'''

# Appended to the copy the kernels run: what the kernel's cloud is, as one JSON line.
PROBE = ("import json as _json, os as _os\n"
         "print(_json.dumps({'location': my_cloud.store.location, 'cwd': _os.getcwd(),\n"
         "                   'max_workers': my_cloud.peer.max_workers, 'peer': my_cloud.peer.id}))")


def test_the_notebook_runs_in_two_kernels_at_once_and_shares_the_work(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    runs_log = tmp_path / "runs.jsonl"
    _install_kernel(tmp_path, runs_log, monkeypatch)
    elsewhere = tmp_path / "elsewhere"  # the test's own working directory: nothing goes here
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    alone_dir, shared_dir = tmp_path / "alone", tmp_path / "shared"
    runs = [_Run("alone", alone_dir), _Run("shared A", shared_dir), _Run("shared B", shared_dir)]

    asyncio.run(_run_all(runs))

    for run in runs:
        assert run.error is None, f"{run.name}: {run.error!r}"
        assert run.outputs == TUTORIAL_OUTPUTS, run.name
        # "my_project" is relative: it is the folder beside the notebook the kernel runs
        assert run.probe["cwd"] == str(run.folder)
        assert run.probe["location"] == str(run.folder / "my_project")
        assert run.probe["max_workers"] == 1
    assert list(elsewhere.iterdir()) == []
    assert not (tmp_path / "default_location").exists()
    assert (alone_dir / "my_project" / "results").is_dir()
    assert (shared_dir / "my_project" / "results").is_dir()

    # Which calls each kernel's worker ran (cells 10 and 11; the others compute in-line).
    logged = runs_log.read_text() if runs_log.exists() else ""
    events = [json.loads(line) for line in logged.splitlines()]
    executed = [e for e in events if e["side"] == "runner"]
    alone = [e for e in executed if e["location"] == runs[0].probe["location"]]
    shared = [e for e in executed if e["location"] == runs[1].probe["location"]]
    assert len(executed) == len(alone) + len(shared)
    assert len(alone) == 10 and len(Counter(e["call"] for e in alone)) == 10
    assert {e["peer"] for e in alone} == {runs[0].probe["peer"]}
    per_call = Counter(e["call"] for e in shared)
    assert len(per_call) == 10, per_call  # the 10 calls of cell 10, and nothing in cell 11
    assert sum(per_call.values()) <= 11, per_call  # each ran once, or one ran twice at most
    # The tutorial's promise, two computers share the work: each kernel ran some of the calls,
    # and each printed all 10 values, so each read back values the other computed.
    per_kernel = Counter(e["peer"] for e in shared)
    assert set(per_kernel) == {runs[1].probe["peer"], runs[2].probe["peer"]}, per_kernel

    # Cell 11 submits cell 10's calls again: every one was stored already, in every kernel.
    # (Cells 5 to 9 submit calls of their own, computed in-line: other addresses.)
    for run, ran_here in ((runs[0], alone), (runs[1], shared), (runs[2], shared)):
        calls = {e["call"] for e in ran_here}
        submitted = [e for e in events if e["side"] == "submitter"
                     and e["peer"] == run.probe["peer"] and e["call"] in calls]
        assert len(submitted) == 20, (run.name, submitted)
        cell_10, cell_11 = submitted[:10], submitted[10:]
        assert {e["call"] for e in cell_10} == {e["call"] for e in cell_11} == calls, run.name
        assert all(e["cached"] for e in cell_11), (run.name, cell_11)
        if run is runs[0]:  # and in cell 10 the kernel alone found none of them stored
            assert not any(e["cached"] for e in cell_10), cell_10


class _Run:
    """One kernel running the notebook in ``folder``: its outputs and its probe's."""

    def __init__(self, name: str, folder: Path) -> None:
        self.name = name
        self.folder = folder
        folder.mkdir(exist_ok=True)
        nb = nbformat.read(NOTEBOOK, as_version=4)
        nb.cells.append(nbformat.v4.new_code_cell(PROBE))
        nbformat.write(nb, folder / NOTEBOOK.name)
        self.nb = nbformat.read(folder / NOTEBOOK.name, as_version=4)
        self.client = NotebookClient(self.nb, timeout=120, startup_timeout=90, kernel_name=KERNEL,
                                     resources={"metadata": {"path": str(folder)}})
        self.kernel_pid: int | None = None
        self.client.on_notebook_start = self._started
        self.error: BaseException | None = None

    def _started(self, notebook: Any) -> None:
        km = self.client.km
        self.kernel_pid = getattr(km.provisioner, "pid", None) if km is not None else None

    async def run(self) -> None:
        try:
            await self.client.async_execute()
        except BaseException as e:  # noqa: BLE001 -- reported per kernel, after all have ended
            self.error = e

    @property
    def _code_cells(self) -> list[Any]:
        return [cell for cell in self.nb.cells if cell.cell_type == "code"]

    @property
    def outputs(self) -> dict[int, str | None]:
        """Each tutorial cell's ``Out``: its execute_result (progress bars on stderr aside)."""
        shown: dict[int, str | None] = {}
        for n, cell in enumerate(self._code_cells[:len(TUTORIAL_OUTPUTS)], start=1):
            results = [o for o in cell.outputs if o.output_type in ("execute_result", "error")]
            assert len(results) <= 1, (self.name, n, results)
            shown[n] = results[0].data["text/plain"] if results else None
        return shown

    @property
    def probe(self) -> dict[str, Any]:
        text = "".join(o.text for o in self._code_cells[-1].outputs if o.output_type == "stream")
        return dict(json.loads(text.strip().splitlines()[-1]))


async def _run_all(runs: list[_Run]) -> None:
    """Run every kernel at once; whatever happens, no kernel or worker process stays behind."""
    try:
        await asyncio.gather(*(run.run() for run in runs))
    finally:
        for run in runs:
            if run.kernel_pid is not None:
                _end_process_group(run.kernel_pid)


def _end_process_group(pgid: int) -> None:
    """A kernel is started in a session of its own, so its process group holds the kernel and
    the worker processes it started. Give them a few seconds to exit after the kernel's
    shutdown, then kill what is left."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return
        except PermissionError:  # the id was reused by a stranger's group
            return
        time.sleep(0.1)
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _install_kernel(tmp_path: Path, runs_log: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A kernel spec of the test's own (this interpreter, whatever other specs say) whose
    kernels read the test's IPython startup file and append to ``runs_log``."""
    ipython_dir = tmp_path / "ipython"
    startup = ipython_dir / "profile_default" / "startup"
    startup.mkdir(parents=True)
    (startup / "00-pythagoras-notebook-test.py").write_text(STARTUP)
    spec = tmp_path / "jupyter" / "kernels" / KERNEL
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "pythagoras notebook test",
        "language": "python",
        "env": {"IPYTHONDIR": str(ipython_dir), "PYTHAGORAS_NOTEBOOK_TEST_RUNS": str(runs_log)},
    }))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    # The notebook names its folder: the embedded default location must not be touched.
    monkeypatch.setenv("PYTHAGORAS_LOCATION", str(tmp_path / "default_location"))
