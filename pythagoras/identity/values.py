"""Canonical content hashes of values: the argument half of a call's address.

A value is encoded as a stream of self-delimiting, type-tagged tokens and the stream is hashed
with xxh3-128. The encoding depends only on the value, never on the process: not on ``id()``,
``PYTHONHASHSEED``, set iteration order, dict insertion order, pickle memo numbering or paths.

- ``1``, ``1.0`` and ``True`` have different tags, so they never share an address.
- dicts, sets and frozensets are encoded in the order of their encoded members, so two equal
  mappings built in a different order hash the same (keyword order is irrelevant).
- numpy arrays contribute dtype, shape and the xxh3-128 of their C-ordered buffer (~21 µs a MiB).
- functions contribute their identity (:mod:`pythagoras.identity.functions`), classes and
  modules their qualified names.
- other objects are walked through ``__reduce_ex__``, the protocol pickle itself uses, so any
  picklable object has a hash and an unpicklable one (a lock, an open file, a generator) is
  refused with :class:`UnhashableArgument`.
"""

from __future__ import annotations

import copyreg
import struct
import sys
import types
from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import Any

import xxhash

from ..errors import UnhashableArgument

__all__ = ["Encoder", "hash_call", "hash_kwargs", "hash_value"]

# getattr: typeshed's copyreg has no __newobj__, so mypy would refuse the attribute.
_NEWOBJ = getattr(copyreg, "__newobj__")  # noqa: B009
_DOUBLE = struct.Struct("<d")
_COUNT = struct.Struct("<Q")
_pack_count = _COUNT.pack


