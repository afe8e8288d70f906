"""Function identity: what a function computes, not where it lives or how it is written.

Variants of a function are written to real module files and imported under distinct module
names (the ``load_module`` fixture), the way a user's edits reach the interpreter.
"""

from __future__ import annotations

import ast
import functools
import json
import math
import threading
import types
from collections.abc import Callable
from typing import Any

import _identity_sample as sample
import numpy as np
import pytest

from pythagoras.errors import IdentityError, PythagorasError
from pythagoras.identity import function_identity

Loader = Callable[[str], types.ModuleType]


def ident(module: types.ModuleType, name: str = "f", **kwargs: Any) -> bytes:
    return function_identity(getattr(module, name), **kwargs)


# -- what must NOT change the identity ---------------------------------------------------------

BASE = '''
def f(a, b=2):
    total = a + b
    return total * 3
'''

SAME_AS_BASE = {
    "identical copy": BASE,
    "docstring added": '''
        def f(a, b=2):
            """Add and triple."""
            total = a + b
            return total * 3
        ''',
    "multi-line docstring in single quotes": """
        def f(a, b=2):
            '''Add and triple.

            A longer description, with ``markup``.
            '''
            total = a + b
            return total * 3
        """,
    "comments": '''
        # a comment before the function
        def f(a, b=2):  # trailing comment
            # a comment in the body
            total = a + b  # another
            return total * 3
        # a comment after
        ''',
    "blank lines and formatting": '''
        import os


        def f(
            a,
            b = 2,
        ):

            total = (a
                     +
                     b)


            return (total *
                    3)
        ''',
    "a decorator": '''
        def tag(*args, **kwargs):
            def wrap(fn):
                return fn
            return wrap

        @tag()
        def f(a, b=2):
            total = a + b
            return total * 3
        ''',
    "another decorator over several lines": '''
        def tag(*args, **kwargs):
            def wrap(fn):
                return fn
            return wrap

        def other(fn):
            return fn

        @other
        @tag(
            "fast",
            retries=3,
        )
        def f(a, b=2):
            """Docstring and decorators both."""
            total = a + b  # and a comment
            return total * 3
        ''',
    "indented inside an if block": '''
        if True:
            def f(a, b=2):
                total = a + b
                return total * 3
        ''',
}


@pytest.mark.parametrize("variant", sorted(SAME_AS_BASE))
def test_presentation_changes_keep_the_identity(load_module: Loader, variant: str) -> None:
    base = load_module(BASE)
    other = load_module(SAME_AS_BASE[variant])
    assert base.f is not other.f and base.__file__ != other.__file__
    assert other.f(1) == base.f(1)
    assert ident(other) == ident(base)


def test_docstrings_of_nested_functions_and_docstring_only_bodies(load_module: Loader) -> None:
    a = load_module('''
        def f(x):
            def inner(y):
                """Inner doc."""
                return y + 1
            return inner(x)

        def g():
            """Only a docstring."""
        ''')
    b = load_module('''
        def f(x):
            def inner(y):
                return y + 1
            return inner(x)

        def g():
            pass
        ''')
    assert ident(a) == ident(b)
    assert ident(a, "g") == ident(b, "g")


def test_the_qualified_name_is_part_of_the_identity(load_module: Loader) -> None:
    # Two methods with the same source in two classes, two closures in two factories.
    m = load_module('''
        class A:
            def m(self, x):
                return x + 1

        class B:
            def m(self, x):
                return x + 1

        def outer_one():
            def f(x):
                return x
            return f

        def outer_two():
            def f(x):
                return x
            return f
        ''')
    assert m.A.m.__qualname__ != m.B.m.__qualname__
    assert function_identity(m.A.m) != function_identity(m.B.m)
    assert function_identity(m.outer_one()) != function_identity(m.outer_two())
    assert function_identity(m.outer_one()) == function_identity(m.outer_one())


def test_identity_is_16_bytes_and_repeatable(load_module: Loader) -> None:
    m = load_module(BASE)
    first = ident(m)
    assert isinstance(first, bytes) and len(first) == 16
    assert ident(m) == first


# -- what MUST change the identity -------------------------------------------------------------

