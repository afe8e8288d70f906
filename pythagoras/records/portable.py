"""A script's function as source, for a peer of another Python version.

cloudpickle sends a function of a script or a notebook (one it cannot import by name) by value,
as bytecode, which only an interpreter of the same minor version runs correctly: a 3.11 worker
given a 3.13 function computed wrong values or crashed. So a function record also carries the
function as *source* where it can: the text of its ``def`` (and of every function and class of
its module that it reaches), and the values of the globals they read. A peer of another version
rebuilds the function from that, in a namespace of its own; a peer of the same version loads
the bytecode as before.

What travels as source: functions and classes defined at the top level of one module (the
script, or a module the peer cannot import), reaching each other in any order (recursion,
mutual recursion), pure functions among them, and globals that are modules or plain data
(numbers, strings, containers, numpy arrays, objects of importable classes). What does not (the
record then says so, and a peer of another version leaves the call to peers of the version that
made it): lambdas and functions without source, closures, and data that holds objects of the
script's own classes.

The form is plain data, pickled with ``pickle`` (never code): a peer of any version reads it.
"""

from __future__ import annotations

import ast
import builtins
import importlib
import inspect
import io
import pickle
import sys
import textwrap
import types
from collections.abc import Callable
from typing import Any, Final

__all__ = ["PYTHON", "rebuild", "reopen_pure_functions_with", "source_form"]

#: The minor version that runs here, as ``3.11``: whose bytecode a function record holds, and
#: the only one that loads a value holding code by value.
PYTHON: Final = f"{sys.version_info.major}.{sys.version_info.minor}"

_MAX_DEFINITIONS: Final = 200


class _NotPortable(Exception):
    """The function cannot travel as source; the reason is the message."""


def source_form(func: Any) -> bytes | None:
    """``func`` as source (pickled plain data), or None where it cannot travel as source."""
    try:
        return pickle.dumps(_Collector(func).form(), protocol=4)
    except _NotPortable:
        return None
    except Exception:  # anything unforeseen: the call stays with peers of this version
        return None


def rebuild(data: bytes) -> Any:
    """The function :func:`source_form` describes, defined anew in this interpreter."""
    module, target, values, definitions, pure = pickle.loads(data)
    namespace: dict[str, Any] = {"__name__": module, "__builtins__": builtins}
    for name, (kind, value) in values.items():
        namespace[name] = importlib.import_module(value) if kind == "module" else pickle.loads(value)
    for filename, first, text in definitions:
        code = compile(ast.increment_lineno(ast.parse(text), first - 1), filename, "exec")
        exec(code, namespace)  # noqa: S102 -- the user's own function, as the bytecode would run it
    found = namespace[target]
    if pure:
        if _reopen is None:
            raise RuntimeError("pure functions cannot be reopened before pythagoras.tutorial "
                               "is imported; import pythagoras")
        for name, (defined, location, version, identity) in pure.items():
            namespace[name] = _reopen(namespace[defined], location, version, bytes.fromhex(identity))
    return found


#: Makes a pure function's copy where it arrives, as its pickle does: set by the tutorial's
#: cloud module (:func:`pythagoras.tutorial.cloud.reopen`), the layer that knows what a pure
#: function is, on its import (``import pythagoras`` imports it). This one only writes down
#: a pure function's parts and hands them back.
_reopen: Callable[..., Any] | None = None


def reopen_pure_functions_with(reopen: Callable[..., Any]) -> None:
    """Make the pure functions of functions rebuilt from source with ``reopen(func, location,
    version, identity)``."""
    global _reopen
    _reopen = reopen


