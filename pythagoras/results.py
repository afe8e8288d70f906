"""Memoized results on a store: look one up by its call address, or publish one.

A result record is a frame of kind ``R`` whose payload is the cloudpickled value. It is
written once, atomically, under the call's address; two peers that compute the same call
write records that mean the same, so the last rename winning is harmless.
"""

from __future__ import annotations

from typing import Any, Final

from .errors import CorruptRecord
from .identity.address import CallAddress
from .records import dump_value, frame, load_value, report_corrupt, unframe
from .storage.base import Store

__all__ = ["MISSING", "ResultCache"]

RESULT: Final = b"R"


class _Missing:
    __slots__ = ()

    def __repr__(self) -> str:
        return "MISSING"


#: What :meth:`ResultCache.lookup` returns when no intact result is stored.
MISSING: Final = _Missing()


class ResultCache:
    """The results half of a store."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def lookup(self, address: CallAddress) -> Any:
        """The stored value of the call, or :data:`MISSING`; a corrupt record counts as missing."""
        key = address.result_key
        data = self.store.read(key)
        if data is None:
            return MISSING
        try:
            return load_value(unframe(data, RESULT))
        except CorruptRecord as e:
            report_corrupt(f"{self.store.location}/{key}", e)
            return MISSING

    def contains(self, address: CallAddress) -> bool:
        """True if an intact result is stored (checked, not loaded)."""
        key = address.result_key
        data = self.store.read(key)
        if data is None:
            return False
        try:
            unframe(data, RESULT)
        except CorruptRecord as e:
            report_corrupt(f"{self.store.location}/{key}", e)
            return False
        return True

    def publish(self, address: CallAddress, value: Any) -> None:
        """Store the value of the call, atomically."""
        self.store.write(address.result_key, frame(RESULT, dump_value(value)))
