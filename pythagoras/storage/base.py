"""The byte-store contract: a handful of primitives every store implements.

A store maps keys (``/``-separated relative names such as ``results/ab/cd/abcd…``) to
immutable-looking blobs. Everything above it (records, identity, the swarm protocol) is
written against this class only. See ``docs/protocol.md`` for the names used on it.
"""

from __future__ import annotations

import logging
import os
import re
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator
from typing import Final, NamedTuple

__all__ = ["MAX_RECORD_VAR", "RECORD_LIMITS", "Store", "StoredKey", "bytes_from_environment",
           "check_key", "check_prefix", "is_debris", "max_record_bytes"]

log = logging.getLogger("pythagoras")

#: The environment variable that sets the most bytes a result, value or function record may
#: hold (and any record not in :data:`RECORD_LIMITS`).
MAX_RECORD_VAR: Final = "PYTHAGORAS_MAX_RECORD_BYTES"
DEFAULT_MAX_RECORD_BYTES: Final = 4 * 2**30  # 4 GiB
#: The most bytes a record may hold, by its key's top folder, checked by a stat before a read
#: allocates anything: a record over it is refused, as absent, with a warning, so that a huge
#: (or sparse) file planted in the location costs a peer no memory. Claims, break markers and
#: peer records are a few hundred bytes, Memory's metadata and a signed swarm's marker
#: (``swarm.json``) a line of JSON; a request holds arguments of up to 64 KiB each (larger
#: ones are values of their own) for one call or a batch of a few hundred, and a failure an
#: exception and its traceback. Results, values and
#: functions (which may hold data they read by value) take up to ``$PYTHAGORAS_MAX_RECORD_BYTES``.
RECORD_LIMITS: Final = {"claims": 2**16, "breaks": 2**16, "peers": 2**16, "metadata": 2**16,
                        "requests": 2**28, "failures": 2**28, "swarm.json": 2**16}

_PART = r"[A-Za-z0-9_][A-Za-z0-9_.=+-]*"
_KEY = re.compile(rf"{_PART}(?:/{_PART})*")
_NAME = re.compile(_PART)
# A list prefix: whole parts, each followed by "/", then possibly the start of one more part.
_PREFIX = re.compile(rf"(?:{_PART}/)*(?:{_PART})?")


def check_key(key: str) -> str:
    """Return ``key`` if it is a valid store key, else raise ``ValueError`` naming the problem."""
    return _check(_KEY, key, "key", "'/'-separated parts of letters, digits and '_.=+-', "
                  "none empty and none starting with '.' or '-'")


def check_prefix(prefix: str) -> str:
    """Return ``prefix`` if some valid key could start with it, else raise ``ValueError``."""
    return _check(_PREFIX, prefix, "key prefix", "'' or '/'-separated key parts, optionally "
                  "ending in '/'")


def _check(pattern: re.Pattern[str], text: str, what: str, rule: str) -> str:
    if pattern.fullmatch(text) is None:
        raise ValueError(f"invalid store {what} {text!r}: use {rule}")
    return text


def is_debris(name: str) -> bool:
    """True for a file name that is a temp file or a sync service's conflict copy."""
    if name.startswith(".") or name.endswith("~") or ".tmp-" in name or "conflict" in name:
        return True
    # pythagoras writes no other characters; a space or a parenthesis is a sync service's
    # copy ("name (1).ext", "name (conflicted copy).ext").
    return _NAME.fullmatch(name) is None


def max_record_bytes() -> int:
    """The most bytes a result, value or function record may hold: ``$PYTHAGORAS_MAX_RECORD_BYTES``,
    else 4 GiB."""
    return bytes_from_environment(MAX_RECORD_VAR, DEFAULT_MAX_RECORD_BYTES)


def bytes_from_environment(variable: str, default: int, fix: str = "") -> int:
    """A positive number of bytes from ``$variable``, else ``default``; ValueError (naming the
    variable, the default and ``fix``, another way out) for anything else."""
    text = os.environ.get(variable, "").strip()
    if not text:
        return default
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value <= 0:
        raise ValueError(f"${variable} must be a positive number of bytes, not {text!r}; "
                         f"unset it for the default ({default}){fix}")
    return value


class StoredKey(NamedTuple):
    """A key as :meth:`Store.scan` finds it: its size in bytes and its age in seconds, by the
    store's clock, at the time of the scan."""

    key: str
    size: int
    age: float


