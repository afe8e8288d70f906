"""A function's identity: what it computes, not where it lives or how it is formatted.

The identity of a Python function combines

- its qualified name and its source, parsed and dumped as an AST with the decorators and
  docstrings removed, so comments, docstrings, blank lines and formatting do not change it;
- the values of its closure cells and of its defaults;
- what it reads from its module's globals: plain data by value, functions defined in user code
  by their own identity (recursively), installed packages and their functions by name;

or, when the function is given ``version=``, its qualified name and that version only.

Functions of installed packages are identified by module and qualified name, except lambdas
and functions made inside others, which one name cannot tell apart: those add their bytecode,
defaults and closure. Builtins and C functions are identified by module and name, bound
methods by their function and the instance, ``functools.partial`` by its function and its
frozen arguments. Never the raw cloudpickle bytes of a function: they differ between processes
and paths.

The source-derived part is computed once per function object; the values it reads are hashed
each time an identity is taken, so editing a constant or a helper in a notebook and calling
again gives a new identity even though the function object is the same.
"""

from __future__ import annotations

import functools
import os
import sys
import sysconfig
import types
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from ..errors import IdentityError, UnhashableArgument
from .source import source_digest
from .values import Encoder

__all__ = ["encode_callable", "encode_function", "function_identity", "is_installed_module", "source_digest"]

_C_CALLABLES = (
    types.BuiltinFunctionType,
    types.MethodDescriptorType,
    types.WrapperDescriptorType,
    types.ClassMethodDescriptorType,
    types.MethodWrapperType,
)


# Callable wrappers of installed packages: the attribute holding the wrapped function, then the
# attributes that change what a call computes. Others (scikit-learn's warning filters, which
# differ between a script and a test run) do not count.
_CALL_WRAPPERS: dict[str, tuple[str, ...]] = {
    "sklearn.utils.parallel:_FuncWrapper": ("function", "config"),
}


@dataclass(frozen=True)
class _Static:
    """What is derived once per function object: its normalized code and the globals it reads.

    It is derived again when the object's ``__code__`` is replaced (IPython's autoreload
    edits functions in place), so that an edited function is never a stale hit.
    """

    code: bytes
    global_names: tuple[str, ...]
    installed: bool
    refusal: str | None = None  # why strict mode refuses the function, if it does
    derived_from: types.CodeType | None = None
    local: bool = False  # an installed lambda or nested function: its name is not enough


_statics: weakref.WeakKeyDictionary[Callable[..., Any], _Static] = weakref.WeakKeyDictionary()


def function_identity(func: Callable[..., Any], *, version: str | None = None, strict: bool = True) -> bytes:
    """The 16-byte identity of ``func``.

    With ``strict`` (the decorator's mode), lambdas and functions without source are refused
    with :class:`IdentityError`; otherwise they are identified by their bytecode, which is stable
    across processes of one Python version.
    """
    enc = Encoder()
    encode_function(enc, func, version=version, strict=strict)
    return enc.digest()


def encode_function(enc: Encoder, func: Callable[..., Any], *, version: str | None = None,
                    strict: bool = False) -> None:
    """Append the identity of ``func`` to ``enc``; with ``version``, its name and version only."""
    if version is not None:
        enc.token(b"V", f"{_qualname(func)}\x00{version}")
    else:
        encode_callable(enc, func, strict=strict)


def _encode_c_callable(enc: Encoder, func: Any) -> bool:
    """Append the identity of a callable written in C (a method bound to an instance, a
    builtin, a ufunc) to ``enc``; False, appending nothing, if ``func`` is not one."""
    if (
        isinstance(func, (types.BuiltinMethodType, types.MethodWrapperType))
        and getattr(func, "__self__", None) is not None
        and not isinstance(func.__self__, (types.ModuleType, type))
    ):  # a C method bound to an instance: "x{}".format, d.get, (1).__add__
        enc.out += b"m"
        enc.token(b"C", f"{type(func.__self__).__module__}:{func.__qualname__}")
        enc.encode(func.__self__)
        return True
    if isinstance(func, _C_CALLABLES) or type(func).__name__ == "ufunc":
        owner = getattr(func, "__objclass__", None) or getattr(func, "__self__", None)
        module = getattr(func, "__module__", None) or getattr(owner, "__module__", None)
        if module is None and isinstance(owner, types.ModuleType):
            module = owner.__name__
        enc.token(b"C", f"{module}:{getattr(func, '__qualname__', func.__name__)}")
        return True
    return False


