"""Canonical hashes of values: equal values hash equal, distinct values hash distinct.

"Equal" here is structural and type-aware (``canon`` below), not Python's ``==``: ``1 == 1.0 ==
True`` and ``0.0 == -0.0`` in Python, yet a pure function can tell them apart, so they must get
different addresses; while two NaNs with the same bits are the same value even though
``nan != nan``.
"""

from __future__ import annotations

import copy
import functools
import io
import math
import pickle
import struct
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import _identity_sample as sample
import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from pythagoras.errors import PythagorasError, UnhashableArgument
from pythagoras.identity import hash_kwargs, hash_value

# -- a type-aware structural equality, independent of the encoder ------------------------------


def canon(x: Any) -> tuple[Any, ...]:
    """A totally ordered, type-tagged normal form: ``canon(a) == canon(b)`` iff a and b are
    structurally the same value (same types all the way down, floats compared bit for bit,
    dict/set order ignored)."""
    t = type(x)
    if x is None:
        return ("none",)
    if t is bool:
        return ("bool", x)
    if t is int:
        return ("int", x)
    if t is float:
        return ("float", struct.pack("<d", x))
    if t is str:
        return ("str", x)
    if t is bytes:
        return ("bytes", x)
    if t is tuple:
        return ("tuple", tuple(canon(i) for i in x))
    if t is list:
        return ("list", tuple(canon(i) for i in x))
    if t is dict:
        return ("dict", tuple(sorted((canon(k), canon(v)) for k, v in x.items())))
    if t is frozenset:
        return ("frozenset", tuple(sorted(canon(i) for i in x)))
    if t is set:
        return ("set", tuple(sorted(canon(i) for i in x)))
    raise AssertionError(f"canon: unexpected {t}")


def rebuild(x: Any) -> Any:
    """A structurally equal value made of new containers, with every dict and set built in the
    reverse order (so a different insertion order and, for sets, usually a different layout)."""
    t = type(x)
    if t is tuple:
        return tuple(rebuild(i) for i in x)
    if t is list:
        return [rebuild(i) for i in x]
    if t is dict:
        return {rebuild(k): rebuild(v) for k, v in reversed(list(x.items()))}
    if t is frozenset:
        return frozenset(rebuild(i) for i in reversed(list(x)))
    if t is set:
        out = set()
        for i in reversed(list(x)):
            out.add(rebuild(i))
        return out
    if t is str:
        return "".join(list(x)) if x else ""  # a new str object where CPython allows it
    if t is bytes:
        return bytes(bytearray(x))
    if t is int and not isinstance(x, bool):
        return int(str(x))
    return x


# -- strategies --------------------------------------------------------------------------------

TRICKY = [0, 1, -1, 0.0, -0.0, 1.0, -1.0, math.inf, -math.inf, math.nan, True, False, None,
          "", "1", b"", b"1", (), 2**64, -(2**64)]

leaves = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=6),
    st.binary(max_size=6),
    st.sampled_from(TRICKY),
)
# Dict keys exclude NaN: two distinct NaN objects are two distinct keys of one dict that encode
# identically; that case has its own explicit test (test_dict_keys_that_encode_alike...).
key_leaves = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False),
    st.text(max_size=6),
    st.binary(max_size=6),
)