DIFFERENT_FROM_BASE = {
    "operator": BASE.replace("a + b", "a - b"),
    "constant": BASE.replace("* 3", "* 4"),
    "operand order": BASE.replace("a + b", "b + a"),
    "local name": BASE.replace("total", "acc"),
    "parameter name": BASE.replace("(a, b=2)", "(x, b=2)").replace("= a + b", "= x + b"),
    "default expression": BASE.replace("b=2", "b=1 + 1"),
    "extra statement": BASE.replace("    return", "    total = total + 0\n    return"),
    "function name": BASE.replace("def f(", "def g(") + "\nf = g\n",
    "a string that is not a docstring": BASE.replace("    return", '    "not a docstring"\n    return'),
    "async": BASE.replace("def f(", "async def f("),
}


@pytest.mark.parametrize("variant", sorted(DIFFERENT_FROM_BASE))
def test_body_changes_change_the_identity(load_module: Loader, variant: str) -> None:
    base = load_module(BASE)
    other = load_module(DIFFERENT_FROM_BASE[variant])
    assert ident(other) != ident(base)


def test_nested_decorator_change_changes_the_identity(load_module: Loader) -> None:
    # Only the function's own decorators are presentation; one inside its body is code.
    src = '''
        import functools

        def f(x):
            @functools.lru_cache(maxsize=SIZE)
            def inner(y):
                return y * 2
            return inner(x)
        '''
    assert ident(load_module(src.replace("SIZE", "1"))) != ident(load_module(src.replace("SIZE", "2")))


# -- closures and defaults ---------------------------------------------------------------------

FACTORY = '''
def make(k):
    def f(x):
        return x + k
    return f
'''


def test_closure_values_are_part_of_the_identity(load_module: Loader) -> None:
    m = load_module(FACTORY)
    assert function_identity(m.make(1)) == function_identity(m.make(1))
    assert function_identity(m.make(1)) != function_identity(m.make(2))
    assert function_identity(m.make(1)) != function_identity(m.make(1.0))
    assert function_identity(m.make([1, 2])) != function_identity(m.make([1, 3]))
    assert function_identity(sample.make_adder(1)) != function_identity(sample.make_adder(2))


def test_a_mutated_closure_value_is_seen_at_the_next_identity(load_module: Loader) -> None:
    m = load_module(FACTORY)
    table = [1, 2]
    f = m.make(table)
    before = function_identity(f)
    table.append(3)
    assert function_identity(f) != before


def test_default_values_are_part_of_the_identity(load_module: Loader) -> None:
    # Same source; the defaults differ only through the constant evaluated at definition time
    # (which the function itself never reads).
    src = '''
        K = {k!r}

        def f(x, k=K, *, j=K):
            return x + k + j
        '''
    one, one_again, two = (load_module(src.format(k=k)) for k in (1, 1, 2))
    assert ident(one) == ident(one_again)
    assert ident(one) != ident(two)

    f = one.f
    before = function_identity(f)
    f.__defaults__ = (5,)
    assert function_identity(f) != before
    f.__defaults__ = (1,)
    assert function_identity(f) == before
    f.__kwdefaults__ = {"j": 5}
    assert function_identity(f) != before


# -- globals -----------------------------------------------------------------------------------

READS_CONSTANT = '''
LIMIT = {limit!r}

def f(x):
    return min(x, LIMIT)
'''


def test_a_module_constant_the_function_reads_is_part_of_the_identity(load_module: Loader) -> None:
    a = load_module(READS_CONSTANT.format(limit=10))
    b = load_module(READS_CONSTANT.format(limit=10))
    c = load_module(READS_CONSTANT.format(limit=11))
    d = load_module(READS_CONSTANT.format(limit=10.0))
    assert ident(a) == ident(b)
    assert ident(a) != ident(c)
    assert ident(a) != ident(d)


def test_editing_a_constant_in_place_changes_the_identity(load_module: Loader) -> None:
    # The notebook case: the same function object, a constant rebound or mutated, a new identity.
    m = load_module(READS_CONSTANT.format(limit=[1, 2]))
    before = ident(m)
    m.LIMIT.append(3)
    assert ident(m) != before
    m.LIMIT = [1, 2]
    assert ident(m) == before
    m.LIMIT = 7
    assert ident(m) != before


def test_a_constant_the_function_does_not_read_is_irrelevant(load_module: Loader) -> None:
    a = load_module(READS_CONSTANT.format(limit=10) + "\nUNUSED = 1\n")
    b = load_module(READS_CONSTANT.format(limit=10) + "\nUNUSED = 2\n")
    assert ident(a) == ident(b)