def encode_callable(enc: Encoder, func: Any, *, strict: bool = False) -> None:
    """Append the identity of any supported callable to ``enc``."""
    if isinstance(func, types.FunctionType):
        _encode_python_function(enc, func, strict)
    elif isinstance(func, types.MethodType):
        enc.out += b"m"
        encode_callable(enc, func.__func__, strict=strict)
        enc.encode(func.__self__)
    elif isinstance(func, functools.partial):
        enc.out += b"p"
        encode_callable(enc, func.func, strict=strict)
        enc.encode(func.args)
        enc.encode(func.keywords)
    elif _encode_c_callable(enc, func):
        pass
    elif hasattr(type(func), "__pythagoras_encode__"):
        func.__pythagoras_encode__(enc)
    elif isinstance(func, type):
        enc.token(b"G", f"{func.__module__}:{func.__qualname__}")
    elif (wrapped := _CALL_WRAPPERS.get(f"{type(func).__module__}:{type(func).__qualname__}")):
        enc.token(b"W", f"{type(func).__module__}:{type(func).__qualname__}")
        encode_callable(enc, getattr(func, wrapped[0]), strict=strict)
        enc.encode({name: getattr(func, name, None) for name in wrapped[1:]})
    elif (
        callable(func)
        and isinstance(getattr(func, "__qualname__", None), str)
        and is_installed_module(getattr(func, "__module__", None))
    ):  # a callable object of an installed package, e.g. numpy's np.sum dispatchers
        enc.token(b"I", f"{func.__module__}:{func.__qualname__}")
    elif not strict and callable(func) and hasattr(func, "__dict__"):
        # A callable object: the code of its __call__, then its class and state.
        enc.out += b"o"
        encode_callable(enc, type(func).__call__, strict=strict)
        enc.encode(func)
    else:
        raise IdentityError(
            f"cannot take the identity of {func!r} (a {type(func).__qualname__}); "
            "give a function defined with def, a builtin, a bound method or a functools.partial"
        )


def _encode_python_function(enc: Encoder, func: types.FunctionType, strict: bool) -> None:
    static = _statics.get(func)
    if static is None or static.derived_from is not func.__code__:
        static = _statics[func] = _derive_static(func)
    if strict and static.refusal is not None:
        raise IdentityError(static.refusal)
    if static.installed and not static.local:
        enc.token(b"I", static.code)
        return
    if not enc._enter(func):  # a recursive function, or two helpers that call each other
        return
    enc.token(b"I" if static.installed else b"P", static.code)
    enc.encode(func.__defaults__)
    enc.encode(func.__kwdefaults__)
    cells = func.__closure__ or ()
    enc.out += b"c" + len(cells).to_bytes(4, "little")
    for cell in cells:
        try:
            value = cell.cell_contents
        except ValueError:  # an empty cell: a name not yet bound in the enclosing scope
            enc.out += b"E"
        else:
            _encode_read_value(enc, value)
    if not static.installed:  # an installed module's globals are the environment's business
        _encode_namespace_reads(enc, func.__globals__, static.global_names, set())
    enc._leave(func)


def _encode_namespace_reads(
    enc: Encoder, namespace: dict[str, Any], names: tuple[str, ...], seen: set[str]
) -> None:
    """Encode the values of ``names`` found in a namespace. A user module found there (not an
    installed one) is read through too, for the names the code may take from it, so editing
    ``helpers.clean`` changes a function that calls ``helpers.clean(x)``."""
    for name in names:
        if name not in namespace:
            continue
        value = namespace[name]
        enc.token(b"g", name)
        _encode_read_value(enc, value)
        if isinstance(value, types.ModuleType) and value.__name__ not in seen:
            if not is_installed_module(value.__name__):
                seen.add(value.__name__)
                enc.out += b"("
                _encode_namespace_reads(enc, vars(value), names, seen)
                enc.out += b")"


def _encode_read_value(enc: Encoder, value: Any) -> None:
    """Encode a value the function reads; one with no content hash (a lock, a connection)
    stands for its type only, since it is a resource rather than data the result depends on."""
    mark = enc.mark()
    try:
        enc.encode(value)
    except UnhashableArgument:
        enc.rewind(mark)
        enc.token(b"u", f"{type(value).__module__}:{type(value).__qualname__}")


