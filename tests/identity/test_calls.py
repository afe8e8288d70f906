"""Binding a call's arguments: a plain function is bound without ``inspect`` (on every hit's
path), and must give every call the address ``inspect``'s binding gives it; a default replaced
since the last call is read again, so the edited default is another call."""

from __future__ import annotations

import functools
import inspect
from typing import Any

import pytest

from pythagoras.identity.calls import arguments_hash
from pythagoras.identity.values import hash_call, hash_kwargs


def by_inspect(func: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> bytes:
    """The hash as ``inspect`` binds the call, read afresh: the reference."""
    signature = inspect.signature(func)
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


def plain(a: int, b: float = 2.5, *, c: str = "c", d: Any = None) -> None:
    """Parameters that can all be named: bound without inspect."""


def keyword_only(*, x: int) -> None:
    """The decorator's and the tutorial's kind of function."""


def positional_only(a: int, /, b: int = 1) -> None:
    """Not plain: bound by inspect."""


def variadic(a: int, *rest: int, **more: int) -> None:
    """Not plain: bound by inspect."""


CALLS = [
    (plain, (1,), {}),
    (plain, (1, 3.0), {}),
    (plain, (), {"a": 1, "b": 3.0, "c": "x"}),
    (plain, (1,), {"d": [1, 2], "c": "y"}),
    (keyword_only, (), {"x": 3}),
    (positional_only, (1,), {"b": 2}),
    (variadic, (1, 2, 3), {"k": 4}),
    (variadic, (1,), {}),
]


@pytest.mark.parametrize(("func", "args", "kwargs"), CALLS)
def test_every_call_gets_the_hash_inspect_s_binding_gives_it(func: Any, args: tuple[Any, ...],
                                                             kwargs: dict[str, Any]) -> None:
    assert arguments_hash(func, args, kwargs) == by_inspect(func, args, kwargs)


def test_the_forms_of_one_call_are_one_call() -> None:
    forms = [((1,), {}), ((1, 2.5), {}), ((), {"a": 1}), ((), {"b": 2.5, "a": 1, "c": "c", "d": None})]
    assert len({arguments_hash(plain, args, kwargs) for args, kwargs in forms}) == 1


@pytest.mark.parametrize(("args", "kwargs"), [
    ((), {}),  # a is missing
    ((1,), {"a": 1}),  # a twice
    ((1,), {"e": 1}),  # no parameter e
    ((1, 2, 3), {}),  # c is keyword-only
])
def test_a_call_that_does_not_fit_raises_python_s_type_error(args: tuple[Any, ...],
                                                             kwargs: dict[str, Any]) -> None:
    with pytest.raises(TypeError) as raised:
        plain(*args, **kwargs)
    with pytest.raises(TypeError) as ours:
        arguments_hash(plain, args, kwargs)
    assert type(ours.value) is type(raised.value)


def test_a_replaced_default_is_another_call() -> None:
    def scaled(x: int, factor: int = 2, *, offset: int = 0) -> int:
        return x * factor + offset

    before = arguments_hash(scaled, (3,), {})
    scaled.__defaults__ = (5,)
    assert arguments_hash(scaled, (3,), {}) == by_inspect(scaled, (3,), {}) != before
    scaled.__kwdefaults__ = {"offset": 1}
    assert arguments_hash(scaled, (3,), {}) == by_inspect(scaled, (3,), {})
    scaled.__code__ = (lambda x, factor=2, *, offset=0, extra=7: x).__code__
    scaled.__kwdefaults__ = {"offset": 1, "extra": 7}
    assert arguments_hash(scaled, (3,), {}) == by_inspect(scaled, (3,), {})


def test_a_wrapper_is_bound_by_the_signature_it_shows() -> None:
    @functools.wraps(keyword_only)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        return keyword_only(*args, **kwargs)

    assert arguments_hash(wrapper, (), {"x": 3}) == arguments_hash(keyword_only, (), {"x": 3})
    with pytest.raises(TypeError):
        arguments_hash(wrapper, (3,), {})


def test_ignored_parameters_are_left_out() -> None:
    ignoring = arguments_hash(plain, (1,), {"d": "log"}, ignore=["d"])
    assert ignoring == arguments_hash(plain, (1,), {}, ignore=["d"]) != arguments_hash(plain, (1,), {})
    assert ignoring == hash_kwargs({"a": 1, "b": 2.5, "c": "c"})
