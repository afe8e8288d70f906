r"""A pytest plugin that puts ``pythagoras.memory.Memory`` in the place of ``joblib.Memory`` before
joblib's own test modules are imported, so that joblib's Memory tests run against it:

    python -m pytest -p tests.memory.joblib_memory_plugin --pyargs joblib.test.test_memory \
        -p no:cacheprovider -q

Only ``Memory`` is replaced: tests that build joblib's ``MemorizedFunc`` or store backends
directly still test joblib's. The failures that are intended differences are listed in
``docs/memory.md`` and checked by ``tests/memory/test_joblib_suite.py``.
"""

import joblib
import joblib.memory

from pythagoras.memory import Memory

joblib.memory.Memory = Memory  # type: ignore[misc]
joblib.Memory = Memory  # type: ignore[misc]