HELPERS = '''
def deepest(x):
    return x + {step!r}

def helper(x):
    return deepest(x) * 2

def f(x):
    return helper(x) - 1
'''


def test_an_edited_helper_changes_the_identity(load_module: Loader) -> None:
    a = load_module(HELPERS.format(step=1))
    b = load_module(HELPERS.format(step=1))
    c = load_module(HELPERS.format(step=2))
    assert ident(a) == ident(b)
    assert ident(a, "helper") != ident(c, "helper")
    assert ident(a) != ident(c)  # f -> helper -> deepest: the edit two calls away is seen


def test_an_edited_helper_imported_from_another_module_changes_the_identity(load_module: Loader) -> None:
    lib1 = load_module("def helper(x):\n    return x + 1\n")
    lib2 = load_module("def helper(x):\n    return x + 2\n")
    lib3 = load_module("def helper(x):\n    '''Same code.'''\n    return x + 1\n")
    users = [
        load_module(f"from {lib.__name__} import helper\n\ndef f(x):\n    return helper(x) * 2\n")
        for lib in (lib1, lib2, lib3)
    ]
    assert ident(users[0]) != ident(users[1])
    assert ident(users[0]) == ident(users[2])


def test_an_edited_helper_called_through_its_module_changes_the_identity(load_module: Loader) -> None:
    lib = load_module("LIMIT = 3\n\ndef helper(x):\n    return x + 1\n")
    same = load_module("def helper(x):\n    \'\'\'Same code.\'\'\'\n    return x + 1\n")
    edited = load_module("def helper(x):\n    return x + 2\n")
    user = load_module(f"import {lib.__name__} as helpers\n\ndef f(x):\n    return helpers.helper(x) * 2\n")
    before = ident(user)
    lib.helper = same.helper
    assert ident(user) == before
    lib.LIMIT = 4  # a name the function never takes from the module
    assert ident(user) == before
    lib.helper = edited.helper
    assert ident(user) != before


def test_rebinding_a_helper_changes_the_identity(load_module: Loader) -> None:
    m = load_module(HELPERS.format(step=1))
    other = load_module(HELPERS.format(step=5))
    before = ident(m)
    m.deepest = other.deepest
    assert ident(m) != before


def test_a_global_function_is_identified_by_content_not_by_object(load_module: Loader) -> None:
    m = load_module(HELPERS.format(step=1))
    twin = load_module(HELPERS.format(step=1))
    before = ident(m)
    m.helper = twin.helper  # another object with the same code and the same reads
    assert ident(m) == before


def _plus_one(x: int) -> int:
    return x + 1


def _times_two(x: int) -> int:
    return x * 2


def test_a_function_whose_code_is_replaced_is_another_function() -> None:
    # IPython's autoreload edits a function in place: the object stays, its __code__ is replaced.
    def edited(x: int) -> int:
        return x

    before = function_identity(edited)
    edited.__code__ = _plus_one.__code__
    plus_one = function_identity(edited)
    edited.__code__ = _times_two.__code__
    assert len({before, plus_one, function_identity(edited)}) == 3
    edited.__code__ = _plus_one.__code__
    assert function_identity(edited) == plus_one


# -- installed modules and builtins ------------------------------------------------------------


def test_an_installed_module_function_is_identified_by_its_name() -> None:
    identity = function_identity(json.dumps)
    assert identity == function_identity(json.dumps)
    assert identity != function_identity(json.loads)
    # A function object with other code but the same module and qualified name: the same
    # identity, because an installed function is identified by name, not by its source.
    stand_in = types.FunctionType(json.loads.__code__, json.__dict__, "dumps")
    stand_in.__qualname__ = "dumps"
    assert stand_in.__module__ == "json"
    assert function_identity(stand_in) == identity
    renamed = types.FunctionType(json.dumps.__code__, json.__dict__, "loads")
    renamed.__qualname__ = "loads"
    assert function_identity(renamed) == function_identity(json.loads)


def _as_installed(func: Callable[..., Any]) -> Callable[..., Any]:
    """The same function made in an installed module's namespace (json's)."""
    made = types.FunctionType(func.__code__, json.__dict__, func.__name__, func.__defaults__,
                              func.__closure__)
    made.__qualname__ = func.__qualname__
    assert made.__module__ == "json"
    return made


