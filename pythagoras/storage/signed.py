"""A swarm secret: every record signed, every unsigned or foreign record refused.

Anyone who can write to a location can make its peers run code (records are pickles; see
``docs/trust.md``). With a secret, :class:`SignedStore` wraps the location's store: every
record written gets a trailer, ``PYTGSIG1`` and an HMAC-SHA256 of the record's key and bytes
(the whole frame) under the secret, and every record read must carry a valid one. A record that
does not (written without the secret, with another one, or altered) is never returned, so never
loaded or executed: it is moved to ``quarantine/<its key>.<hex>``, a warning names it, and
``pythagoras status`` counts it. Signing the key with the bytes stops a valid record from being
replayed under another call's address.

The secret comes from ``secret=`` on a front-end (a str, bytes, or the path of a key file), else
``$PYTHAGORAS_SECRET``, else the key file named by ``$PYTHAGORAS_SECRET_FILE``.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
from collections.abc import Iterable, Iterator
from pathlib import Path

from .base import Store, StoredKey
from .unique import unique_hex

__all__ = [
    "QUARANTINE",
    "SECRET_FILE_VAR",
    "SECRET_VAR",
    "SignedStore",
    "quarantine_key",
    "resolve_secret",
]

log = logging.getLogger("pythagoras")

SECRET_VAR = "PYTHAGORAS_SECRET"
SECRET_FILE_VAR = "PYTHAGORAS_SECRET_FILE"
QUARANTINE = "quarantine/"
_MAGIC = b"PYTGSIG1"
_MAC_SIZE = hashlib.sha256().digest_size
_TRAILER = len(_MAGIC) + _MAC_SIZE

Secret = str | bytes | os.PathLike[str]


def quarantine_key(key: str, tag: str) -> str:
    """Where a refused record under ``key`` is kept aside, ``tag`` making the name unique.
    The one key of the layout made below :mod:`pythagoras.records.keys`, which re-exports it."""
    return f"{QUARANTINE}{key}.{tag}"


def resolve_secret(secret: Secret | None = None) -> bytes | None:
    """The secret's bytes: ``secret`` (a path is a key file), else the environment's; None if
    there is none. An empty secret is refused: it would sign with a key anyone knows."""
    if secret is None:
        if os.environ.get(SECRET_VAR):
            secret = os.environ[SECRET_VAR]
        elif os.environ.get(SECRET_FILE_VAR):
            secret = Path(os.environ[SECRET_FILE_VAR])
        else:
            return None
    if isinstance(secret, os.PathLike):
        try:
            key = Path(secret).read_bytes().strip()
        except OSError as e:
            raise ValueError(f"cannot read the swarm's key file {os.fspath(secret)!r}: {e}") from e
    elif isinstance(secret, str):
        key = secret.encode()
    elif isinstance(secret, bytes):
        key = secret
    else:
        raise TypeError(f"secret= takes a str, bytes or the path of a key file, not "
                        f"{type(secret).__name__}")
    if not key:
        raise ValueError("the swarm secret is empty: give a long random string (e.g. "
                         "`python -c 'import secrets; print(secrets.token_hex(32))'`)")
    return key


class SignedStore(Store):
    """``inner`` with every record signed on the way in and checked on the way out."""

    def __init__(self, inner: Store, key: bytes) -> None:
        super().__init__(inner.location)
        self.inner = inner
        self.atomic_create = inner.atomic_create
        self.remote = inner.remote
        self._key = key
        self.refused = 0  # records this process moved to quarantine

    def signs_with(self, key: bytes) -> bool:
        """True if this store signs with ``key``."""
        return hmac.compare_digest(self._key, key)

    def _mac(self, key: str, data: bytes | bytearray | memoryview) -> bytes:
        mac = hmac.new(self._key, key.encode(), hashlib.sha256)
        mac.update(b"\0")
        mac.update(data)
        return mac.digest()

    def _signed(self, key: str, data: bytes) -> bytes:
        return b"".join((data, _MAGIC, self._mac(key, data)))

    def read(self, key: str) -> bytes | bytearray | None:
        data = self.inner.read(key)
        if not data:  # absent, or empty: being written in place (create_small), not refused
            return None
        view = memoryview(data)
        body = view[:-_TRAILER] if len(data) >= _TRAILER else view[:0]
        if (len(data) >= _TRAILER and view[-_TRAILER:-_MAC_SIZE] == _MAGIC
                and hmac.compare_digest(view[-_MAC_SIZE:], self._mac(key, body))):
            body.release()
            view.release()
            if isinstance(data, bytearray):
                del data[-_TRAILER:]  # at the end: nothing is copied
                return data
            return data[:-_TRAILER]
        body.release()
        view.release()
        self._quarantine(key, data)
        return None

    def _quarantine(self, key: str, data: bytes | bytearray) -> None:
        """Move a record that is not ours aside: kept for a human to look at, never loaded.

        Moved by the store (a rename in a folder, readable by its owner only), never copied:
        the bytes stay where they were written, and nothing new is written with them."""
        aside = quarantine_key(key, unique_hex(16))
        try:
            moved = self.inner.move(key, aside, private=True)
        except OSError as e:  # a read-only location: refuse it all the same
            log.warning("pythagoras: could not move the refused record %s aside: %s", key, e)
            moved = False
        self.refused += 1
        log.warning("pythagoras: refused the record %s at %s: it is unsigned or signed with "
                    "another secret; %s (see docs/trust.md)", key, self.location,
                    f"moved to {aside}" if moved else "left where it is")

    def write(self, key: str, data: bytes) -> None:
        self.inner.write(key, self._signed(key, data))

    def create(self, key: str, data: bytes) -> bool:
        return self.inner.create(key, self._signed(key, data))

    def create_small(self, key: str, data: bytes) -> bool:
        return self.inner.create_small(key, self._signed(key, data))

    def delete(self, key: str) -> bool:
        return self.inner.delete(key)

    def discard(self, key: str) -> None:
        self.inner.discard(key)

    def delete_many(self, keys: Iterable[str]) -> None:
        self.inner.delete_many(keys)

    def list(self, prefix: str = "") -> Iterator[str]:
        return self.inner.list(prefix)

    def age(self, key: str) -> float | None:
        return self.inner.age(key)

    def scan(self, prefix: str = "") -> Iterator[StoredKey]:
        for key, size, age in self.inner.scan(prefix):
            yield StoredKey(key, max(0, size - _TRAILER), age)

    def exists(self, key: str) -> bool:
        # Read, not stat: a forged record must not count as a result (a peer would retire the
        # request, and the caller, refusing the record, would wait for ever).
        return self.read(key) is not None

    def size(self, key: str) -> int | None:
        size = self.inner.size(key)
        return None if size is None else max(0, size - _TRAILER)

    @property
    def backing(self) -> Store:
        return self.inner.backing

    def __repr__(self) -> str:
        return f"SignedStore({self.inner!r})"