def _int_bytes(n: int) -> bytes:
    raw = n.to_bytes((n.bit_length() + 8) // 8, "little", signed=True)
    return _pack_count(len(raw)) + raw


class Encoder:
    """Appends the canonical encoding of values to ``out``; one instance per hash taken."""

    __slots__ = ("out", "_active")

    def __init__(self) -> None:
        self.out = bytearray()
        self._active: dict[int, int] = {}  # id of a container being encoded -> its depth

    def digest(self) -> bytes:
        return xxhash.xxh3_128_digest(self.out)

    def token(self, tag: bytes, data: bytes | str = b"") -> None:
        """A tag followed by length-prefixed data: the unit every encoding is built from."""
        if isinstance(data, str):
            data = data.encode("utf-8", "surrogatepass")
        self.out += tag + _pack_count(len(data)) + data

    def encode(self, obj: Any) -> None:
        handler = _EXACT.get(type(obj))
        if handler is not None:
            handler(self, obj)
        else:
            self._encode_other(obj)

    def mark(self) -> tuple[int, dict[int, int]]:
        """A point to :meth:`rewind` to if encoding what follows fails."""
        return len(self.out), dict(self._active)

    def rewind(self, mark: tuple[int, dict[int, int]]) -> None:
        del self.out[mark[0] :]
        self._active = mark[1]

    def encoded(self, obj: Any) -> bytes:
        """The encoding of ``obj`` alone (used to order the members of dicts and sets)."""
        start = len(self.out)
        self.encode(obj)
        piece = bytes(self.out[start:])
        del self.out[start:]
        return piece

    # -- containers -------------------------------------------------------------------------

    def _enter(self, obj: Any) -> bool:
        """Start a container; False (and a back-reference token) if it is already open."""
        depth = self._active.get(id(obj))
        if depth is not None:
            self.out += b"@" + _pack_count(depth)
            return False
        self._active[id(obj)] = len(self._active)
        return True

    def _leave(self, obj: Any) -> None:
        del self._active[id(obj)]

    def sequence(self, tag: bytes, items: Any) -> None:
        if not self._enter(items):
            return
        self.out += tag + _pack_count(len(items))
        for item in items:
            self.encode(item)
        self._leave(items)

    def unordered(self, tag: bytes, members: Any) -> None:
        if not self._enter(members):
            return
        pieces = sorted(self.encoded(m) for m in members)
        self.out += tag + _pack_count(len(pieces)) + b"".join(pieces)
        self._leave(members)

    def mapping(self, tag: bytes, obj: Mapping[Any, Any], ordered: bool = False) -> None:
        if not self._enter(obj):
            return
        if ordered:
            pieces = [self.encoded(k) + self.encoded(v) for k, v in obj.items()]
        else:  # keys that encode alike (two NaNs, two plain objects) are ordered by their values
            pieces = sorted(self.encoded(k) + self.encoded(v) for k, v in obj.items())
        self.out += tag + _pack_count(len(pieces)) + b"".join(pieces)
        self._leave(obj)

    # -- everything else --------------------------------------------------------------------

    def _encode_other(self, obj: Any) -> None:
        numpy = sys.modules.get("numpy")
        if numpy is not None and isinstance(obj, (numpy.ndarray, numpy.generic)):
            _encode_numpy(self, obj, numpy)
        elif isinstance(obj, (types.FunctionType, types.BuiltinFunctionType, types.MethodType)):
            from .functions import encode_callable

            encode_callable(self, obj)
        elif hasattr(type(obj), "__pythagoras_encode__"):
            obj.__pythagoras_encode__(self)
        elif isinstance(obj, type):
            self.token(b"G", f"{obj.__module__}:{obj.__qualname__}")
        elif isinstance(obj, types.ModuleType):
            self.token(b"M", obj.__name__)
        else:
            self._encode_reduced(obj)

    def _encode_reduced(self, obj: Any) -> None:
        try:
            reduced = obj.__reduce_ex__(4)
        except Exception as e:
            raise UnhashableArgument(
                f"a value of type {type(obj).__qualname__} cannot be hashed because it "
                f"cannot be pickled ({e}); pass picklable values, for example plain data"
            ) from e
        if isinstance(reduced, str):  # pickled by reference, as a global
            self.token(b"G", f"{getattr(obj, '__module__', '')}:{reduced}")
            return
        if not self._enter(obj):
            return
        func, args, state, list_items, dict_items = (tuple(reduced) + (None,) * 5)[:5]
        self.out += b"R"
        if func is _NEWOBJ and args:  # the common object(): class, then its args
            self.encode(args[0])
            self.encode(tuple(args[1:]))
        else:
            self.encode(func)
            self.encode(args)
        self.encode(state)
        self.encode(None if list_items is None else list(list_items))
        if dict_items is None:
            self.encode(None)
        else:
            self.mapping(b"d", dict(dict_items), ordered=isinstance(obj, OrderedDict))
        self._leave(obj)


def _encode_numpy(enc: Encoder, obj: Any, numpy: Any) -> None:
    dtype = obj.dtype
    descr = str(dtype.descr) if dtype.fields is not None else dtype.str
    if isinstance(obj, numpy.generic):
        if dtype.hasobject:
            enc.token(b"o")
            enc.encode(obj.item())
        else:
            enc.token(b"n", descr.encode() + b"|" + obj.tobytes())
        return
    if type(obj) is not numpy.ndarray and not isinstance(obj, numpy.memmap):
        # a subclass (a masked array, a matrix) is another value; a memmap is just an array
        enc.token(b"G", f"{type(obj).__module__}:{type(obj).__qualname__}")
        ma = sys.modules.get("numpy.ma")
        if ma is not None and isinstance(obj, ma.MaskedArray):
            enc.encode(ma.getmaskarray(obj).view(numpy.ndarray))
            enc.encode(obj.fill_value)
            obj = obj.view(numpy.ndarray)
    enc.token(b"A", f"{descr}|{obj.shape}")
    if dtype.hasobject:
        enc.encode(obj.ravel(order="C").tolist())
    else:
        contiguous = numpy.ascontiguousarray(obj)
        enc.out += xxhash.xxh3_128_digest(contiguous.reshape(-1).view(numpy.uint8))


def _atom(tag: bytes, to_bytes: Callable[[Any], bytes]) -> Callable[[Encoder, Any], None]:
    def encode(enc: Encoder, obj: Any) -> None:
        data = to_bytes(obj)
        enc.out += tag + _pack_count(len(data)) + data

    return encode


_EXACT: dict[type, Callable[[Encoder, Any], None]] = {
    type(None): lambda enc, obj: enc.out.extend(b"N"),
    bool: lambda enc, obj: enc.out.extend(b"T" if obj else b"F"),
    int: lambda enc, obj: enc.out.extend(b"i" + _int_bytes(obj)),
    float: lambda enc, obj: enc.out.extend(b"f" + _DOUBLE.pack(obj)),
    complex: lambda enc, obj: enc.out.extend(b"c" + _DOUBLE.pack(obj.real) + _DOUBLE.pack(obj.imag)),
    str: _atom(b"s", lambda s: s.encode("utf-8", "surrogatepass")),
    bytes: _atom(b"b", bytes),
    bytearray: _atom(b"y", bytes),
    tuple: lambda enc, obj: enc.sequence(b"t", obj),
    list: lambda enc, obj: enc.sequence(b"l", obj),
    dict: lambda enc, obj: enc.mapping(b"d", obj),
    set: lambda enc, obj: enc.unordered(b"S", obj),
    frozenset: lambda enc, obj: enc.unordered(b"Z", obj),
}


def hash_value(obj: Any) -> bytes:
    """The 16-byte canonical hash of one value."""
    enc = Encoder()
    enc.encode(obj)
    return enc.digest()


def hash_kwargs(kwargs: Mapping[str, Any]) -> bytes:
    """The 16-byte canonical hash of keyword arguments; their order does not matter.

    An argument that cannot be hashed is named in the error.
    """
    enc = Encoder()
    _encode_kwargs(enc, kwargs)
    return enc.digest()


def hash_call(args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> bytes:
    """The 16-byte canonical hash of positional and keyword arguments (see :func:`hash_kwargs`)."""
    enc = Encoder()
    enc.out += b"A" + _pack_count(len(args))
    for index, value in enumerate(args):
        _encode_argument(enc, f"#{index}", value)
    _encode_kwargs(enc, kwargs)
    return enc.digest()


def _encode_kwargs(enc: Encoder, kwargs: Mapping[str, Any]) -> None:
    enc.out += b"K" + _pack_count(len(kwargs))
    for name in sorted(kwargs):
        enc.token(b"s", name)
        _encode_argument(enc, repr(name), kwargs[name])


def _encode_argument(enc: Encoder, name: str, value: Any) -> None:
    try:
        enc.encode(value)
    except UnhashableArgument as e:
        raise UnhashableArgument(f"argument {name}: {e}") from e.__cause__
    except RecursionError as e:
        raise UnhashableArgument(
            f"argument {name} is nested too deeply to hash; pass a flatter value"
        ) from e
