"""Which calls really executed, for tests to count.

Everything a pure function reads is part of its identity, so a log it appended to in memory
would change the function at every call. This log is a file named by an environment variable:
the function reads only the name of an installed module (``os``) and the file stays outside.
"""

from __future__ import annotations

import json
import os
from typing import Any

VARIABLE = "PYTHAGORAS_TEST_EXECUTION_LOG"


def record(value: Any) -> None:
    with open(os.environ[VARIABLE], "a") as log:
        log.write(json.dumps(value) + "\n")


def calls() -> list[Any]:
    try:
        with open(os.environ[VARIABLE]) as log:
            return [json.loads(line) for line in log]
    except FileNotFoundError:
        return []
