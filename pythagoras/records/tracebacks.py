"""Tracebacks from workers that name the script or notebook cell a failing function came from.

cloudpickle sends a function of a script, a notebook cell or a module it cannot import by value,
and renames the file of every code object it sends to ``<dynamic-code>``: a traceback formatted
in the worker then shows neither the file nor the line, and the worker may not have the file.

    submitting peer                                      worker
    ---------------                                      ------
    origins(func) --Origins (file, lines per code)-->    format_exception(error, origins)

:func:`origins` walks what cloudpickle pickles by value along with a function, as cloudpickle
decides it (module ``__main__``, a module not importable under its name, a module registered
with ``cloudpickle.register_pickle_by_value``), and records each code object's file and source
lines. :func:`format_exception` puts them back into the frames that read ``<dynamic-code>``.

A code object is matched across processes by :data:`CodeKey`, ``(co_name, co_firstlineno,
fingerprint)``: the fingerprint, a CRC of its bytecode, names and plain constants, survives
pickling and tells apart two notebook cells whose functions both start at line 1. Nothing here
writes to ``linecache``: a file of the same name on the worker keeps its own lines.
"""

from __future__ import annotations

import linecache
import sys
import threading
import traceback
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from types import CodeType, FunctionType, MethodType, ModuleType
from typing import Any, Final

import cloudpickle  # type: ignore[import-untyped]

__all__ = ["DYNAMIC_FILENAME", "MAX_FUNCTIONS", "MAX_SOURCE_CHARS", "CodeKey", "Origin",
           "Origins", "code_key", "format_exception", "origins"]

DYNAMIC_FILENAME: Final = "<dynamic-code>"  # what cloudpickle 3 names the file of code it sends
MAX_FUNCTIONS: Final = 200  # functions one walk records; a huge script costs little
MAX_SOURCE_CHARS: Final = 256 * 1024  # source characters one walk records
_CACHE_SIZE: Final = 256  # code objects whose tables are kept

CodeKey = tuple[str, int, int]  # (co_name, co_firstlineno, fingerprint of the code)
Origin = tuple[str, int, tuple[str, ...]]  # (original co_filename, number of lines[0], lines)


@dataclass(frozen=True)
class Origins:
    """Where each code object that travels by value came from: its file and its source lines.

    Plain data, so it pickles by itself. Code nested in a function (a lambda, a comprehension)
    shares the function's ``Origin`` tuple, and pickle stores a shared tuple once."""

    codes: dict[CodeKey, Origin] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.codes)

    def merge(self, *others: Origins) -> Origins:
        """One table for a batch of calls of different functions; a table alone is returned as is."""
        tables = [table for table in (self, *others) if table.codes]
        if not tables:
            return self
        if all(table is tables[0] for table in tables):
            return tables[0]
        codes: dict[CodeKey, Origin] = {}
        for table in tables:
            codes.update(table.codes)
        return Origins(codes)

    def find(self, code: CodeType) -> Origin | None:
        """The origin of a code object, here or in another process after unpickling."""
        return self.codes.get(code_key(code))


def code_key(code: CodeType) -> CodeKey:
    """The key of a code object in :class:`Origins`; the same before and after cloudpickle."""
    text = "\0".join(code.co_names) + "\1" + "\0".join(_constant_text(c) for c in code.co_consts)
    fingerprint = zlib.crc32(text.encode("utf-8", "backslashreplace"), zlib.crc32(code.co_code))
    return (code.co_name, code.co_firstlineno, fingerprint)


def _constant_text(value: object) -> str:
    # Not repr() of everything: a nested code object's repr holds its address, and a frozenset's
    # order follows the string hash, which differs between processes.
    if isinstance(value, CodeType):
        return "code " + value.co_name
    if isinstance(value, (tuple, frozenset)):
        items = [_constant_text(item) for item in value]
        return "(" + ",".join(sorted(items) if isinstance(value, frozenset) else items) + ")"
    if value is None or value is Ellipsis or isinstance(value, (str, bytes, int, float, complex)):
        return repr(value)
    return type(value).__name__