def test_installed_lambdas_and_nested_functions_are_told_apart() -> None:
    # Every lambda of a module has one qualified name, and so has every closure its maker
    # returns: for an installed module the name alone would make them one function.
    one, two = _as_installed(lambda x: x + 1), _as_installed(lambda x: x + 2)
    assert one.__qualname__ == two.__qualname__
    assert function_identity(one, strict=False) != function_identity(two, strict=False)

    def scaled_by(k: int, offset: int = 0) -> Callable[[int], int]:
        def scaled(x: int, y: int = offset) -> int:
            return x * k + y

        return scaled

    three, four = _as_installed(scaled_by(3)), _as_installed(scaled_by(4))
    assert three.__qualname__ == four.__qualname__
    assert function_identity(three) != function_identity(four)
    assert function_identity(three) != function_identity(_as_installed(scaled_by(3, offset=1)))
    assert function_identity(three) == function_identity(_as_installed(scaled_by(3)))


def test_an_installed_module_function_ignores_its_module_state(monkeypatch: pytest.MonkeyPatch) -> None:
    before = function_identity(json.dumps)
    monkeypatch.setattr(json, "_default_encoder", json.JSONEncoder(indent=3))
    assert function_identity(json.dumps) == before


BUILTINS: dict[str, Callable[..., Any]] = {
    "len": len,
    "abs": abs,
    "math.sqrt": math.sqrt,
    "math.cos": math.cos,
    "str.upper": str.upper,
    "str.lower": str.lower,
    "bytes.upper": bytes.upper,
    "str.__add__": str.__add__,
    "dict.fromkeys": dict.fromkeys,
    "numpy.sqrt": np.sqrt,
    "numpy.cbrt": np.cbrt,
    "json.dumps": json.dumps,
}


def test_builtins_have_identities_that_differ_from_each_other() -> None:
    identities = {name: function_identity(f) for name, f in BUILTINS.items()}
    assert all(isinstance(i, bytes) and len(i) == 16 for i in identities.values())
    assert len(set(identities.values())) == len(identities), identities
    assert identities == {name: function_identity(f) for name, f in BUILTINS.items()}


def test_numpy_array_function_dispatchers_have_identities() -> None:
    # np.sum, np.mean, np.concatenate... are numpy._ArrayFunctionDispatcher objects (numpy >= 1.25),
    # not Python functions; they are installed functions and should be identified by name.
    dispatchers = [np.sum, np.mean, np.concatenate]
    identities = [function_identity(f) for f in dispatchers]
    assert len(set(identities)) == len(identities)
    assert function_identity(functools.partial(np.sum, axis=0)) != function_identity(
        functools.partial(np.sum, axis=1)
    )


def test_bound_methods_differ_with_their_instance_state() -> None:
    two, other_two, three = sample.Scaler(2.0), sample.Scaler(2.0), sample.Scaler(3.0)
    assert function_identity(two.apply) == function_identity(other_two.apply)
    assert function_identity(two.apply) != function_identity(three.apply)
    assert function_identity(two.apply) != function_identity(two.other)
    assert function_identity(two.apply) != function_identity(sample.Scaler.apply)
    before = function_identity(two.apply)
    two.factor = 4.0
    assert function_identity(two.apply) != before


def test_bound_builtin_methods_differ_with_their_instance() -> None:
    # "x{}".format and "y{}".format compute different things, as do two dicts' .get.
    assert f"x{1}" != f"y{1}"
    assert function_identity("x{}".format) != function_identity("y{}".format)
    assert function_identity({1: "a"}.get) != function_identity({1: "b"}.get)
    assert function_identity((1).__add__) != function_identity((2).__add__)


def test_partials_differ_with_their_arguments() -> None:
    p = functools.partial
    f = sample.weighted_total
    assert function_identity(p(f, ["a"])) == function_identity(p(f, ["a"]))
    assert function_identity(p(f, ["a"])) != function_identity(p(f, ["b"]))
    assert function_identity(p(f, bias=1.0)) != function_identity(p(f, bias=2.0))
    assert function_identity(p(f, bias=1.0)) != function_identity(p(f, scale=1.0))
    assert function_identity(p(f, bias=1.0, scale=2)) == function_identity(p(f, scale=2, bias=1.0))
    assert function_identity(p(f, ["a"])) != function_identity(p(f, bias=["a"]))
    assert function_identity(p(f)) != function_identity(f)
    assert function_identity(p(math.pow, 2)) != function_identity(p(math.pow, 3))
    assert function_identity(p(p(f, ["a"]), bias=1.0)) == function_identity(p(f, ["a"], bias=1.0))


