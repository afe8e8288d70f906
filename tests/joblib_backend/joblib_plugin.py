"""A pytest plugin that registers the "pythagoras" joblib backend before joblib's own test
modules are imported, so that the tests they parametrize over every backend include it.

    python -m pytest -p tests.joblib_backend.joblib_plugin --pyargs joblib.test.test_parallel -k pythagoras

The swarm lives in a fresh temporary folder for the run, unless $PYTHAGORAS_LOCATION is set.
"""

import os
import tempfile

os.environ.setdefault("PYTHAGORAS_LOCATION", tempfile.mkdtemp(prefix="pythagoras-joblib-suite-"))

import pythagoras  # noqa: E402,F401 -- registers the backend
