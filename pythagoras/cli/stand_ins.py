"""Reading a record that this process may not be able to unpickle whole.

``pythagoras status`` and ``clear`` read peer, claim, request, failure and function records as
every peer does, but a class this process cannot import (an exception of a module that is not
installed here) is replaced by a stand-in, so that its type name and message still show.
"""

from __future__ import annotations

import types
from collections.abc import Callable
from typing import Any

from ..errors import CorruptRecord
from ..records.frames import Unpickler, load_value, unframe
from ..storage.base import Store

__all__ = ["load_record"]


def load_record(store: Store, key: str, kind: bytes) -> Any:
    """The record's value; None where it is absent, corrupt or cannot be unpickled even with
    stand-ins for the classes this process cannot import."""
    data = store.read(key)
    if data is None:
        return None
    try:
        payload = unframe(data, kind)
    except CorruptRecord:
        return None
    try:
        return load_value(payload)
    except Exception:
        pass
    try:
        return _load_with_stand_ins(payload)
    except Exception:
        return None


class _StandIn:
    """An instance of a class that this process cannot import."""

    def __new__(cls, *args: Any, **kwargs: Any) -> _StandIn:
        return object.__new__(cls)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.args = args

    def __setstate__(self, state: Any) -> None:
        if isinstance(state, tuple) and len(state) == 2:  # (dict, slots)
            state = {**(state[0] or {}), **(state[1] or {})}
        if isinstance(state, dict):
            self.__dict__.update(state)

    def __call__(self, *args: Any, **kwargs: Any) -> _StandIn:
        return self


def _tolerant_import(importer: Callable[..., Any]) -> Callable[..., Any]:
    """cloudpickle's import of a module a function refers to, giving an empty module where
    the module is not installed here."""
    def load(name: str, *args: Any) -> Any:
        try:
            return importer(name, *args)
        except ImportError:
            return types.ModuleType(name)
    return load


class _TolerantUnpickler(Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        try:
            found = super().find_class(module, name)
        except (ImportError, AttributeError):
            return type(name.rpartition(".")[2], (_StandIn,),
                        {"__module__": module, "__qualname__": name})
        if module.startswith("cloudpickle") and name in ("subimport", "dynamic_subimport"):
            return _tolerant_import(found)
        return found


def _load_with_stand_ins(payload: memoryview) -> Any:
    """:func:`pythagoras.records.frames.load_value`, with stand-ins for missing classes and modules."""
    return load_value(payload, unpickler=_TolerantUnpickler)