# -- version= ----------------------------------------------------------------------------------


def test_version_overrides_the_source(load_module: Loader) -> None:
    a = load_module(BASE)
    b = load_module(DIFFERENT_FROM_BASE["operator"])
    assert ident(a) != ident(b)
    assert ident(a, version="1") == ident(b, version="1")
    assert ident(a, version="1") != ident(a, version="2")
    assert ident(a, version="1") != ident(a)
    renamed = load_module(DIFFERENT_FROM_BASE["function name"])
    assert ident(renamed, "g", version="1") != ident(a, version="1")


def test_version_ignores_what_the_function_reads(load_module: Loader) -> None:
    a = load_module(READS_CONSTANT.format(limit=1))
    b = load_module(READS_CONSTANT.format(limit=2))
    assert ident(a, version="v") == ident(b, version="v")


# -- strict mode -------------------------------------------------------------------------------

LAMBDAS = '''
square = lambda x: x * x

def make():
    return lambda x: x * 2

def make_other():
    return lambda x: x * 3

def make_scaled(k):
    return lambda x: x * k

same_line = [lambda x: x + 1 for _ in range(2)]
'''


def test_strict_mode_refuses_lambdas(load_module: Loader) -> None:
    m = load_module(LAMBDAS)
    for func in (m.square, m.make(), m.same_line[0]):
        with pytest.raises(IdentityError, match="lambda") as info:
            function_identity(func)
        assert isinstance(info.value, TypeError) and isinstance(info.value, PythagorasError)


def test_strict_mode_refuses_exec_functions() -> None:
    namespace: dict[str, Any] = {"__name__": "made_by_exec"}
    exec("def f(x):\n    return x + 1\n", namespace)  # noqa: S102
    with pytest.raises(IdentityError):
        function_identity(namespace["f"])
    with pytest.raises(IdentityError):
        function_identity(namespace["f"], strict=True)


def test_non_strict_mode_accepts_lambdas(load_module: Loader) -> None:
    m = load_module(LAMBDAS)
    one, two = m.make(), m.make()
    assert one is not two
    assert function_identity(one, strict=False) == function_identity(two, strict=False)
    first, second = m.same_line
    assert function_identity(first, strict=False) == function_identity(second, strict=False)
    assert function_identity(m.make(), strict=False) != function_identity(m.make_other(), strict=False)
    assert (function_identity(m.make_scaled(2), strict=False)
            != function_identity(m.make_scaled(3), strict=False))
    assert function_identity(m.square, strict=False) != function_identity(first, strict=False)


def test_non_strict_mode_accepts_exec_functions() -> None:
    made = []
    for body in ("x + 1", "x + 1", "x + 2"):
        namespace: dict[str, Any] = {"__name__": "made_by_exec"}
        exec(f"def f(x):\n    return {body}\n", namespace)  # noqa: S102
        made.append(function_identity(namespace["f"], strict=False))
    assert made[0] == made[1]
    assert made[0] != made[2]


def test_strict_mode_still_refuses_a_lambda_seen_before_in_non_strict_mode(load_module: Loader) -> None:
    # Whether a lambda is refused must not depend on what was asked before in the process.
    m = load_module(LAMBDAS)
    function_identity(m.square, strict=False)
    with pytest.raises(IdentityError):
        function_identity(m.square)


# -- recursion and resources -------------------------------------------------------------------

RECURSIVE = '''
def fact(n):
    return 1 if n <= 1 else n * fact(n - {step})

def is_even(n):
    return True if n == 0 else is_odd(n - 1)

def is_odd(n):
    return False if n == 0 else is_even(n - 1)

def make_countdown():
    def countdown(n):
        return 0 if n <= 0 else countdown(n - {step})
    return countdown
'''