# ---- the submitting side: what travels by value, and where it came from ----

_INERT: Final = object()  # a value that carries no code: which one it is does not matter
_MISSING: Final = object()


def _wrapped(value: object) -> FunctionType | None:
    """The function an object such as ``PureFunction`` or ``functools.partial`` wraps as ``func``."""
    try:
        if hasattr(type(value), "func"):  # a property or slot: PureFunction, functools.partial
            func = value.func  # type: ignore[attr-defined]
        else:  # an instance attribute; not getattr(), which a proxy's __getattr__ would answer
            namespace = getattr(value, "__dict__", None)
            func = namespace.get("func") if isinstance(namespace, dict) else None
    except Exception:  # noqa: BLE001 -- a property that fails is no function
        return None
    return func if isinstance(func, FunctionType) else None


def _carries_code(value: object) -> bool:
    return (isinstance(value, (FunctionType, MethodType, type, ModuleType))
            or _wrapped(value) is not None)


def _expected(value: object) -> object:
    return value if _carries_code(value) else _INERT


def _same(value: object, expected: object) -> bool:
    return not _carries_code(value) if expected is _INERT else value is expected


def _carried(func: FunctionType) -> tuple[object, ...]:
    """What a function carries besides its globals: closure cells, defaults."""
    values: list[object] = []
    for cell in func.__closure__ or ():
        try:
            values.append(cell.cell_contents)
        except ValueError:  # a cell not yet assigned
            values.append(_MISSING)
    values.extend(func.__defaults__ or ())
    values.extend((func.__kwdefaults__ or {}).values())
    return tuple(values)


def _code_tree(code: CodeType) -> Iterator[CodeType]:
    """A code object and the code nested in it: functions, lambdas, comprehensions, classes."""
    pending = [code]
    while pending:
        current = pending.pop()
        yield current
        pending.extend(c for c in current.co_consts if isinstance(c, CodeType))


def _last_line(code: CodeType) -> int:
    last = code.co_firstlineno
    for current in _code_tree(code):
        for _, _, line in current.co_lines():
            last = max(last, line or 0)
        if sys.version_info >= (3, 11):  # an expression may end lines below its last instruction
            for _, end_line, _, _ in current.co_positions():
                last = max(last, end_line or 0)
    return last


@dataclass(frozen=True)
class _Cached:
    """A walk's table, and what it read: the table holds while none of that changed."""

    table: Origins
    globals: dict[str, Any]
    carried: tuple[object, ...]  # _expected() of the root's closure cells and defaults
    reads: tuple[tuple[dict[str, Any], str, object], ...]  # (globals, name, _expected(value))

    def fits(self, func: FunctionType) -> bool:
        if func.__globals__ is not self.globals:
            return False
        carried = _carried(func)
        if len(carried) != len(self.carried) or not all(
                _same(value, expected) for value, expected in zip(carried, self.carried, strict=True)):
            return False
        return all(_same(namespace.get(name, _MISSING), expected)
                   for namespace, name, expected in self.reads)