class _Collector:
    """Walks what a function reaches in its module and writes it down as plain data."""

    def __init__(self, func: Any) -> None:
        if not isinstance(func, types.FunctionType):
            raise _NotPortable(f"{func!r} is not a function")
        self.func = func
        self.module = func.__module__
        self.globals = func.__globals__
        self.values: dict[str, tuple[str, Any]] = {}
        self.definitions: dict[str, tuple[str, int, str]] = {}
        self.pure: dict[str, tuple[str, str, str | None, str]] = {}

    def form(self) -> tuple[Any, ...]:
        self._define(self.func.__name__, self.func)
        ordered = sorted(self.definitions.values(), key=lambda d: (d[0], d[1]))
        return self.module, self.func.__name__, self.values, ordered, self.pure

    def _define(self, name: str, obj: Any) -> None:
        if name in self.definitions:
            return
        if len(self.definitions) >= _MAX_DEFINITIONS:
            raise _NotPortable("it reaches too many definitions")
        if getattr(obj, "__qualname__", name) != name or obj.__name__ == "<lambda>":
            raise _NotPortable(f"{name} is not defined at the top level of its module")
        if isinstance(obj, types.FunctionType) and obj.__closure__:
            raise _NotPortable(f"{name} is a closure")
        try:
            lines, first = inspect.getsourcelines(obj)
            filename = inspect.getsourcefile(obj) or "<unknown>"
        except (OSError, TypeError) as e:
            raise _NotPortable(f"the source of {name} cannot be read") from e
        text, first = _without_decorators(textwrap.dedent("".join(lines)), first)
        self.definitions[name] = (filename, first, text)
        for read in sorted(_names_read(text, obj)):
            if read in self.globals and read not in self.definitions and read not in self.values:
                self._take(read, self.globals[read])

    def _take(self, name: str, value: Any) -> None:
        portable = getattr(type(value), "__pythagoras_portable__", None)
        if portable is not None:  # a pure function: its function, and how to reopen it
            func, location, version, identity = portable(value)
            self.pure[name] = (func.__name__, location, version, identity.hex())
            self._define(func.__name__, func)
        elif isinstance(value, types.ModuleType):
            self.values[name] = ("module", value.__name__)
        elif isinstance(value, (types.FunctionType, type)) and self._by_value(value):
            if value.__module__ != self.module:
                raise _NotPortable(f"{name} comes from another module sent by value")
            self._define(name, value)
        else:
            self.values[name] = ("value", _plain(name, value))

    @staticmethod
    def _by_value(obj: Any) -> bool:
        module = sys.modules.get(obj.__module__)
        if obj.__module__ == "__main__" or module is None:
            return True
        found: Any = module
        for part in obj.__qualname__.split("."):
            found = getattr(found, part, None)
        return found is not obj


def _without_decorators(text: str, first: int) -> tuple[str, int]:
    """A function's definition without the lines of its decorators (a pure function's would
    register it again where it is rebuilt; the function collected is the undecorated one), and
    its first line's number. A class keeps its decorators: they make the class (``@dataclass``
    writes its ``__init__``), and the class collected is the decorated one."""
    node = ast.parse(text).body[0]
    if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        raise _NotPortable("its source is not a definition")
    skip = 0 if isinstance(node, ast.ClassDef) else node.lineno - 1
    return "".join(text.splitlines(keepends=True)[skip:]), first + skip


def _names_read(text: str, obj: Any) -> set[str]:
    """Every name the definition may read from its module: in its code, and in what its
    ``def`` line evaluates (defaults, annotations, base classes)."""
    names = {node.id for node in ast.walk(ast.parse(text)) if isinstance(node, ast.Name)}
    codes = [obj.__code__] if isinstance(obj, types.FunctionType) else [
        member.__code__ for member in vars(obj).values() if isinstance(member, types.FunctionType)]
    while codes:
        code = codes.pop()
        names.update(code.co_names)
        codes.extend(c for c in code.co_consts if isinstance(c, types.CodeType))
    return names


class _PlainPickler(pickle.Pickler):
    """``pickle``, refusing what only this interpreter could load: anything of a module that is
    sent by value (the script's own classes and functions)."""

    def reducer_override(self, obj: Any) -> Any:
        if isinstance(obj, (type, types.FunctionType)) and _Collector._by_value(obj):
            raise _NotPortable(f"{obj!r} is the script's own")
        return NotImplemented


def _plain(name: str, value: Any) -> bytes:
    buffer = io.BytesIO()
    try:
        _PlainPickler(buffer, protocol=4).dump(value)
    except _NotPortable:
        raise
    except Exception as e:
        raise _NotPortable(f"the global {name} cannot be pickled plainly ({e})") from e
    return buffer.getvalue()
