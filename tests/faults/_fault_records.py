"""Where a call's records live, and the ways the fault tests damage a record file."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from pythagoras.identity.address import CallAddress
from pythagoras.identity.calls import arguments_hash
from pythagoras.identity.functions import function_identity

#: How a record file is damaged: cut short (a crash, a partial arrival from a sync service),
#: overwritten with bytes of no frame (a disk or a tool gone wrong), one bit flipped (bit rot),
#: emptied (a placeholder of an online-only file).
DAMAGE = ("truncated", "garbage", "flipped", "empty")


def damage(path: Path, how: str) -> bytes:
    """Damage the record file in place, as a file system would (no store involved); the bytes
    it held before."""
    data = path.read_bytes()
    if how == "truncated":
        damaged = data[: len(data) // 2]
    elif how == "garbage":
        damaged = bytes((i * 37 + 11) % 256 for i in range(len(data)))
    elif how == "flipped":
        damaged = data[:-1] + bytes([data[-1] ^ 0x01])
    elif how == "empty":
        damaged = b""
    else:
        raise ValueError(how)
    path.write_bytes(damaged)
    return data


def executor_address(fn: Callable[..., Any], *args: Any) -> CallAddress:
    """The address of ``executor.submit(fn, *args)`` (as ``SwarmClient.call`` takes it)."""
    return CallAddress(function_identity(fn, strict=False).hex(), arguments_hash(fn, args, {}).hex())


def request_key(address: CallAddress) -> str:
    """``requests/<a>/<fid>.<args>`` (``docs/protocol.md``, "Records")."""
    return f"requests/{address.arguments[0]}/{address.function}.{address.arguments}"


def claim_key(address: CallAddress) -> str:
    return f"claims/{address.function}.{address.arguments}"


def failure_key(address: CallAddress) -> str:
    return f"failures/{address.function}/{address.arguments[:2]}/{address.arguments}"


def put(root: Path, key: str, data: bytes) -> Path:
    """Write ``data`` under ``key`` as a plain file (a record as a sync service delivers it)."""
    path = root.joinpath(*key.split("/"))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path
