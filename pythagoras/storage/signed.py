"""A swarm secret: every record signed, every unsigned or foreign record refused.

Anyone who can write to a location can make its peers run code (records are pickles; see
``docs/trust.md``). With a secret, :class:`SignedStore` wraps the location's store: every
record written gets a trailer (``signatures.py``): the swarm's id and an HMAC-SHA256 of the
id, the record's key and its bytes (the whole frame) under the secret; every record read must
carry a valid one. A record that does not (written without the secret, with another one, for
another swarm, or altered) is never returned, so never loaded or executed: it is moved to
``quarantine/<its key>.<hex>``, a warning names it, and ``pythagoras status`` counts it.
Signing the key with the bytes stops a valid record from being replayed under another call's
address; signing the swarm's id, from being replayed into another swarm.

A peer that has another secret than the swarm's, or none, finds out when it opens the location,
from the swarm's marker (``swarm_id.py``), and refuses to open it: it neither refuses the
team's records one by one (moving them aside) nor writes records the team would refuse.

The secret comes from ``secret=`` on a front-end (a str or bytes, or a :class:`~pathlib.Path`
of a key file), else ``$PYTHAGORAS_SECRET``, else the key file named by
``$PYTHAGORAS_SECRET_FILE``. It is never written into a location: an object that travels (a
``Memory``, a pure function) carries only whether its location is signed, and its copy takes
the secret from its own environment or from a store already open in its process
(:func:`known_secret`).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, Final

from .base import Store, StoredKey
from .signatures import TRAILER, Signer
from .swarm_id import MARKER, SecretMismatch, Swarm, open_swarm
from .unique import unique_hex

__all__ = [
    "MIN_SECRET",
    "QUARANTINE",
    "SECRET_FILE_VAR",
    "SECRET_VAR",
    "SecretMismatch",
    "SignedStore",
    "known_secret",
    "quarantine_key",
    "resolve_secret",
]

log = logging.getLogger("pythagoras")

SECRET_VAR = "PYTHAGORAS_SECRET"
SECRET_FILE_VAR = "PYTHAGORAS_SECRET_FILE"
QUARANTINE = "quarantine/"
#: The shortest secret accepted, in bytes: a shorter one can be guessed offline from any
#: signed record (or the swarm's marker).
MIN_SECRET: Final = 16
_MAKE_ONE: Final = "make one with `python -c 'import secrets; print(secrets.token_hex(32))'`"

Secret = str | bytes | os.PathLike[str]


def quarantine_key(key: str, tag: str) -> str:
    """Where a refused record under ``key`` is kept aside, ``tag`` making the name unique.
    The one key of the layout made below :mod:`pythagoras.records.keys`, which re-exports it."""
    return f"{QUARANTINE}{key}.{tag}"


def resolve_secret(secret: Secret | None = None) -> bytes | None:
    """The secret's bytes: ``secret`` (a :class:`~pathlib.Path` is a key file, ``~``
    expanded), else the environment's; None if there is none. Refused with a ValueError that
    names the fix: an empty or short secret (it can be guessed), and a string that names a
    file (the path of a key file given as text would be the key itself)."""
    source = "secret="
    if secret is None:
        if os.environ.get(SECRET_VAR):
            secret, source = os.environ[SECRET_VAR], f"${SECRET_VAR}"
        elif os.environ.get(SECRET_FILE_VAR):
            secret, source = Path(os.environ[SECRET_FILE_VAR]), f"${SECRET_FILE_VAR}"
        else:
            return None
    if isinstance(secret, os.PathLike):
        path = Path(secret).expanduser()
        try:
            key = path.read_bytes().strip()
        except OSError as e:
            raise ValueError(f"cannot read the swarm's key file {os.fspath(path)!r}: {e}") from e
        source = f"the key file {os.fspath(path)!r}"
    elif isinstance(secret, str):
        _refuse_a_path(secret, source)
        key = secret.encode()
    elif isinstance(secret, bytes):
        key = secret
    else:
        raise TypeError(f"secret= takes a str, bytes or the Path of a key file, not "
                        f"{type(secret).__name__}")
    if len(key) < MIN_SECRET:
        what = "empty" if not key else f"{len(key)} bytes long"
        raise ValueError(f"the swarm secret is {what} ({source}): give one of at least "
                         f"{MIN_SECRET} random bytes ({_MAKE_ONE})")
    return key


def _refuse_a_path(secret: str, source: str) -> None:
    """A string secret that names a file is a mistake: the file's name would be the key."""
    try:
        names_a_file = os.path.isfile(os.path.expanduser(secret))
    except (ValueError, OSError):  # a NUL byte, a name too long: not a path
        return
    if names_a_file:
        fix = (f"set ${SECRET_FILE_VAR} to the file's path instead" if source != "secret="
               else "give Path(...) of it to use the file as the key file")
        raise ValueError(f"the swarm secret ({source}) names a file, {secret!r}: {fix}, or give "
                         "the key's text itself")


