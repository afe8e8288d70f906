"""Layer 3: the one frame around everything written, and the serialization of values.

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

import io
import logging
import pickle
import struct
import threading
import types
from typing import Any, Final

import cloudpickle  # type: ignore[import-untyped]
import xxhash

from ..errors import CorruptRecord, ForeignCode
from ..storage.base import Store
from .portable import PYTHON

__all__ = [
    "FORMAT_VERSION",
    "HEADER_SIZE",
    "MAGIC",
    "MISSING",
    "MOVED_MODULES",
    "MOVED_NAMES",
    "PYTHON",
    "Unpickler",
    "dump_value",
    "frame",
    "load_code_of",
    "load_value",
    "read_record",
    "report_corrupt",
    "unframe",
]

MAGIC = b"PYTG"
FORMAT_VERSION = 1
_HEADER = struct.Struct("<4sBcHQQ")
HEADER_SIZE = _HEADER.size
_checksum = xxhash.xxh3_64_intdigest
_COUNTS = struct.Struct("<IQ")  # out-of-band buffers, pickle stream length
_LENGTH = struct.Struct("<Q")
_ALIGN = 64

log = logging.getLogger("pythagoras")


def frame(kind: bytes, payload: bytes) -> bytes:
    """``payload`` wrapped in a frame of ``kind`` (one byte)."""
    header = _HEADER.pack(MAGIC, FORMAT_VERSION, kind, 0, len(payload), _checksum(payload))
    return header + payload


def unframe(data: bytes | bytearray | memoryview, kind: bytes) -> memoryview:
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


#: Types whose values pickle alike by pickle and cloudpickle, and pickle's way is faster.
_SCALARS: frozenset[type] = frozenset({int, float, complex, bool, str, bytes, type(None)})


def dump_value(value: Any, *, plain: bool = False) -> bytes:
    """Serialize a value with cloudpickle, so that functions and classes of __main__ travel;
    ``plain``: with pickle, about 4 times as fast, for values of pythagoras's own classes (a
    claim), as for builtin scalars always. Both are read by :func:`load_value`.

    Large contiguous buffers (numpy arrays) are kept out of the pickle stream (protocol 5) and
    laid after it, each aligned to 64 bytes from the start of the record, so that a reader can
    hand them to the value without copying (``docs/protocol.md``, "Values").
    """
    buffers: list[pickle.PickleBuffer] = []
    if plain or type(value) in _SCALARS:
        stream = pickle.dumps(value, protocol=5, buffer_callback=buffers.append)
    else:
        stream = _dumps_guarding_code(value, buffers)
    raws = [b.raw() for b in buffers]
    head = _COUNTS.pack(len(raws), len(stream)) + b"".join(_LENGTH.pack(r.nbytes) for r in raws)
    parts: list[bytes | memoryview] = [head, stream]
    position = HEADER_SIZE + len(head) + len(stream)
    for raw in raws:
        padding = -position % _ALIGN
        parts += [b"\0" * padding, raw]
        position += padding + raw.nbytes
    return b"".join(parts)


class _CodeNoticingPickler(cloudpickle.Pickler):  # type: ignore[misc]
    """cloudpickle's pickler, noticing whether it pickles code by value (a function or class
    of a script, a lambda): bytecode that another Python version would misread."""

    holds_code = False

    def reducer_override(self, obj: Any) -> Any:
        if type(obj) is types.CodeType:
            self.holds_code = True
        return super().reducer_override(obj)


def _dumps_guarding_code(value: Any, buffers: list[pickle.PickleBuffer]) -> bytes:
    """``value`` by cloudpickle; where it holds code by value, as a :class:`_CodeOf` of this
    Python, which no other version loads."""
    stream = io.BytesIO()
    pickler = _CodeNoticingPickler(stream, protocol=5, buffer_callback=buffers.append)
    pickler.dump(value)
    if not pickler.holds_code:
        return stream.getvalue()
    if buffers:  # the guarded value holds its buffers in its own stream: pickled again, in band
        buffers.clear()
        return pickle.dumps(_CodeOf(PYTHON, cloudpickle.dumps(value, protocol=5)), protocol=5)
    return pickle.dumps(_CodeOf(PYTHON, stream.getvalue()), protocol=5)


class _CodeOf:
    """A value that holds code by value, with the Python version that pickled it: loading it
    under another version raises :class:`~pythagoras.errors.ForeignCode` (a peer of that
    version loads it) instead of running bytecode this interpreter would misread (a wrong
    value, a SystemError, a crash)."""

    def __init__(self, python: str, stream: bytes) -> None:
        self.python, self.stream = python, stream

    def __reduce__(self) -> tuple[Any, tuple[str, bytes]]:
        return load_code_of, (self.python, self.stream)


def load_code_of(python: str, stream: bytes) -> Any:
    """The value of a :class:`_CodeOf`, if this is the Python that pickled it."""
    if python != PYTHON:
        raise ForeignCode(
            f"the value holds code pickled by Python {python} (a function or class of a script, "
            f"or a lambda), which Python {PYTHON} cannot run: a peer of Python {python} loads "
            "it; return or pass plain data, or instances of classes of an installed module, to "
            "share it across versions", python)
    return Unpickler(io.BytesIO(stream)).load()


def load_value(payload: bytes | bytearray | memoryview,
               unpickler: type[pickle.Unpickler] | None = None) -> Any:
    """The value of :func:`dump_value`'s bytes.

    Arrays are views into ``payload``: given a bytearray (or a view of one) they are writable
    and nothing is copied. ``unpickler`` replaces pickle's own (``pythagoras status`` reads
    records whose classes it cannot import with one, based on :class:`Unpickler`, which reads
    the names of pythagoras's modules of before).
    """
    view = memoryview(payload)
    try:
        count, stream_length = _COUNTS.unpack_from(view)
        lengths = struct.unpack_from(f"<{count}Q", view, _COUNTS.size)
    except struct.error as e:
        raise CorruptRecord(f"value layout is not readable: {e}") from e
    position = _COUNTS.size + _LENGTH.size * count
    stream = view[position : position + stream_length]
    position += stream_length
    buffers = []
    for length in lengths:
        position += -(HEADER_SIZE + position) % _ALIGN
        buffers.append(view[position : position + length])
        position += length
    if position != len(view):
        raise CorruptRecord(f"value occupies {position} of its {len(view)} payload bytes")
    return (unpickler or Unpickler)(io.BytesIO(stream), buffers=buffers).load()


#: The modules of pythagoras that moved, by the names that records written before name them
#: (a claim was a ``pythagoras.protocol.Claim``). Records name classes and functions by module,
#: so every name a release has had stays here.
MOVED_MODULES: Final = {
    "pythagoras.cloud": "pythagoras.tutorial.cloud",
    "pythagoras.engines": "pythagoras.swarm.engines",
    "pythagoras.events": "pythagoras.swarm.events",
    "pythagoras.function_records": "pythagoras.records.functions",
    "pythagoras.hookspecs": "pythagoras.storage.hookspecs",
    "pythagoras.lending": "pythagoras.swarm.lending",
    "pythagoras.location": "pythagoras.storage.location",
    "pythagoras.notifications": "pythagoras.swarm.notifications",
    "pythagoras.peer": "pythagoras.swarm.peer",
    "pythagoras.plugins": "pythagoras.storage.plugins",
    "pythagoras.portable": "pythagoras.records.portable",
    "pythagoras.progress": "pythagoras.swarm.progress",
    "pythagoras.protocol": "pythagoras.swarm.protocol",
    "pythagoras.pure_function": "pythagoras.tutorial.pure_function",
    "pythagoras.records": "pythagoras.records.frames",
    "pythagoras.results": "pythagoras.records.results",
    "pythagoras.swarm": "pythagoras.swarm.swarm_store",
    "pythagoras.tracebacks": "pythagoras.records.tracebacks",
    "pythagoras.unique": "pythagoras.storage.unique",
    "pythagoras.worker": "pythagoras.swarm.worker",
}


#: Functions that moved to another module than their own module's, by (module, name) as records
#: written before name them.
MOVED_NAMES: Final = {
    ("pythagoras.pure_function", "reopen"): ("pythagoras.tutorial.cloud", "reopen"),
    ("pythagoras.pure_function", "_reopen"): ("pythagoras.tutorial.cloud", "reopen"),
}


class Unpickler(pickle.Unpickler):
    """pickle's, finding what a record names in a module that has moved where it is now
    (:data:`MOVED_MODULES`), as pickle finds Python 2's modules in Python 3's. Always the old
    name's new place, never a module of the old name that an old install left behind."""

    def find_class(self, module: str, name: str) -> Any:
        module, name = MOVED_NAMES.get((module, name), (module, name))
        return super().find_class(MOVED_MODULES.get(module, module), name)


