"""Which memoized calls ``Memory.reduce_size`` deletes to bring a store within its limits.

As joblib does, the oldest go first until every limit holds. joblib weighs a record's last
access (atime); pythagoras weighs its age since it was written (``Store.age``), since a hit
writes nothing: recording accesses would cost every hit a write.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable

from .shelf import StoredCall

__all__ = ["bytes_of", "calls_to_delete"]

_UNITS = {"K": 1024, "M": 1024**2, "G": 1024**3}


def bytes_of(limit: int | str) -> int:
    """A byte count given as joblib takes it: an int, or a str such as ``"500M"`` (K, M, G: 1024-based)."""
    if isinstance(limit, int):
        return limit
    text = limit.strip().upper()
    try:
        return int(float(text[:-1]) * _UNITS[text[-1]]) if text[-1:] in _UNITS else int(text)
    except (ValueError, KeyError, IndexError):
        raise ValueError(
            f"bytes_limit={limit!r} is not a size; give a number of bytes or a str such as "
            "'10G', '500M' or '50K'"
        ) from None


def calls_to_delete(
    calls: Iterable[StoredCall],
    *,
    bytes_limit: int | str | None = None,
    items_limit: int | None = None,
    age_limit: datetime.timedelta | None = None,
) -> list[StoredCall]:
    """The calls to delete, oldest first, so that the rest fit every limit given."""
    if age_limit is not None and age_limit.total_seconds() < 0:
        raise ValueError(f"age_limit has to be a positive timedelta, not {age_limit}")
    stored = sorted(calls, key=lambda call: call.age, reverse=True)
    excess_bytes = sum(call.size for call in stored) - bytes_of(bytes_limit) if bytes_limit is not None else 0
    excess_items = len(stored) - items_limit if items_limit is not None else 0
    max_age = age_limit.total_seconds() if age_limit is not None else float("inf")
    chosen: list[StoredCall] = []
    freed = 0
    for call in stored:
        if freed >= excess_bytes and len(chosen) >= excess_items and call.age < max_age:
            break
        chosen.append(call)
        freed += call.size
    return chosen
