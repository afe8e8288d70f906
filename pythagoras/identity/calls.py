"""A call's arguments in canonical form, so that every front-end gives one call one address.

``f(22)``, ``f(x=22)`` and ``f(x=22, y=<its default>)`` are one call: arguments are bound to the
function's parameters by name, defaults are filled in, and the named values are hashed as
keyword arguments (:func:`hash_kwargs`), which is also how the tutorial's decorator hashes its
keyword-only calls. Only the values of ``*args`` stay positional.
"""

from __future__ import annotations

import inspect
import weakref
from collections.abc import Callable
from typing import Any

from .values import hash_call, hash_kwargs

__all__ = ["arguments_hash"]

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


def arguments_hash(func: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> bytes:
    """The canonical hash of the arguments of ``func(*args, **kwargs)``.

    A call that does not fit the function's signature raises the ``TypeError`` Python would.
    """
    signature = _signature(func)
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
    return hash_call(rest, named) if rest else hash_kwargs(named)