def _hashable_children(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.lists(children, max_size=3).map(tuple) | st.frozensets(children, max_size=3)


hashables = st.recursive(leaves, _hashable_children, max_leaves=6)
hashable_keys = st.recursive(key_leaves, _hashable_children, max_leaves=6)


def _children(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(
        st.lists(children, max_size=4),
        st.lists(children, max_size=4).map(tuple),
        st.dictionaries(hashable_keys, children, max_size=4),
        st.frozensets(hashables, max_size=4),
        st.sets(hashables, max_size=4),
    )


values = st.recursive(leaves, _children, max_leaves=12)
small_values = st.recursive(
    st.sampled_from(TRICKY),
    lambda c: st.one_of(st.lists(c, max_size=2), st.lists(c, max_size=2).map(tuple),
                        st.frozensets(st.sampled_from(TRICKY[:9]), max_size=2),
                        st.dictionaries(st.sampled_from(TRICKY[:4]), c, max_size=2)),
    max_leaves=4,
)

PROPERTY = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def mutated(draw: st.DrawFn, value: Any) -> Any:
    """A copy of ``value`` that differs from it in one place: a leaf, a container's type, or an
    element added or removed."""
    t = type(value)
    if t in (list, tuple) and value and draw(st.booleans()):
        i = draw(st.integers(0, len(value) - 1))
        items = list(value)
        items[i] = draw(mutated(items[i]))
        return t(items)
    if t is dict and value and draw(st.booleans()):
        key = draw(st.sampled_from(sorted(value, key=canon)))
        out = dict(value)
        out[key] = draw(mutated(value[key]))
        return out
    choice = draw(st.integers(0, 3))
    if t in (list, tuple) and choice == 0:
        return tuple(value) if t is list else list(value)
    if t in (frozenset, set) and choice == 0:
        return set(value) if t is frozenset else frozenset(value)
    if t in (list, tuple, set, frozenset, dict) and choice == 1 and value:
        if t is dict:
            key = draw(st.sampled_from(sorted(value, key=canon)))
            return {k: v for k, v in value.items() if k is not key}
        items = list(value)
        del items[draw(st.integers(0, len(items) - 1))]
        return t(items)
    if t in (list, tuple) and choice == 2:
        return t([*value, draw(leaves)])
    if t in (set, frozenset) and choice == 2:
        return t([*value, draw(hashables)])
    return draw(leaves.filter(lambda new: canon(new) != canon(value)))


# -- properties --------------------------------------------------------------------------------


@PROPERTY
@given(values)
def test_a_deep_copy_hashes_the_same(value: Any) -> None:
    twin = copy.deepcopy(value)
    assert canon(twin) == canon(value)
    assert hash_value(twin) == hash_value(value)


@PROPERTY
@given(values)
def test_a_value_rebuilt_in_another_order_hashes_the_same(value: Any) -> None:
    twin = rebuild(value)
    assert canon(twin) == canon(value)
    assert hash_value(twin) == hash_value(value)
    assert hash_kwargs({"a": value, "b": [value]}) == hash_kwargs({"b": [twin], "a": twin})


@PROPERTY
@given(values, values)
def test_hashes_are_equal_exactly_when_values_are_structurally_equal(a: Any, b: Any) -> None:
    assert (hash_value(a) == hash_value(b)) == (canon(a) == canon(b))


@PROPERTY
@given(small_values, small_values)
def test_small_tricky_values_collide_only_when_structurally_equal(a: Any, b: Any) -> None:
    # A tiny domain of 0 / 0.0 / -0.0 / False / nan / "" / b"" / () ... so that hypothesis often
    # draws pairs that are == in Python but structurally different, and pairs that are the same.
    assert (hash_value(a) == hash_value(b)) == (canon(a) == canon(b))


@PROPERTY
@given(st.data())
def test_changing_one_place_changes_the_hash(data: st.DataObject) -> None:
    value = data.draw(values, label="value")
    other = data.draw(mutated(value), label="mutated")
    assume(canon(other) != canon(value))
    assert hash_value(other) != hash_value(value)
    assert hash_kwargs({"x": other}) != hash_kwargs({"x": value})


@PROPERTY
@given(st.dictionaries(st.text(min_size=1, max_size=5), values, max_size=5), st.randoms())
def test_keyword_order_is_irrelevant(kwargs: dict[str, Any], rnd: Any) -> None:
    items = list(kwargs.items())
    rnd.shuffle(items)
    assert hash_kwargs(dict(items)) == hash_kwargs(kwargs)


@PROPERTY
@given(st.dictionaries(st.text(max_size=5), values, min_size=1, max_size=4), values)
def test_hash_kwargs_depends_on_names_and_values(kwargs: dict[str, Any], extra: Any) -> None:
    renamed = {k + "_": v for k, v in kwargs.items()}
    assert hash_kwargs(renamed) != hash_kwargs(kwargs)
    name = sorted(kwargs)[0]
    changed = {**kwargs, name: [kwargs[name]]}
    assert hash_kwargs(changed) != hash_kwargs(kwargs)
    assume("\x00extra" not in kwargs)
    assert hash_kwargs({**kwargs, "\x00extra": extra}) != hash_kwargs(kwargs)


@PROPERTY
@given(st.lists(st.text(max_size=8), max_size=30), st.randoms())
def test_sets_of_strings_hash_regardless_of_build_order(words: list[str], rnd: Any) -> None:
    shuffled = list(words)
    rnd.shuffle(shuffled)
    assert hash_value(set(shuffled)) == hash_value(set(words))
    assert hash_value(frozenset(shuffled)) == hash_value(frozenset(words))
    assert hash_value(set(words)) != hash_value(frozenset(words))
    assert hash_value(set(words)) != hash_value(sorted(set(words)))


# -- explicit cases: scalars -------------------------------------------------------------------


def test_hashes_are_16_bytes_and_repeatable() -> None:
    for v in [None, 0, "a", [1, {2: 3}], np.arange(3)]:
        assert isinstance(hash_value(v), bytes) and len(hash_value(v)) == 16
        assert hash_value(v) == hash_value(v)
    assert len(hash_kwargs({"a": 1})) == 16


def test_one_one_point_oh_and_true_are_distinct() -> None:
    assert 1 == 1.0 == True
    digests = {hash_value(1), hash_value(1.0), hash_value(True), hash_value(1 + 0j)}
    assert len(digests) == 4
    assert len({hash_value(0), hash_value(0.0), hash_value(False), hash_value(None)}) == 4
    assert hash_kwargs({"x": 1}) != hash_kwargs({"x": 1.0}) != hash_kwargs({"x": True})
    assert hash_kwargs({"x": 1}) != hash_kwargs({"x": True})


def test_zero_and_negative_zero_are_distinct_nan_is_itself() -> None:
    assert hash_value(0.0) != hash_value(-0.0)
    assert hash_value(float("nan")) == hash_value(float("nan")) == hash_value(math.nan)
    assert hash_value([float("nan")]) == hash_value([math.nan])
    assert hash_value(math.inf) != hash_value(-math.inf)
    assert hash_value(math.nan) != hash_value(math.inf)


def test_int_encoding_is_unambiguous_at_byte_boundaries() -> None:
    ns = [0, 1, -1, 127, 128, -128, -129, 255, 256, -256,
          2**63 - 1, 2**63, -(2**63), 2**64, 10**40, -(10**40)]
    assert len({hash_value(n) for n in ns}) == len(ns)
    assert hash_value(10**40) == hash_value(int("1" + "0" * 40))


def test_strings_and_bytes_and_bytearrays_are_distinct() -> None:
    digests = [hash_value(v) for v in ["ab", b"ab", bytearray(b"ab"), ("a", "b"), ["a", "b"], "a", "b"]]
    assert len(set(digests)) == len(digests)
    assert hash_value("\ud800") == hash_value("\ud800")  # a lone surrogate still hashes
    assert hash_value("\ud800") != hash_value("\ud801")


# -- explicit cases: containers ----------------------------------------------------------------


def test_list_and_tuple_with_the_same_items_are_distinct() -> None:
    assert hash_value([1]) != hash_value((1,))
    assert hash_value([]) != hash_value(())
    assert hash_value({1}) != hash_value(frozenset({1}))
    assert hash_value(set()) != hash_value(frozenset())
    assert hash_value({}) != hash_value(set())
    assert hash_value([1]) == hash_value([1])


def test_container_boundaries_are_unambiguous() -> None:
    # Item concatenations that a naive encoding would confuse.
    cases = [
        [[1, 2], [3]],
        [[1], [2, 3]],
        [[1, 2, 3]],
        [1, [2, 3]],
        ["ab", "c"],
        ["a", "bc"],
        ["abc"],
        {"a": "bc"},
        {"ab": "c"},
        {("a", "b"): 1},
        [("a", "b"), 1],
        {"a": 1, "b": 2},
        {"a": 2, "b": 1},
        [("a", 1), ("b", 2)],
    ]
    assert len({hash_value(c) for c in cases}) == len(cases)


def test_nesting_is_unambiguous() -> None:
    cases = [[[1], 2], [[1, 2]], [[], 1, 2], [[1, 2], []], [1, [2]], [[[1]], 2], [[[1], 2]],
             ([1], 2), [(1,), 2]]
    assert len({hash_value(c) for c in cases}) == len(cases)
    assert hash_value({"a": [1], "b": 2}) != hash_value({"a": [1, 2]})


@pytest.mark.parametrize("sep", range(256))
def test_tokens_are_self_delimiting(sep: int) -> None:
    # Whatever byte a tag or a length happens to be, moving it from the end of one item to the
    # start of the next must change the hash.
    c = chr(sep)
    assert hash_value([f"a{c}b", "c"]) != hash_value(["a", f"b{c}c"])
    assert hash_value([bytes([97, sep, 98]), b"c"]) != hash_value([b"a", bytes([98, sep, 99])])
    x = int.from_bytes(bytes([2, sep, 3]), "little", signed=True)
    y = int.from_bytes(bytes([1, sep, 2]), "little", signed=True)
    assert hash_value((1, x)) != hash_value((y, 3))


def test_dict_insertion_order_is_irrelevant() -> None:
    a = {"x": 1, "y": [1, 2], 3: "z", (1, 2): None}
    b = {(1, 2): None, 3: "z", "y": [1, 2], "x": 1}
    assert list(a) != list(b)
    assert hash_value(a) == hash_value(b)
    assert hash_value({"x": 1, "y": 2}) != hash_value({"x": 2, "y": 1})


def test_ordered_dict_order_matters_and_differs_from_dict() -> None:
    # OrderedDict compares order-sensitively, so its order is part of its value.
    a = OrderedDict([("x", 1), ("y", 2)])
    b = OrderedDict([("y", 2), ("x", 1)])
    assert a != b
    assert hash_value(a) != hash_value(b)
    assert hash_value(a) == hash_value(OrderedDict([("x", 1), ("y", 2)]))
    assert hash_value(a) != hash_value(dict(a))


def test_dict_keys_that_encode_alike_do_not_make_insertion_order_matter() -> None:
    # Two distinct NaN objects are two keys of one dict (NaN != NaN) with the same encoding.
    # Built in either order the dicts are equal (even by Python's ==), so they must hash equal.
    n1, n2 = float("nan"), float("nan")
    first = {n1: "one", n2: "two"}
    second = {n2: "two", n1: "one"}
    assert first == second
    assert canon(first) == canon(second)
    assert hash_value(first) == hash_value(second)


def test_dict_keys_of_plain_objects_do_not_make_insertion_order_matter() -> None:
    # The same defect with a realistic key: instances of a class with identity equality.
    k1, k2 = sample.Scaler(1.0), sample.Scaler(1.0)
    first = {k1: "a", k2: "b"}
    second = {k2: "b", k1: "a"}
    assert hash_value(first) == hash_value(second)


def test_sets_of_strings() -> None:
    words = [f"w{i}-{'x' * (i % 5)}" for i in range(200)]
    forward, backward = set(), set()
    for w in words:
        forward.add(w)
    for w in reversed(words):
        backward.add(w)
    assert hash_value(forward) == hash_value(backward)
    assert hash_value(forward) != hash_value(forward - {"w0-"})
    assert hash_value({"a", "b"}) != hash_value({"ab"})
    assert hash_value({"a", "b"}) != hash_value({"a", "b", ""})
    assert hash_kwargs({"s": forward}) == hash_kwargs({"s": backward})


# -- explicit cases: cycles --------------------------------------------------------------------


def test_a_list_containing_itself_hashes_deterministically() -> None:
    a: list[Any] = [1]
    a.append(a)
    b: list[Any] = [1]
    b.append(b)
    assert hash_value(a) == hash_value(a) == hash_value(b) == hash_value(copy.deepcopy(a))
    assert hash_value(a) != hash_value([1, [1]])
    c: list[Any] = [2]
    c.append(c)
    assert hash_value(a) != hash_value(c)
    assert hash_kwargs({"x": a}) == hash_kwargs({"x": b})


def test_other_cycles_hash_deterministically() -> None:
    d: dict[str, Any] = {"n": 1}
    d["self"] = d
    assert hash_value(d) == hash_value(copy.deepcopy(d))
    e: dict[str, Any] = {"n": 2}
    e["self"] = e
    assert hash_value(d) != hash_value(e)

    x: list[Any] = []
    y: list[Any] = [x]
    x.append(y)
    assert hash_value(x) == hash_value(copy.deepcopy(x))
    assert hash_value([x, x]) == hash_value(copy.deepcopy([x, x]))

    node = sample.Point(1.0, 2.0)
    node.tags = {"loop"}
    node.me = node  # type: ignore[attr-defined]
    assert hash_value(node) == hash_value(copy.deepcopy(node))


def test_shared_references_hash_like_copies() -> None:
    inner = [1, 2]
    assert hash_value([inner, inner]) == hash_value([[1, 2], [1, 2]])


# -- explicit cases: objects -------------------------------------------------------------------


def test_dataclass_instances_hash_by_content() -> None:
    p = sample.Point(1.0, 2.0, {"a", "b"})
    assert hash_value(p) == hash_value(sample.Point(1.0, 2.0, {"b", "a"}))
    assert hash_value(p) == hash_value(copy.deepcopy(p))
    assert hash_value(p) != hash_value(sample.Point(1.0, 2.5, {"a", "b"}))
    assert hash_value(p) != hash_value(sample.Point(1.0, 2.0, {"a"}))
    assert hash_value(p) != hash_value(sample.Point(1, 2.0, {"a", "b"}))  # int vs float field
    assert hash_value(p) != hash_value((1.0, 2.0, {"a", "b"}))
    box = sample.Box(sample.Point(0, 0), p)
    assert hash_value(box) == hash_value(sample.Box(sample.Point(0, 0), copy.deepcopy(p)))
    assert hash_value(box) != hash_value(sample.Box(sample.Point(0, 0), p, name="other"))


@dataclass
class _PointA:
    x: int


@dataclass
class _PointB:
    x: int


@dataclass(slots=True)
class _Slotted:
    x: int
    y: list[int]


def test_dataclasses_of_different_classes_are_distinct() -> None:
    assert hash_value(_PointA(1)) != hash_value(_PointB(1))
    assert hash_value(_PointA(1)) == hash_value(_PointA(1))
    assert hash_value(_Slotted(1, [2])) == hash_value(_Slotted(1, [2]))
    assert hash_value(_Slotted(1, [2])) != hash_value(_Slotted(1, [3]))


def test_classes_modules_and_partials_as_values() -> None:
    assert hash_value(int) != hash_value(float)
    assert hash_value(math) != hash_value(np)
    p1 = functools.partial(sample.weighted_total, bias=1.0)
    p2 = functools.partial(sample.weighted_total, bias=2.0)
    assert hash_value(p1) != hash_value(p2)
    assert hash_value(p1) == hash_value(functools.partial(sample.weighted_total, bias=1.0))


def test_bound_builtin_methods_as_values_depend_on_their_instance() -> None:
    # dict.get bound to two different dicts are two different callables.
    assert hash_value({1: "a"}.get) != hash_value({1: "b"}.get)


# -- explicit cases: numpy ---------------------------------------------------------------------


def test_numpy_memory_layout_does_not_matter() -> None:
    a = np.arange(60, dtype=np.float64).reshape(6, 10)
    f = np.asfortranarray(a)
    assert f.flags.f_contiguous and not f.flags.c_contiguous
    assert hash_value(a) == hash_value(f) == hash_value(a.copy())
    view = a[::2, 1:7:3]
    assert not view.flags.c_contiguous
    assert hash_value(view) == hash_value(np.ascontiguousarray(view))
    reversed_view = a[::-1]
    assert hash_value(reversed_view) == hash_value(reversed_view.copy())
    assert hash_value(a.T) == hash_value(np.ascontiguousarray(a.T))
    assert hash_value(view) != hash_value(a)


def test_numpy_dtype_and_shape_are_part_of_the_value() -> None:
    base = np.arange(6, dtype=np.int64)
    variants = [
        base,
        base.astype(np.int32),
        base.astype(np.float64),
        base.astype(np.uint64),
        base.reshape(2, 3),
        base.reshape(3, 2),
        base.reshape(6, 1),
        base.view(np.float64),  # same bytes, other dtype
        base.view(np.uint8).reshape(6, 8),  # same bytes, other dtype and shape
        base[:5],
    ]
    assert len({hash_value(v) for v in variants}) == len(variants)
    assert hash_value(np.zeros((0, 3))) != hash_value(np.zeros((3, 0)))
    assert hash_value(np.array([1.0, 2.0])) != hash_value([1.0, 2.0])
    assert hash_value(np.array([1, 2])) != hash_value(np.array([1, 3]))


def test_numpy_one_mebibyte_array() -> None:
    data = np.frombuffer(np.random.default_rng(0).bytes(1 << 20), dtype=np.uint8)
    assert data.nbytes == 1 << 20
    digest = hash_value(data)
    assert hash_value(data.copy()) == digest
    for position in (0, 1 << 19, (1 << 20) - 1):
        flipped = data.copy()
        flipped[position] ^= 1
        assert hash_value(flipped) != digest, position
    as_floats = data.view(np.float64)
    assert hash_value(as_floats) != digest


def test_numpy_object_arrays() -> None:
    a = np.array([1, "a", None, (2, 3)], dtype=object)
    b = np.empty(4, dtype=object)
    b[:] = [1, "a", None, (2, 3)]
    assert hash_value(a) == hash_value(b)
    c = b.copy()
    c[0] = 1.0
    assert hash_value(a) != hash_value(c)
    assert hash_value(a) != hash_value([1, "a", None, (2, 3)])
    grid = np.array([[1, "x"], ["y", 2]], dtype=object)
    assert hash_value(grid) != hash_value(grid.reshape(4))
    assert hash_value(grid) == hash_value(np.asfortranarray(grid))
    assert hash_value(grid.T) != hash_value(grid)
    with pytest.raises(UnhashableArgument):
        hash_value(np.array([threading.Lock(), 1], dtype=object))


def test_numpy_scalars() -> None:
    scalars = [np.float64(1.0), np.float32(1.0), np.int64(1), np.int32(1), np.uint8(1), np.bool_(True),
               np.complex128(1), 1.0, 1, True, np.array(1.0), np.array([1.0])]
    assert len({hash_value(s) for s in scalars}) == len(scalars)
    assert hash_value(np.float64(2.5)) == hash_value(np.float64(2.5))
    assert hash_value(np.float64(2.5)) != hash_value(np.float64(3.5))
    assert hash_value(np.str_("ab")) == hash_value(np.str_("ab"))
    assert hash_value(np.str_("ab")) != hash_value("ab")
    assert hash_value(np.datetime64("2024-01-01")) != hash_value(np.datetime64("2024-01-02"))


@pytest.mark.filterwarnings("ignore::PendingDeprecationWarning")  # np.matrix
def test_numpy_array_subclasses_are_not_plain_arrays() -> None:
    # A masked array's mask is part of its value: sum() of these two is 1 and 2.
    data = [1, 2]
    m1 = np.ma.masked_array(data, mask=[False, True])
    m2 = np.ma.masked_array(data, mask=[True, False])
    assert m1.sum() != m2.sum()
    assert hash_value(m1) != hash_value(m2)
    assert hash_value(m1) != hash_value(np.array(data))
    # A matrix multiplies differently from an ndarray with the same data.
    a = np.array([[1, 2], [3, 4]])
    assert not np.array_equal(np.asmatrix(a) * np.asmatrix(a), a * a)
    assert hash_value(np.asmatrix(a)) != hash_value(a)


# -- unhashable values -------------------------------------------------------------------------


def _generator() -> Any:
    yield 1


@pytest.mark.parametrize("kind", ["lock", "generator", "open file", "nested lock"])
def test_unpicklable_values_are_refused(kind: str, tmp_path: Any) -> None:
    with open(tmp_path / "f.txt", "w") as handle:
        value = {
            "lock": lambda: threading.Lock(),
            "generator": lambda: _generator(),
            "open file": lambda: handle,
            "nested lock": lambda: {"cfg": [1, (2, threading.Lock())]},
        }[kind]()
        with pytest.raises((TypeError, pickle.PicklingError)):
            pickle.dumps(value)  # the premise: pickle refuses it too
        with pytest.raises(UnhashableArgument) as info:
            hash_value(value)
        assert isinstance(info.value, TypeError)
        assert isinstance(info.value, PythagorasError)
        with pytest.raises(UnhashableArgument) as info:
            hash_kwargs({"fine": 1, "the_culprit": value, "zzz": 2})
        assert isinstance(info.value, TypeError)
        assert "the_culprit" in str(info.value)
        assert "'fine'" not in str(info.value) and "'zzz'" not in str(info.value)


def test_unpicklable_attribute_of_an_object_is_refused() -> None:
    point = sample.Point(1.0, 2.0)
    point.lock = threading.Lock()  # type: ignore[attr-defined]
    with pytest.raises(UnhashableArgument, match="'p'"):
        hash_kwargs({"p": point})


def test_an_open_in_memory_stream_is_refused() -> None:
    with pytest.raises(UnhashableArgument):
        hash_value(io.BufferedReader(io.BytesIO(b"abc")))


def test_a_failed_hash_leaves_no_state_behind() -> None:
    # An encoder is per hash: a refusal must not poison the next, unrelated hash.
    before = hash_kwargs({"a": [1, 2]})
    with pytest.raises(UnhashableArgument):
        hash_kwargs({"a": [1, threading.Lock()]})
    assert hash_kwargs({"a": [1, 2]}) == before