class _Walk:
    """One walk through the functions and classes cloudpickle would send by value with a root."""

    def __init__(self) -> None:
        self.codes: dict[CodeKey, Origin] = {}
        self.reads: dict[tuple[int, str], tuple[dict[str, Any], str, object]] = {}
        self._pending: list[object] = []
        self._seen: dict[int, object] = {}  # the objects are kept so that their ids stay theirs
        self._functions = 0
        self._chars = 0
        self._registered = frozenset(cloudpickle.list_registry_pickle_by_value())

    def run(self, root: object) -> None:
        self._pending.append(root)
        while self._pending and self._functions < MAX_FUNCTIONS:
            value = self._pending.pop()
            if id(value) in self._seen:
                continue
            self._seen[id(value)] = value
            if isinstance(value, FunctionType):
                self._function(value)
            elif isinstance(value, MethodType):
                self._pending.append(value.__func__)
            elif isinstance(value, type):
                self._class(value)
            else:
                func = _wrapped(value)
                if func is not None:
                    self._pending.append(func)
                elif value is root:  # a callable instance: its class may travel by value
                    self._pending.append(type(value))

    def _function(self, func: FunctionType) -> None:
        if not self._by_value(func):
            return
        self._functions += 1
        known = code_key(func.__code__) in self.codes  # a closure whose code a walked function holds
        origin = None if known else self._origin(func)
        names: set[str] = set()
        for code in _code_tree(func.__code__):
            names.update(code.co_names)
            if origin is not None:
                self.codes.setdefault(code_key(code), origin)
        namespace = func.__globals__
        for name in sorted(names):
            value = namespace.get(name, _MISSING)
            self.reads[(id(namespace), name)] = (namespace, name, _expected(value))
            if isinstance(value, ModuleType):
                if self._is_registered(value.__name__):  # sent by value: its members travel too
                    members = (vars(value).get(n) for n in names)
                    self._pending.extend(m for m in members if _carries_code(m))
            elif value is not _MISSING and _carries_code(value):
                self._pending.append(value)
        self._pending.extend(v for v in _carried(func) if _carries_code(v))

    def _class(self, cls: type) -> None:
        if not self._by_value(cls):
            return
        for value in list(vars(cls).values()):
            if isinstance(value, (staticmethod, classmethod)):
                self._pending.append(value.__func__)
            elif isinstance(value, property):
                self._pending.extend(f for f in (value.fget, value.fset, value.fdel) if f)
            elif isinstance(value, FunctionType):
                self._pending.append(value)

    def _origin(self, func: FunctionType) -> Origin | None:
        """The file and lines of a function, or None past the cap or without source."""
        code = func.__code__
        filename = code.co_filename
        if filename == DYNAMIC_FILENAME:
            return None
        linecache.checkcache(filename)  # a script edited since its last traceback
        lines = linecache.getlines(filename, func.__globals__)
        first = code.co_firstlineno
        chunk = tuple(lines[first - 1:_last_line(code)])
        size = sum(map(len, chunk))
        if not chunk or self._chars + size > MAX_SOURCE_CHARS:
            return None
        self._chars += size
        return (filename, first, chunk)

    def _by_value(self, obj: FunctionType | type) -> bool:
        """Whether cloudpickle pickles a function or class by value rather than by reference."""
        module_name = getattr(obj, "__module__", None)
        if not isinstance(module_name, str) or module_name == "__main__":
            return True
        if self._is_registered(module_name):
            return True
        found: object = sys.modules.get(module_name)
        try:
            for part in obj.__qualname__.split("."):
                found = getattr(found, part)
        except Exception:  # noqa: BLE001 -- "<locals>", or the module is gone
            return True
        return found is not obj

    def _is_registered(self, module_name: str) -> bool:
        parts = module_name.split(".")
        return any(".".join(parts[:n]) in self._registered for n in range(1, len(parts) + 1))


_CACHE: dict[CodeType, _Cached] = {}
_CACHE_LOCK = threading.Lock()


def origins(func: object) -> Origins:
    """Where the code sent by value with ``func`` came from; cached per code object, never raises.

    The cached table is checked against the globals and closure it was built from, so redefining
    a helper in a notebook cell gives a new table, while a hit costs a few dict lookups."""
    root = _wrapped(func) or func
    if not isinstance(root, FunctionType):
        return _walk(root).table
    code = root.__code__
    cached = _CACHE.get(code)
    if cached is not None and cached.fits(root):
        return cached.table
    cached = _walk(root)
    with _CACHE_LOCK:
        _CACHE[code] = cached
        while len(_CACHE) > _CACHE_SIZE:
            del _CACHE[next(iter(_CACHE))]
    return cached.table