def _derive_static(func: types.FunctionType) -> _Static:
    qualname = _qualname(func)
    if is_installed_module(func.__module__):
        name = f"{func.__module__}:{qualname}".encode()
        if "<locals>" not in qualname and func.__name__ != "<lambda>":
            return _Static(name, (), True, derived_from=func.__code__)
        # A lambda, or a function made by another: one name for many functions (every lambda of
        # a module, a closure per call of its maker), told apart by code, defaults and closure.
        return _Static(name + b"\x00" + _code_digest(func.__code__), (), True, derived_from=func.__code__,
                       local=True)
    code = None if func.__name__ == "<lambda>" else source_digest(func)
    if code is not None:
        _carry_source(func, code)
    else:
        code = _carried_source(func)
    refusal = None
    if code is None:
        refusal = (
            f"{qualname} has no source code that pythagoras can read "
            + ("(it is a lambda)" if func.__name__ == "<lambda>" else "(defined in exec or a REPL?)")
            + "; define it with def in a file, a notebook cell or a module"
        )
        code = b"bytecode:" + _code_digest(func.__code__)
    return _Static(qualname.encode() + b"\x00" + code, _global_names(func.__code__), False, refusal,
                   func.__code__)


#: The attribute a function carries its normalized source in, with the code it belongs to: a
#: function sent by value (cloudpickle keeps its ``__dict__``) has no source where it arrives,
#: and is identified there as where it was sent from.
CARRIED_SOURCE: Final = "__pythagoras_source__"


def _carry_source(func: types.FunctionType, code: bytes) -> None:
    try:
        setattr(func, CARRIED_SOURCE, (_code_key(func.__code__), code))
    except (AttributeError, TypeError):  # a function that takes no attributes: nothing to carry
        pass


def _carried_source(func: types.FunctionType) -> bytes | None:
    """The source digest ``func`` carries, if it was taken from this very code (not from a
    function that ``functools.wraps`` copied it from, nor one of another Python version)."""
    carried = getattr(func, CARRIED_SOURCE, None)
    if (isinstance(carried, tuple) and len(carried) == 2 and isinstance(carried[1], bytes)
            and carried[0] == _code_key(func.__code__)):
        return carried[1]
    return None


def _code_key(code: types.CodeType) -> tuple[str, int, bytes]:
    return code.co_name, code.co_firstlineno, _code_digest(code)


def _global_names(code: types.CodeType) -> tuple[str, ...]:
    """Every name the code (and the code nested in it) may look up in its globals."""
    names: set[str] = set()
    stack = [code]
    while stack:
        current = stack.pop()
        names.update(current.co_names)
        stack.extend(c for c in current.co_consts if isinstance(c, types.CodeType))
    return tuple(sorted(names))


def _code_digest(code: types.CodeType) -> bytes:
    enc = Encoder()
    stack = [code]
    while stack:
        current = stack.pop()
        enc.token(b"k", current.co_code)
        enc.encode(current.co_names)
        enc.encode(current.co_varnames)
        enc.encode(current.co_freevars)
        for const in current.co_consts:
            if isinstance(const, types.CodeType):
                stack.append(const)
            else:
                enc.encode(const)
    return sys.version.split()[0].encode() + b":" + enc.digest().hex().encode()


def _qualname(func: Any) -> str:
    return str(getattr(func, "__qualname__", None) or getattr(func, "__name__", type(func).__name__))


@functools.cache
def _installed_roots() -> tuple[str, ...]:
    paths = sysconfig.get_paths()
    roots = {os.path.realpath(paths[k]) for k in ("stdlib", "platstdlib", "purelib", "platlib") if k in paths}
    return tuple(sorted(root + os.sep for root in roots))


@functools.lru_cache(maxsize=4096)
def is_installed_module(module_name: str | None) -> bool:
    """True for modules of the standard library and of installed packages (site-packages).

    Their functions are identified by name: their source is not the user's to edit, and their
    version is the environment's business. ``__main__`` and the user's own modules, including
    editable installs, are identified by source.
    """
    if not module_name or module_name == "__main__":
        return False
    module = sys.modules.get(module_name)
    if module is None:
        return False
    filename = getattr(module, "__file__", None)
    if filename is None:
        return module_name in sys.builtin_module_names
    return os.path.realpath(str(filename)).startswith(_installed_roots())