def test_recursive_functions_have_an_identity(load_module: Loader) -> None:
    a = load_module(RECURSIVE.format(step=1))
    b = load_module(RECURSIVE.format(step=1))
    c = load_module(RECURSIVE.format(step=2))
    assert a.fact(5) == 120 and a.is_even(4)
    for name in ("fact", "is_even", "is_odd"):
        assert ident(a, name) == ident(a, name) == ident(b, name)
    assert ident(a, "fact") != ident(c, "fact")
    assert ident(a, "is_even") != ident(a, "is_odd")
    assert function_identity(a.make_countdown()) == function_identity(b.make_countdown())
    assert function_identity(a.make_countdown()) != function_identity(c.make_countdown())
    assert function_identity(sample.countdown) == function_identity(sample.countdown)


def test_mutual_recursion_sees_an_edit_on_either_side(load_module: Loader) -> None:
    a = load_module(RECURSIVE.format(step=1))
    b = load_module(RECURSIVE.format(step=1).replace(
        "return False if n == 0 else is_even(n - 1)", "return n != 0 and is_even(n - 1)"))
    assert ident(a, "is_odd") != ident(b, "is_odd")
    assert ident(a, "is_even") != ident(b, "is_even")


UNPICKLABLE_GLOBAL = '''
import threading

LOCK = threading.Lock()
LIMIT = {limit!r}

def f(x):
    with LOCK:
        return min(x, LIMIT)
'''


def test_a_function_reading_an_unpicklable_global_has_an_identity(load_module: Loader) -> None:
    a = load_module(UNPICKLABLE_GLOBAL.format(limit=1))
    b = load_module(UNPICKLABLE_GLOBAL.format(limit=1))
    c = load_module(UNPICKLABLE_GLOBAL.format(limit=2))
    assert a.LOCK is not b.LOCK
    assert isinstance(ident(a), bytes) and len(ident(a)) == 16
    assert ident(a) == ident(a) == ident(b)  # the lock stands for its type, not its id
    assert ident(a) != ident(c)  # and the data read next to it still counts
    edited = load_module(UNPICKLABLE_GLOBAL.format(limit=1).replace("min(x", "max(x"))
    assert ident(edited) != ident(a)


def test_a_closure_over_an_unpicklable_value_has_an_identity(load_module: Loader) -> None:
    m = load_module('''
        def make(resource, k):
            def f(x):
                with resource:
                    return x + k
            return f
        ''')
    assert function_identity(m.make(threading.Lock(), 1)) == function_identity(m.make(threading.Lock(), 1))
    assert function_identity(m.make(threading.Lock(), 1)) != function_identity(m.make(threading.Lock(), 2))


def test_unsupported_callables_are_refused() -> None:
    class Callable_:
        def __call__(self, x: int) -> int:
            return x

    with pytest.raises(IdentityError):
        function_identity(Callable_())


def test_callable_objects_outside_strict_mode_by_call_code_and_state() -> None:
    class Scaled:
        def __init__(self, factor: int) -> None:
            self.factor = factor

        def __call__(self, x: int) -> int:
            return self.factor * x

    class Scaled2:  # the same state, other code
        def __init__(self, factor: int) -> None:
            self.factor = factor

        def __call__(self, x: int) -> int:
            return self.factor + x

    assert function_identity(Scaled(2), strict=False) == function_identity(Scaled(2), strict=False)
    assert function_identity(Scaled(2), strict=False) != function_identity(Scaled(3), strict=False)
    Scaled2.__qualname__ = Scaled.__qualname__
    assert function_identity(Scaled(2), strict=False) != function_identity(Scaled2(2), strict=False)


def test_an_empty_piece_of_an_f_string_is_no_part_of_identity() -> None:
    # Python 3.12 parses f"{x:>{w}}" with an empty last piece in the nested format spec, which
    # 3.10, 3.11 and 3.13 do not write: the same code must have one identity on all of them.
    from pythagoras.identity.source import canonical_tree

    parsed = ast.parse('f"{x:>{w}}"')
    spec = parsed.body[0].value.values[0].format_spec  # type: ignore[attr-defined]
    as_312 = ast.parse('f"{x:>{w}}"')
    as_312.body[0].value.values[0].format_spec.values.append(ast.Constant(""))  # type: ignore[attr-defined]
    assert [type(v).__name__ for v in spec.values] in (["Constant", "FormattedValue"],
                                                       ["Constant", "FormattedValue", "Constant"])
    assert canonical_tree(as_312) == canonical_tree(parsed)
    assert canonical_tree(ast.parse('f"{x:>{w}}"')) != canonical_tree(ast.parse('f"{x:<{w}}"'))