def _walk(root: object) -> _Cached:
    walk = _Walk()
    try:
        walk.run(root)
    except Exception:  # noqa: BLE001, S110 -- an object failed inspection: keep what was found
        pass
    func = root if isinstance(root, FunctionType) else None
    return _Cached(
        table=Origins(walk.codes),
        globals=func.__globals__ if func else {},
        carried=tuple(_expected(v) for v in _carried(func)) if func else (),
        reads=tuple(walk.reads.values()),
    )


# ---- the worker side: frames put back in their files ----

def format_exception(error: BaseException, origins: Origins | None) -> str:
    """``traceback.format_exception(error)``, with ``<dynamic-code>`` frames back in their files.

    A frame whose code is in ``origins`` shows its original file and source line, as it would in
    the process that defined it, or under ``ProcessPoolExecutor``. Never raises: on any problem
    it returns the plain ``traceback.format_exception`` text.
    """
    try:
        report = traceback.TracebackException(type(error), error, error.__traceback__, compact=True)
        if origins:
            _relocate(report, error, origins)
        return "".join(report.format())
    except Exception:  # noqa: BLE001 -- a traceback must always come out
        return _plain(error)


def _plain(error: BaseException) -> str:
    try:
        return "".join(traceback.format_exception(type(error), error, error.__traceback__))
    except Exception:  # noqa: BLE001 -- a traceback must always come out
        return f"{type(error).__qualname__}: (its traceback could not be formatted)\n"


def _relocate(report: traceback.TracebackException, error: BaseException, origins: Origins) -> None:
    """Relocate the frames of an exception, its cause, context and group members."""
    pending = [(report, error)]
    seen: set[int] = set()
    while pending:
        report, error = pending.pop()
        if id(report) in seen:
            continue
        seen.add(id(report))
        codes = [frame.f_code for frame, _ in traceback.walk_tb(error.__traceback__)]
        if len(codes) == len(report.stack):  # else a tracebacklimit cut it: leave it as it is
            report.stack = traceback.StackSummary.from_list([_relocated(summary, code, origins)
                for summary, code in zip(report.stack, codes, strict=True)])
        for linked, linked_error in ((report.__cause__, error.__cause__),
                                     (report.__context__, error.__context__)):
            if linked is not None and linked_error is not None:
                pending.append((linked, linked_error))
        # Not strict: a report of no group has no members, where its exception may have them.
        members = getattr(report, "exceptions", None) or ()
        pending.extend(zip(members, getattr(error, "exceptions", ()), strict=False))


def _relocated(summary: traceback.FrameSummary, code: CodeType,
               origins: Origins) -> traceback.FrameSummary:
    if summary.filename != DYNAMIC_FILENAME or summary.lineno is None:
        return summary
    origin = origins.find(code)
    if origin is None:
        return summary
    filename, first, lines = origin
    lineno = summary.lineno
    if sys.version_info < (3, 11):
        return traceback.FrameSummary(filename, lineno, summary.name, lookup_line=False,
                                      line=_text(lines, first, lineno, lineno) or "")
    end_lineno, colno, end_colno = summary.end_lineno, summary.colno, summary.end_colno
    # 3.13 reads `line` as the lines lineno..end_lineno, earlier versions as the first one.
    last = lineno
    if sys.version_info >= (3, 13) and end_lineno is not None:
        last = end_lineno
    text = _text(lines, first, lineno, last)
    if text is None:  # the lines an instruction spans are not all there: no carets
        text, colno, end_colno = _text(lines, first, lineno, lineno), None, None
    # line="" rather than None: None would make traceback read a file of that name here.
    return traceback.FrameSummary(filename, lineno, summary.name, lookup_line=False,
                                  line=text or "", end_lineno=end_lineno, colno=colno,
                                  end_colno=end_colno)


def _text(lines: tuple[str, ...], first: int, lineno: int, last: int) -> str | None:
    start, stop = lineno - first, last - first + 1
    if start < 0 or stop > len(lines) or start >= stop:
        return None
    return "".join(lines[start:stop])
