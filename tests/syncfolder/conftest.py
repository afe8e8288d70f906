"""Make ``tests/execution_log.py`` importable when only this folder is collected.

pytest puts a test's own folder on ``sys.path`` (there is no ``tests/__init__.py``); the suite's
shared helper lives one level up.
"""

import sys
from pathlib import Path

_TESTS = str(Path(__file__).resolve().parents[1])
if _TESTS not in sys.path:
    sys.path.append(_TESTS)
