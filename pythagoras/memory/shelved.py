"""A reference to a memoized call's value: what ``call_and_shelve`` returns instead of the value.

It is small and picklable, so it can be sent to another process, which loads the value from
the store only when it calls :meth:`MemorizedResult.get`.
"""

from __future__ import annotations

from typing import Any

from ..identity.address import CallAddress
from ..records.frames import MISSING
from ..storage.base import Store
from .shelf import Shelf

__all__ = ["MemorizedResult", "NotMemorizedResult"]


class MemorizedResult:
    """A stored call's value, loaded on :meth:`get`; joblib's ``MemorizedResult``."""

    def __init__(self, shelf: Shelf, address: CallAddress, *, mmap_mode: str | None = None,
                 verbose: int = 0, timestamp: float | None = None,
                 metadata: dict[str, Any] | None = None) -> None:
        self._shelf = shelf
        self._address = address
        self.mmap_mode = mmap_mode  # accepted as joblib does; loading is zero-copy already
        self.verbose = verbose
        self.timestamp = timestamp
        self.metadata = metadata if metadata is not None else (shelf.metadata(address) or {})
        self.duration: float | None = self.metadata.get("duration")

    @property
    def store_backend(self) -> Store:
        """The store the value lives in."""
        return self._shelf.store

    @property
    def func(self) -> str:
        """The identity of the function (joblib's ``func`` is its function's id, too)."""
        return self._address.function

    @property
    def func_id(self) -> str:
        return self._address.function

    @property
    def args_id(self) -> str:
        return self._address.arguments

    def get(self) -> Any:
        """The stored value; ``KeyError`` if it was cleared or its record is corrupt."""
        value = self._shelf.lookup(self._address)
        if value is MISSING:
            raise KeyError(
                f"no intact value is stored for the call {self._address} in "
                f"{self._shelf.store.location!r}: it was cleared or is corrupted; call the function again"
            )
        return value

    def clear(self) -> None:
        """Delete the stored value (for every front-end on the store: it is one record)."""
        self._shelf.forget(self._address)

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(location="{self._shelf.store.location}", '
                f'func="{self.func_id}", args_id="{self.args_id}")')

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["timestamp"] = None  # as joblib: a pickled reference does not depend on when it was made
        return state


class NotMemorizedResult:
    """A value kept in memory, where nothing is stored (``Memory(location=None)``); joblib's class."""

    __slots__ = ("value", "valid")

    def __init__(self, value: Any) -> None:
        self.value = value
        self.valid = True

    def get(self) -> Any:
        if not self.valid:
            raise KeyError("no value is kept: it was cleared")
        return self.value

    def clear(self) -> None:
        self.valid = False
        self.value = None

    def __repr__(self) -> str:
        name = type(self).__name__
        return f"{name}({self.value!r})" if self.valid else f"{name} with no value"

    def __getstate__(self) -> dict[str, Any]:
        return {"valid": self.valid, "value": self.value}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.valid = state["valid"]
        self.value = state["value"]
