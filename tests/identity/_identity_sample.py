"""Helper module for the identity tests: functions, classes and values with a fixed content.

It is imported both by the test process (from ``tests/identity``) and by subprocesses that get a
copy of this file in their own working directory, so everything here must be independent of
paths, ``PYTHONHASHSEED`` and the order in which sets iterate.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field

WORDS = frozenset(
    "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi omicron pi rho "
    "sigma tau upsilon phi chi psi omega".split()
)
WEIGHTS = {"alpha": 1.5, "beta": 2.5, "gamma": -0.0}
SCALE = 3


@dataclass
class Point:
    x: float
    y: float
    tags: set[str] = field(default_factory=set)


@dataclass(frozen=True)
class Box:
    low: Point
    high: Point
    name: str = "box"


class Scaler:
    def __init__(self, factor: float) -> None:
        self.factor = factor

    def apply(self, x: float) -> float:
        return x * self.factor

    def other(self, x: float) -> float:
        return x + self.factor


def _weight(word: str) -> float:
    return WEIGHTS.get(word, 1.0)


def weighted_total(words: list[str], bias: float = 0.5, *, scale: int = SCALE) -> float:
    """A user function: reads globals (a frozenset, a dict, a helper) and has defaults."""
    kept = [w for w in words if w in WORDS]
    return scale * sum(_weight(w) for w in kept) + bias + math.pi * 0


def make_adder(k: int):
    def add(x: int) -> int:
        return x + k

    return add


def countdown(n: int) -> int:
    return 0 if n <= 0 else countdown(n - 1)


def compute_digests() -> dict[str, object]:
    """Everything the cross-process test compares, as hex digests (plus a set's iteration order)."""
    import numpy

    from pythagoras.identity import function_identity, hash_kwargs, hash_value

    words = set(WORDS)  # a set of strings: iterates in a PYTHONHASHSEED-dependent order
    by_word = {w: len(w) for w in words}  # insertion order follows the set's order
    cyclic: list[object] = [1, "x"]
    cyclic.append(cyclic)
    grid = numpy.arange(24, dtype=numpy.float64).reshape(4, 6)
    values = {
        "words": words,
        "by_word": by_word,
        "frozen": frozenset({("a", 1), ("b", 2), frozenset({"c", "d"})}),
        "nested": {"k": [words, {"inner": frozenset(words)}], "n": None, "t": (1, 1.0, True)},
        "array": grid,
        "fortran": numpy.asfortranarray(grid),
        "view": grid[::2, 1::2],
        "objects": numpy.array(sorted(words) + [None, 3], dtype=object),
        "scalar": numpy.float32(2.5),
        "point": Point(1.0, -2.0, tags=set(words)),
        "box": Box(Point(0.0, 0.0), Point(1.0, 1.0, {"corner", "far"})),
        "cyclic": cyclic,
    }
    out: dict[str, object] = {
        "file": __file__,
        "order": list(words),
        "kwargs": hash_kwargs(values).hex(),
    }
    for name, value in values.items():
        out["value:" + name] = hash_value(value).hex()
    callables = {
        "weighted_total": weighted_total,
        "adder": make_adder(7),
        "countdown": countdown,
        "method": Scaler(2.0).apply,
        "partial": functools.partial(weighted_total, bias=1.0),
        "json.dumps": __import__("json").dumps,
        "len": len,
        "math.sqrt": math.sqrt,
        "str.upper": str.upper,
        "numpy.sqrt": numpy.sqrt,
    }
    for name, func in callables.items():
        out["function:" + name] = function_identity(func).hex()
    return out