#: The secret of every signed store this process has opened (or received), by location: what
#: an object that arrives here (a copy of a Memory, a pure function) signs with.
_known: dict[str, bytes] = {}


def known_secret(location: str) -> bytes | None:
    """The secret of a signed store open in this process at ``location``, else the
    environment's (``resolve_secret``); None if neither has one."""
    return _known.get(location) or resolve_secret(None)


class SignedStore(Store):
    """``inner`` with every record signed on the way in and checked on the way out.

    Opening it reads the swarm's marker (creating it on a new location): a
    :class:`SecretMismatch` if the swarm is signed with another secret. ``swarm`` skips that
    (a store made for one record, or a test's)."""

    def __init__(self, inner: Store, key: bytes, swarm: Swarm | None = None) -> None:
        super().__init__(inner.location)
        self.inner = inner
        self.atomic_create = inner.atomic_create
        self.remote = inner.remote
        self._signer = Signer(key)
        self.swarm = open_swarm(inner, self._signer) if swarm is None else swarm
        self.refused = 0  # records this process moved to quarantine
        _known.setdefault(self.location, key)

    def __setstate__(self, state: dict[str, Any]) -> None:
        """A store received from a peer (a worker's, through its pool's pipe): what arrives
        here and opens its location signs as it does (:func:`known_secret`)."""
        self.__dict__.update(state)
        _known.setdefault(self.location, self._signer.key)

    def signs_with(self, key: bytes) -> bool:
        """True if this store signs with ``key``."""
        return self._signer.is_key(key)

    def _signed(self, key: str, data: bytes) -> bytes:
        return self._signer.sign(self.swarm.id, key, data)

    def read(self, key: str) -> bytes | bytearray | memoryview | None:
        data = self.inner.read(key)
        if not data:  # absent, or empty: being written in place (create_small), not refused
            return None
        end = self._signer.body(key, data, self.swarm.id, self.swarm.legacy)
        if end is not None:
            if isinstance(data, bytearray):
                del data[end:]  # at the end: nothing is copied
                return data
            return data[:end]
        self._quarantine(key, data)
        return None

    def _quarantine(self, key: str, data: bytes | bytearray | memoryview) -> None:
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
        keys = self.inner.list(prefix)
        return keys if not MARKER.startswith(prefix) else (k for k in keys if k != MARKER)

    def age(self, key: str) -> float | None:
        return self.inner.age(key)

    def scan(self, prefix: str = "") -> Iterator[StoredKey]:
        for key, size, age in self.inner.scan(prefix):
            if key != MARKER:
                yield StoredKey(key, max(0, size - TRAILER), age)

    def exists(self, key: str) -> bool:
        # Read, not stat: a forged record must not count as a result (a peer would retire the
        # request, and the caller, refusing the record, would wait for ever).
        return self.read(key) is not None

    def size(self, key: str) -> int | None:
        size = self.inner.size(key)
        return None if size is None else max(0, size - TRAILER)

    @property
    def backing(self) -> Store:
        return self.inner.backing

    def __repr__(self) -> str:
        return f"SignedStore({self.inner!r})"
