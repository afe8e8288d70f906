"""``import pythagoras`` is cheap: it loads the modules it must and imports the rest of the
package on first use, and what it does at once still works in a fresh interpreter.

Checked by what a fresh interpreter holds in ``sys.modules``, never by a time. What it must load:
the package's root, the joblib backend's registration (which needs joblib itself: joblib keeps
its backends in a dict of ``joblib.parallel``), and ``records.portable``, which it hands the way
to make a pure function found in a function rebuilt from source.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import child_processes

#: The modules of pythagoras that ``import pythagoras`` may load.
ALLOWED = {"pythagoras", "pythagoras.joblib_backend", "pythagoras.records",
           "pythagoras.records.portable"}

#: Dependencies that only the layers above need: storage (fsspec, pluggy, platformdirs),
#: identity (xxhash), the swarm (watchdog, tqdm). joblib, and what joblib imports itself
#: (loky, cloudpickle, numpy where installed), the registration needs.
NOT_LOADED = {"fsspec", "pluggy", "platformdirs", "xxhash", "watchdog", "tqdm"}

MODULES = "import json, sys; print(json.dumps(sorted(sys.modules)))"

OLD_RECORDS = child_processes.HERE / "records" / "old_records"


def modules_after(code: str) -> set[str]:
    """The modules a fresh interpreter holds after running ``code``."""
    done = child_processes.run(["-c", f"{code}\n{MODULES}"], timeout=120)
    assert done.returncode == 0, done.stderr
    return set(json.loads(done.stdout.splitlines()[-1]))


def top_level(modules: set[str]) -> set[str]:
    return {m.split(".")[0] for m in modules}


def test_import_pythagoras_loads_only_what_it_must() -> None:
    loaded = modules_after("import pythagoras")
    ours = {m for m in loaded if m.split(".")[0] == "pythagoras"}
    assert ours <= ALLOWED, f"import pythagoras loads {sorted(ours - ALLOWED)}"
    assert not top_level(loaded) & NOT_LOADED, sorted(top_level(loaded) & NOT_LOADED)
    # Beyond joblib's own import, nothing but the package and the standard library.
    beyond = top_level(loaded - modules_after("import joblib")) - {"pythagoras"}
    assert beyond <= set(sys.stdlib_module_names), sorted(beyond - set(sys.stdlib_module_names))


def test_the_public_names_import_on_first_use() -> None:
    code = ("import pythagoras\n"
            "assert 'pythagoras.tutorial.cloud' not in sys.modules\n"
            "assert set(pythagoras.__all__) <= set(dir(pythagoras))\n"
            "from pythagoras import *\n"
            "print(SharedStorage_P2P_Cloud, kw_args, PythagorasExecutor, Memory, PurityError)")
    loaded = modules_after(f"import sys\n{code}")
    assert {"pythagoras.tutorial.cloud", "pythagoras.executor", "pythagoras.memory"} <= loaded


def test_every_public_name_and_subpackage_resolves() -> None:
    import pythagoras
    from pythagoras.errors import PurityError
    from pythagoras.storage.hookspecs import hookimpl

    assert pythagoras.PurityError is PurityError and pythagoras.hookimpl is hookimpl
    for name in pythagoras.__all__:
        assert getattr(pythagoras, name) is not None, name
    assert pythagoras.swarm.__name__ == "pythagoras.swarm"
    assert pythagoras.__all__ == sorted(pythagoras.__all__)


def test_the_joblib_backend_works_after_import_pythagoras_alone(tmp_path: Path) -> None:
    code = f"""
import sys
import pythagoras
from joblib import Parallel, delayed, parallel_config
from joblib.parallel import BACKENDS
assert "pythagoras.swarm" not in sys.modules and "pythagoras.executor" not in sys.modules
with parallel_config(backend="pythagoras", location={str(tmp_path)!r}, max_workers=1):
    assert Parallel(n_jobs=2)(delayed(abs)(-i) for i in range(4)) == [0, 1, 2, 3]
from pythagoras.joblib_backend import PythagorasBackend, shutdown_executors
assert BACKENDS["pythagoras"] is PythagorasBackend  # the class replaced the factory
shutdown_executors()
"""
    loaded = modules_after(code)
    assert "pythagoras.joblib_backend.backend" in loaded


def test_a_rebuilt_function_gets_its_pure_function_after_import_pythagoras_alone() -> None:
    # "outer" holds the pure function "inner" (make_old_records.py). Its record is loaded as a
    # peer of another Python version loads it: rebuilt from its source, where the pure function
    # is made anew by the tutorial's reopen, which nothing has imported yet.
    record = OLD_RECORDS / "functions" / "fa38321778760ae5242a21d4d566f8f6"
    code = f"""
import sys
import pythagoras
from pythagoras.records.frames import load_value, unframe
from pythagoras.records.functions import load_function_record
with open({str(record)!r}, "rb") as f:
    form, python, name, payload, source = load_value(unframe(f.read(), b"F"))
assert source is not None and "pythagoras.tutorial.cloud" not in sys.modules
outer, _ = load_function_record((form, "3.0", name, payload, source))  # another Python's
assert type(outer.__globals__["inner"]).__name__ == "PureFunction"
"""
    loaded = modules_after(code)
    assert "pythagoras.tutorial.cloud" in loaded
