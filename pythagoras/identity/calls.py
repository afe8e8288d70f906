"""A call's arguments in canonical form, so that every front-end gives one call one address.

``f(22)``, ``f(x=22)`` and ``f(x=22, y=<its default>)`` are one call: arguments are bound to the
function's parameters by name, defaults are filled in, and the named values are hashed as
keyword arguments (:func:`hash_kwargs`), which is also how the tutorial's decorator hashes its
keyword-only calls. Only the values of ``*args`` stay positional.
"""

from __future__ import annotations

import inspect
import weakref
from collections.abc import Callable, Iterable
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


def arguments_hash(func: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any],
                   ignore: Iterable[str] = ()) -> bytes:
    """The canonical hash of the arguments of ``func(*args, **kwargs)``, without the parameters
    named in ``ignore`` (and those :data:`IGNORED_ARGUMENTS` lists for the function).

    A call that does not fit the function's signature raises the ``TypeError`` Python would.
    """
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
