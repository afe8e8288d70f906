"""Addresses agree across processes: other PYTHONHASHSEEDs, working directories and file paths.

No golden digests are pinned (the encoding may legitimately change between versions); processes
are compared with each other and with this one instead.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import _identity_sample as sample
import child_processes

HERE = Path(__file__).resolve().parent
SEEDS = ["0", "1", "12345"]
SCRIPT = "import json, _identity_sample; print(json.dumps(_identity_sample.compute_digests()))"


def _run(seed: str, workdir: Path) -> dict[str, Any]:
    workdir.mkdir()
    # A copy of the helper module at another path, imported from the process's working directory.
    shutil.copy(HERE / "_identity_sample.py", workdir / "_identity_sample.py")
    inherited = os.environ.get("PYTHONPATH", "")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    env["PYTHONHASHSEED"] = seed
    env["PYTHONPATH"] = os.pathsep.join(p for p in [str(workdir), inherited] if p)
    done = child_processes.run(["-c", SCRIPT], cwd=workdir, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_digests_agree_across_hash_seeds_and_working_directories(tmp_path: Path) -> None:
    runs = {seed: _run(seed, tmp_path / f"run-{seed}") for seed in SEEDS}

    # The premises: each process used its own copy of the helper, and the seeds really changed
    # the iteration order of the set of strings (else the comparison below would prove little).
    for seed, out in runs.items():
        assert Path(out.pop("file")).resolve() == (tmp_path / f"run-{seed}" / "_identity_sample.py").resolve()
    orders = {tuple(out.pop("order")) for out in runs.values()}
    assert len(orders) > 1, "PYTHONHASHSEED did not change the set's iteration order"

    here = sample.compute_digests()
    here.pop("file")
    here.pop("order")
    keys = set(here)
    assert any(k.startswith("function:") for k in keys) and any(k.startswith("value:") for k in keys)
    for seed, out in runs.items():
        assert set(out) == keys
        differing = sorted(k for k in keys if out[k] != here[k])
        assert not differing, f"PYTHONHASHSEED={seed}: {differing} differ from the test process"


def test_compared_digests_are_sensitive_to_content() -> None:
    # The comparison above is only worth something if these digests are not constants.
    out = sample.compute_digests()
    digests = [v for k, v in out.items() if k.startswith(("value:", "function:"))]
    value_digests = [out[k] for k in out
                     if k.startswith("value:") and k not in ("value:array", "value:fortran")]
    assert len(set(value_digests)) == len(value_digests)
    assert out["value:array"] == out["value:fortran"]
    function_digests = {v for k, v in out.items() if k.startswith("function:")}
    assert len(function_digests) == sum(k.startswith("function:") for k in out)
    assert all(isinstance(d, str) and len(d) == 32 for d in digests)
