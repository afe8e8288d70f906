"""A call's arguments in canonical form, so that every front-end gives one call one address.

``f(22)``, ``f(x=22)`` and ``f(x=22, y=<its default>)`` are one call: arguments are bound to the
function's parameters by name, defaults are filled in, and the named values are hashed as
keyword arguments (:func:`hash_kwargs`), which is also how the tutorial's decorator hashes its
keyword-only calls. Only the values of ``*args`` stay positional.

A plain function (parameters that can all be named, no ``*args`` nor ``**kwargs``) is bound
without ``inspect``: its parameters' names and default values are read once, and read again
when its ``__code__``, ``__defaults__`` or ``__kwdefaults__`` is replaced (an edited default
is another call, as for ``inspect``). A call that does not fit is bound by ``inspect``, which
raises the ``TypeError`` Python would.
"""

from __future__ import annotations

import inspect
import types
import weakref
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from .values import hash_call, hash_kwargs

__all__ = ["IGNORED_ARGUMENTS", "arguments_hash"]

#: Parameters of installed functions that do not change what a call returns: progress counters,
#: verbosity, and scikit-learn's per-run callback context (a UUID and a timestamp), which
#: would make every run of a search a new call. Keyed by the function's ``module:qualname``.
IGNORED_ARGUMENTS: dict[str, frozenset[str]] = {
    "sklearn.model_selection._validation:_fit_and_score": frozenset(
        {"caller", "callback_ctx", "split_progress", "candidate_progress", "verbose"}),
}

_signatures: weakref.WeakKeyDictionary[Any, inspect.Signature | None] = weakref.WeakKeyDictionary()


def _signature(func: Callable[..., Any]) -> inspect.Signature | None:
    try:
        return _signatures[func]
    except (KeyError, TypeError):
        pass
    try:
        signature: inspect.Signature | None = inspect.signature(func)
    except (TypeError, ValueError):  # some builtins have none: their arguments are hashed as given
        signature = None
    try:
        _signatures[func] = signature
    except TypeError:  # not weakly referenceable (a bound method, a partial): not cached
        pass
    return signature


@dataclass(frozen=True)
class _Plain:
    """A plain function's parameters, as they were when read (``code``, ``defaults``,
    ``kwdefaults``: the function's own objects then, compared by identity)."""

    code: types.CodeType
    defaults: tuple[Any, ...] | None
    kwdefaults: dict[str, Any] | None
    positional: tuple[str, ...]  # those a positional argument binds to, in order
    names: frozenset[str]
    filled: dict[str, Any]  # default values, by name
    ignored: frozenset[str]  # IGNORED_ARGUMENTS's names for the function


_plains: weakref.WeakKeyDictionary[types.FunctionType, _Plain | None] = weakref.WeakKeyDictionary()
_UNREAD = _Plain(compile("", "", "exec"), None, None, (), frozenset(), {}, frozenset())
_NAMED = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)


def _plain(func: types.FunctionType) -> _Plain | None:
    """The parameters of ``func`` if it is plain and they are as read last, else read anew;
    None for a function that is not plain."""
    plain = _plains.get(func, _UNREAD)
    if plain is None or (plain is not _UNREAD and plain.code is func.__code__
                         and plain.defaults is func.__defaults__
                         and plain.kwdefaults is func.__kwdefaults__):
        return plain
    signature = None if "__signature__" in func.__dict__ or "__wrapped__" in func.__dict__ \
        else _signature(func)
    if signature is None or any(p.kind not in _NAMED for p in signature.parameters.values()):
        _plains[func] = None
        return None
    signature = inspect.signature(func)  # this moment's defaults, not those _signature cached
    parameters = signature.parameters.values()
    plain = _plains[func] = _Plain(
        func.__code__, func.__defaults__, func.__kwdefaults__,
        tuple(p.name for p in parameters if p.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD),
        frozenset(signature.parameters), {p.name: p.default for p in parameters if p.default is not p.empty},
        IGNORED_ARGUMENTS.get(f"{func.__module__}:{func.__qualname__}", frozenset()))
    return plain


def _bind_plain(plain: _Plain, args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any] | None:
    """Every parameter's value in ``func(*args, **kwargs)``; None where the call does not fit."""
    if len(args) > len(plain.positional):
        return None
    named = dict(zip(plain.positional, args, strict=False))
    for name, value in kwargs.items():
        if name in named or name not in plain.names:
            return None
        named[name] = value
    if len(named) < len(plain.names):
        for name, value in plain.filled.items():
            named.setdefault(name, value)
        if len(named) < len(plain.names):  # a parameter without a default was not given
            return None
    return named


def arguments_hash(func: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any],
                   ignore: Iterable[str] = ()) -> bytes:
    """The canonical hash of the arguments of ``func(*args, **kwargs)``, without the parameters
    named in ``ignore`` (and those :data:`IGNORED_ARGUMENTS` lists for the function).

    A call that does not fit the function's signature raises the ``TypeError`` Python would.
    """
    plain = _plain(func) if type(func) is types.FunctionType else None
    if plain is not None:
        values = _bind_plain(plain, args, kwargs)
        if values is not None:
            for name in plain.ignored.union(ignore) if ignore else plain.ignored:
                values.pop(name, None)
            return hash_kwargs(values)
    signature = _signature(func)
    unwrapped = inspect.unwrap(func) if hasattr(func, "__wrapped__") else func
    ignored = IGNORED_ARGUMENTS.get(
        f"{getattr(unwrapped, '__module__', '')}:{getattr(unwrapped, '__qualname__', '')}", frozenset())
    if ignore:
        ignored = ignored | frozenset(ignore)
    if signature is None:
        return hash_call(args, kwargs) if args else hash_kwargs(kwargs)
    bound = signature.bind(*args, **kwargs)
    bound.apply_defaults()
    named: dict[str, Any] = {}
    rest: tuple[Any, ...] = ()
    for name, value in bound.arguments.items():
        kind = signature.parameters[name].kind
        if kind is inspect.Parameter.VAR_POSITIONAL:
            rest = value
        elif kind is inspect.Parameter.VAR_KEYWORD:
            named.update(value)
        else:
            named[name] = value
    for name in ignored:
        named.pop(name, None)
    return hash_call(rest, named) if rest else hash_kwargs(named)