class Pickled:
    """A value already serialized by :func:`dump_value` (in a worker process): stored as it
    is, loaded only where something waits for it."""

    __slots__ = ("data",)

    def __init__(self, data: bytes) -> None:
        self.data = data

    def load(self) -> Any:
        return load_value(self.data)


class _Missing:
    __slots__ = ()

    def __repr__(self) -> str:
        return "MISSING"


#: What a read returns when no intact record is stored.
MISSING: Final = _Missing()


def read_record(store: Store, key: str, kind: bytes, *, load: bool = True) -> Any:
    """The value of the record at ``key`` (True if not ``load``), or :data:`MISSING` where it is
    absent, empty or corrupt; a corrupt one is reported once."""
    data = store.read(key)
    if not data:  # absent, or empty: a small record being written in place (create_small)
        return MISSING
    try:
        payload = unframe(data, kind)
        return load_value(payload) if load else True
    except CorruptRecord as e:
        report_corrupt(f"{store.location}/{key}", e)
        return MISSING


_reported: set[str] = set()
_reported_lock = threading.Lock()


def report_corrupt(where: str, error: Exception) -> None:
    """Log a corrupt record once per process and location; it is then treated as absent."""
    with _reported_lock:
        if where in _reported:
            return
        _reported.add(where)
    log.warning("ignoring corrupt record %s (%s); it will be treated as absent", where, error)
