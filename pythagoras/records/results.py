"""Memoized results on a store: look one up by its call address, or publish one.

A result record is a frame of kind ``R`` whose payload is the cloudpickled value. It is
created once, atomically, under the call's address; two peers that compute the same call
write records that mean the same, so the first intact record is kept and the other dropped.
"""

from __future__ import annotations

from typing import Any, Final

from ..errors import UnloadableResult, writing_to
from ..identity.address import CallAddress
from ..storage.base import Store
from .frames import MISSING, PYTHON, Pickled, dump_value, frame, read_record
from .keys import result_key

__all__ = ["MISSING", "ResultRecords"]

RESULT: Final = b"R"


class ResultRecords:
    """The results half of a store."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def lookup(self, address: CallAddress) -> Any:
        """The stored value of the call, or :data:`MISSING`; a corrupt record counts as missing.
        :class:`~pythagoras.errors.UnloadableResult` if it is stored but cannot be loaded here
        (another Python's class, a module missing here): the record stays for its readers."""
        try:
            return read_record(self.store, result_key(address), RESULT)
        except Exception as error:
            raise UnloadableResult(
                f"the result of {address} is stored, but its value cannot be loaded by Python "
                f"{PYTHON} ({type(error).__name__}: {error}); it stays stored for the peers that "
                "load it. Load it there, or return plain data (numbers, strings, containers, "
                "numpy arrays), which every Python loads") from error

    def contains(self, address: CallAddress) -> bool:
        """True if an intact result is stored (checked, not loaded)."""
        return read_record(self.store, result_key(address), RESULT, load=False) is not MISSING

    def publish(self, address: CallAddress, value: Any) -> None:
        """Store the value of the call, atomically: created where absent (on a local folder, a
        new name is one notification, where a rename is two that watchers must pair up);
        an existing record is kept if it is intact, replaced if it is corrupt. ``value`` may
        come :class:`~pythagoras.records.frames.Pickled` already. A write the store refuses
        for a permission is :class:`~pythagoras.errors.ReadOnlyLocation`."""
        record = frame(RESULT, value.data if isinstance(value, Pickled) else dump_value(value))
        with writing_to(self.store.location):  # a reader-only member: ReadOnlyLocation
            if not self.store.create(result_key(address), record) and not self.contains(address):
                self.store.write(result_key(address), record)

    def replace(self, address: CallAddress, value: Any) -> None:
        """Store the value of the call over any record there, atomically: for a record its
        reader declared expired (joblib's ``cache_validation_callback``) or could not load."""
        record = frame(RESULT, dump_value(value))
        with writing_to(self.store.location):
            self.store.write(result_key(address), record)