class Store(ABC):
    """A location's bytes: read, atomic write, create-if-absent, delete, list, age (and size).

    Implementations keep each method to one or a few native operations; anything that can be
    built from these primitives is built once, here.
    """

    #: True where :meth:`create` is an atomic exclusive create, so that at most one of
    #: several concurrent creators succeeds. Where False, claims are advisory only.
    atomic_create: bool = False

    #: True where every operation is a network round trip (an object store): peers then poll
    #: it about once a second rather than every 50 ms, and list pending requests in one
    #: listing rather than bucket by bucket.
    remote: bool = False

    def __init__(self, location: str) -> None:
        self.location = location
        self.max_record_bytes = max_record_bytes()
        self._oversized: set[str] = set()  # keys refused for their size, each reported once

    def limit_of(self, key: str) -> int:
        """The most bytes the record at ``key`` may hold (:data:`RECORD_LIMITS`)."""
        return RECORD_LIMITS.get(key.partition("/")[0], self.max_record_bytes)

    def refuse_oversized(self, key: str, size: int) -> None:
        """Say, once per store and key, that the record at ``key`` is too large to read."""
        if key in self._oversized:
            return
        self._oversized.add(key)
        log.warning("pythagoras: refused the record %s at %s: it holds %d bytes, more than the "
                    "%d a record there may hold; it is treated as absent and left where it is "
                    "(a result or value that big: raise $%s)", key, self.location, size,
                    self.limit_of(key), MAX_RECORD_VAR)

    @abstractmethod
    def read(self, key: str) -> bytes | bytearray | memoryview | None:
        """The bytes stored under ``key``, or None if there are none.

        A bytearray (or a view of writable memory, as a local folder gives for a large record)
        is preferred: values loaded from it (numpy arrays) are writable views of it, with no copy.
        """

    @abstractmethod
    def write(self, key: str, data: bytes) -> None:
        """Store ``data`` under ``key`` atomically: a reader sees the old or the new bytes, whole."""

    @abstractmethod
    def create(self, key: str, data: bytes) -> bool:
        """Store ``data`` under ``key`` only if nothing is there; True if this call created it.

        A store whose client retries a request may also answer True when the key holds exactly
        ``data`` (the first attempt landed, its answer was lost): callers that must know the
        creator (claims, break markers) put a nonce in ``data``.
        """

    def create_small(self, key: str, data: bytes) -> bool:
        """:meth:`create` for a small record (a claim): a reader may find it empty while it is
        written, never partial, and takes an empty record for one being written.

        The same as :meth:`create` here; a local folder writes it in place, in one write and
        without a temp file, a third of a claim's cost.
        """
        return self.create(key, data)

    @abstractmethod
    def delete(self, key: str) -> bool:
        """Remove ``key``; True if it existed."""

    def discard(self, key: str) -> None:
        """Remove ``key`` if it is there, without telling whether it was.

        The same as :meth:`delete` here; an object store, whose delete does not say whether the
        object existed, overrides it with one request instead of two.
        """
        self.delete(key)

    def move(self, key: str, new_key: str, *, private: bool = False) -> bool:
        """Give the record at ``key`` the name ``new_key`` (replacing what is there) and remove
        ``key``; False if ``key`` holds no record. ``private``: readable by its owner only,
        where the store has file modes.

        Derived here by reading (within :meth:`limit_of`), writing and discarding; a folder
        renames the file, an object store copies it on the server.
        """
        data = self.read(key)
        if data is None:
            return False
        self.write(new_key, bytes(data))
        self.discard(key)
        return True

    def delete_many(self, keys: Iterable[str]) -> None:
        """Remove every key of ``keys`` that is there (one that is not is passed over).

        Derived here from :meth:`discard`, one key at a time; an object store deletes a
        thousand keys a request, and a local folder also removes the folders it emptied.
        """
        for key in keys:
            self.discard(key)

    @abstractmethod
    def list(self, prefix: str = "") -> Iterator[str]:
        """Every key that starts with ``prefix``, debris excluded, in no particular order."""

    @abstractmethod
    def age(self, key: str) -> float | None:
        """Seconds since ``key`` was last written, by the store's clock, or None if absent."""

    def scan(self, prefix: str = "") -> Iterator[StoredKey]:
        """Every key that starts with ``prefix``, as :meth:`list` gives them, with its size
        and age; a key deleted while it is scanned is left out.

        Derived here from :meth:`list`, :meth:`size` and :meth:`age`, two questions a key; a
        folder's listing or an object store's gives both with the names, and those stores
        override it. For what weighs or dates many records (``pythagoras status``)."""
        return self._weigh(self.list(prefix))  # listed now: a bad prefix fails at the call

    def _weigh(self, keys: Iterator[str]) -> Iterator[StoredKey]:
        for key in keys:
            size = self.size(key)
            age = self.age(key)
            if size is not None and age is not None:
                yield StoredKey(key, size, age)

    def exists(self, key: str) -> bool:
        """True if ``key`` holds bytes."""
        return self.age(key) is not None

    def size(self, key: str) -> int | None:
        """How many bytes ``key`` holds, or None if it holds none.

        Derived here by reading them; a store that can tell without reading (a file's stat,
        an object's metadata) overrides it. Used to weigh a cache, never on a hit's path.
        """
        data = self.read(key)
        return None if data is None else len(data)

    @property
    def backing(self) -> Store:
        """The store that holds the bytes: itself, or what a wrapper (a signed store) wraps.
        For what depends on the medium only (file notifications, a folder's listing)."""
        return self

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.location!r})"
