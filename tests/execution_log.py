"""Which calls really executed, for tests to count.

Pure functions under test record their executions here, through this module, because a module
enters a function's identity by its name only: a list in a closure or a global would itself be
part of the identity, and appending to it would make every call a new one.
"""

from __future__ import annotations

from typing import Any

calls: list[Any] = []


def record(value: Any) -> None:
    calls.append(value)
