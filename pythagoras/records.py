"""Layer 2: the one frame around everything written, and the serialization of values.

A frame is a 24-byte header followed by the payload (``docs/protocol.md``, "Frames"):

    offset  size  field
    0       4     magic  b"PYTG"
    4       1     format version (1)
    5       1     kind   (b"R" result, …)
    6       2     flags  (reserved, 0)
    8       8     payload length, little-endian
    16      8     xxh3-64 of the payload, little-endian

A read checks all of it. A frame that is short, long, of another magic or version, or whose
checksum does not match raises :class:`CorruptRecord`; callers treat that as absent.
"""

from __future__ import annotations

import logging
import pickle
import struct
import threading
from typing import Any

import cloudpickle  # type: ignore[import-untyped]
import xxhash

from .errors import CorruptRecord

__all__ = [
    "FORMAT_VERSION",
    "HEADER_SIZE",
    "MAGIC",
    "dump_value",
    "frame",
    "load_value",
    "report_corrupt",
    "unframe",
]

MAGIC = b"PYTG"
FORMAT_VERSION = 1
_HEADER = struct.Struct("<4sBcHQQ")
HEADER_SIZE = _HEADER.size
_checksum = xxhash.xxh3_64_intdigest

log = logging.getLogger("pythagoras")


def frame(kind: bytes, payload: bytes) -> bytes:
    """``payload`` wrapped in a frame of ``kind`` (one byte)."""
    header = _HEADER.pack(MAGIC, FORMAT_VERSION, kind, 0, len(payload), _checksum(payload))
    return header + payload


def unframe(data: bytes, kind: bytes) -> memoryview:
    """The payload of a frame of ``kind``; :class:`CorruptRecord` if the frame is not intact."""
    if len(data) < HEADER_SIZE:
        raise CorruptRecord(f"record of {len(data)} bytes is shorter than a frame header")
    magic, version, got_kind, _flags, length, checksum = _HEADER.unpack_from(data)
    if magic != MAGIC:
        raise CorruptRecord(f"record does not start with {MAGIC!r}")
    if version != FORMAT_VERSION:
        raise CorruptRecord(f"record format {version} is not {FORMAT_VERSION}; upgrade pythagoras")
    if got_kind != kind:
        raise CorruptRecord(f"record is of kind {got_kind!r}, expected {kind!r}")
    if len(data) != HEADER_SIZE + length:
        raise CorruptRecord(f"record holds {len(data) - HEADER_SIZE} payload bytes, not {length}")
    payload = memoryview(data)[HEADER_SIZE:]
    if _checksum(payload) != checksum:
        raise CorruptRecord("record checksum does not match its payload")
    return payload


def dump_value(value: Any) -> bytes:
    """Serialize a value with cloudpickle, so that functions and classes of __main__ travel."""
    data: bytes = cloudpickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    return data


def load_value(payload: bytes | memoryview) -> Any:
    """The value of :func:`dump_value`'s bytes."""
    return pickle.loads(payload)


_reported: set[str] = set()
_reported_lock = threading.Lock()


def report_corrupt(where: str, error: Exception) -> None:
    """Log a corrupt record once per process and location; it is then treated as absent."""
    with _reported_lock:
        if where in _reported:
            return
        _reported.add(where)
    log.warning("ignoring corrupt record %s (%s); it will be treated as absent", where, error)
