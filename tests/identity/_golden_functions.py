"""The functions of the golden addresses (``test_golden_addresses.py``). Their text is part of
the pinned addresses: editing this file changes them, as it would for a user."""

from __future__ import annotations

SCALE = 3


def scaled(x, factor=2):
    return x * factor * SCALE


def describe(name: str, *, width: int = 10) -> str:
    """A docstring is not part of the identity."""
    return f"{name:>{width}}"


def helper(values):
    return sorted(values)


def uses_helper(values):
    return helper(values)[:3]


class Model:
    def fit(self, data):
        return sum(data) / len(data)
