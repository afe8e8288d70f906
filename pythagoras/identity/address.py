"""A call's address: the identity of its function plus the canonical hash of its arguments."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["CallAddress"]


@dataclass(frozen=True, slots=True)
class CallAddress:
    """Where a call's result lives. Equal calls on any machine have equal addresses.

    The keys of its records are made from it by :mod:`pythagoras.records.keys`
    (``docs/protocol.md``, "Addresses and keys").
    """

    function: str  # 32 hex digits: the function's identity
    arguments: str  # 32 hex digits: the canonical hash of the arguments

    @classmethod
    def of(cls, function_id: bytes, arguments_hash: bytes) -> CallAddress:
        return cls(function_id.hex(), arguments_hash.hex())

    def __str__(self) -> str:
        return f"{self.function}/{self.arguments}"
