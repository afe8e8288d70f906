"""Reading a record without running code from it: what ``pythagoras status`` and ``clear`` load.

Unpickling runs whatever callable the pickle names: a peer record written as
``os.system("...")``'s reduce runs that command in the process that loads it. Every name a
pickle refers to (``GLOBAL``, ``STACK_GLOBAL``, ``INST``, ``OBJ``, the extension registry)
passes through ``Unpickler.find_class``, and :class:`RecordUnpickler`'s answers only from an
allow-list, importing nothing:

- builtins' exception classes and the data types without an opcode of their own (``complex``,
  ``set``, ``frozenset``, ``slice``; not ``range``, whose set would be as large as it says);
- :class:`~pythagoras.identity.address.CallAddress` and the exceptions of
  :mod:`pythagoras.errors`;
- the classes the caller names (the swarm's records, which this layer cannot import), by
  the module and name a record gives them, old names (``MOVED_MODULES``) included.

Any other name either makes the record unreadable (:class:`RefusedRecord`: a claim or a
peer record holds nothing else), or, with ``stand_ins``, is replaced by an inert stand-in
class of that name, which keeps the arguments and state it is given and does nothing else:
a request's arguments and a failure's exception are the user's classes, and only their
addresses, type names and messages are read. A value that holds code by value
(``load_code_of``) is read the same way inside, whatever Python wrote it: its code is never run.
"""

from __future__ import annotations

import builtins
import io
import pickle
from collections.abc import Mapping
from typing import Any, Final

from .. import errors
from ..identity.address import CallAddress
from .frames import MOVED_MODULES, MOVED_NAMES, load_value

__all__ = ["RecordUnpickler", "RefusedRecord", "StandIn", "load_untrusted"]

#: Builtin data types that pickle names as globals (the others have opcodes of their own).
#: Not ``range``: no record holds one, and ``set(range(2**62))`` is a 60-byte pickle.
_DATA: Final = frozenset({"complex", "set", "frozenset", "slice"})
_CODE_OF: Final = ("pythagoras.records.frames", "load_code_of")
#: Where tblib's pickling support (which dask's ``distributed`` installs in every process that
#: imports it) sends an exception: the exception is rebuilt here from its allowed class alone.
_TBLIB: Final = "tblib.pickling_support"


class RefusedRecord(pickle.UnpicklingError):
    """A record names a callable or class that no record of its kind holds."""


def _always_allowed() -> dict[tuple[str, str], Any]:
    allowed: dict[tuple[str, str], Any] = {
        ("builtins", name): value for name, value in vars(builtins).items()
        if isinstance(value, type) and (issubclass(value, BaseException) or name in _DATA)}
    allowed |= {(errors.__name__, name): value for name, value in vars(errors).items()
                if isinstance(value, type) and issubclass(value, BaseException)
                and value.__module__ == errors.__name__}
    allowed[(CallAddress.__module__, CallAddress.__qualname__)] = CallAddress
    return allowed


_ALWAYS: Final = _always_allowed()


class StandIn:
    """An instance of a class that a record names and that is not loaded: it keeps the
    arguments and state it is given, and does nothing else."""

    def __new__(cls, *args: Any, **kwargs: Any) -> StandIn:
        return object.__new__(cls)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.args = args

    def __setstate__(self, state: Any) -> None:
        if isinstance(state, tuple) and len(state) == 2:  # (dict, slots)
            state = {**(state[0] or {}), **(state[1] or {})}
        if isinstance(state, dict):
            self.__dict__.update({k: v for k, v in state.items() if isinstance(k, str)})

    def __call__(self, *args: Any, **kwargs: Any) -> StandIn:
        return self


def _stand_in(module: str, name: str) -> type[StandIn]:
    return type(name.rpartition(".")[2] or "StandIn", (StandIn,),
                {"__module__": module, "__qualname__": name})


class RecordUnpickler(pickle.Unpickler):
    """pickle's, finding only allowed names (see the module's docstring); made for one
    allow-list by :meth:`allowing`."""

    allowed: Mapping[tuple[str, str], Any] = _ALWAYS
    stand_ins = False

    @classmethod
    def allowing(cls, classes: Mapping[tuple[str, str], Any], *,
                 stand_ins: bool) -> type[RecordUnpickler]:
        """The unpickler that also finds ``classes`` (by the module and name records give
        them) and, with ``stand_ins``, replaces other names by stand-ins."""
        return type("RecordUnpickler", (cls,), {"allowed": {**_ALWAYS, **classes},
                                                "stand_ins": stand_ins})

    def find_class(self, module: str, name: str) -> Any:
        module, name = MOVED_NAMES.get((module, name), (module, name))
        module = MOVED_MODULES.get(module, module)
        found = self.allowed.get((module, name))
        if found is not None:
            return found
        if (module, name) == _CODE_OF:
            return self._code_of
        if module == _TBLIB and name in _TBLIB_LOADERS:
            return _TBLIB_LOADERS[name]
        if not self.stand_ins:
            raise RefusedRecord(f"it names {module}.{name}")
        return _stand_in(module, name)

    def _code_of(self, python: Any, stream: Any) -> Any:
        """A value that holds code by value, read as its outer record is."""
        if not isinstance(stream, bytes | bytearray):
            raise RefusedRecord("a value of code holds no stream")
        return type(self)(io.BytesIO(stream)).load()


def _tblib_exception(func: Any, args: Any, *rest: Any) -> Any:
    """tblib's ``unpickle_exception``: the exception, from a class the unpickler allowed (its
    cause, context and traceback are dropped)."""
    return func(*args)


def _tblib_exception_with_attrs(func: Any, attrs: Any, *rest: Any) -> Any:
    """tblib's ``unpickle_exception_with_attrs``: as :func:`_tblib_exception`, its attributes
    set (an exception's, or a stand-in's: data only)."""
    args = rest[5] if len(rest) > 5 and isinstance(rest[5], tuple) else ()
    inst = func.__new__(func, *args)
    if isinstance(attrs, dict):
        for key, value in attrs.items():
            if isinstance(key, str) and not key.startswith("__"):
                setattr(inst, key, value)
    return inst


_TBLIB_LOADERS: Final = {"unpickle_exception": _tblib_exception,
                         "unpickle_exception_with_attrs": _tblib_exception_with_attrs,
                         "unpickle_traceback": lambda *args: None}


def load_untrusted(payload: bytes | bytearray | memoryview,
                   unpickler: type[RecordUnpickler]) -> Any:
    """The value of a record's payload, read by ``unpickler``; :class:`RefusedRecord` if it
    names what ``unpickler`` does not allow."""
    return load_value(payload, unpickler=unpickler)
