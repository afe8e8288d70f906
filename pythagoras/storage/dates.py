"""When an fsspec listing or ``info`` entry says its object was last written.

Backends name the field differently (S3 ``LastModified``, local ``mtime``, GCS ``updated``,
Azure ``last_modified``) and give it as a datetime, a number or an ISO string.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ..errors import StoreError

__all__ = ["modified_or_fail", "modified_time"]


def modified_time(info: dict[str, Any]) -> float | None:
    """When an fsspec ``info`` entry says its object was last written (a POSIX time), or None."""
    for field in ("LastModified", "mtime", "updated", "modified", "last_modified", "created"):
        value = info.get(field)
        if isinstance(value, datetime):
            return value.timestamp()
        if isinstance(value, (int, float)):
            return float(value)
        if isinstance(value, str):
            try:
                return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
            except ValueError:
                continue
    return None


def modified_or_fail(info: dict[str, Any]) -> float:
    """:func:`modified_time`, or a :class:`StoreError` where the backend gives none."""
    found = modified_time(info)
    if found is None:
        raise StoreError(f"the fsspec backend gives no modification time in {sorted(info)}; "
                         "pythagoras needs one to date leases")
    return found
