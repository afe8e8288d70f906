"""A local read-through tier for a remote store: write-once records kept in a local folder.

Results, values and functions are write-once and content-addressed: what a key of theirs
holds never changes meaning, so a peer may keep a copy for ever without asking anyone. On a
remote store (``s3://…``: a request is milliseconds on loopback and tens of them on a real
bucket) :class:`TieredStore` keeps the copies it reads or writes in a local folder, and the
next read of the key is one local read. Nothing else is kept: claims, requests, peers,
failures (a later failure replaces the last), break markers, Memory's metadata, quarantine
and ``swarm.json`` all change, and go to the remote store every time.

**Where.** ``cache_dir=`` of :func:`~pythagoras.storage.plugins.open_store`, else
``$PYTHAGORAS_CACHE_DIR``, else ``tier`` in the user's cache directory; one folder below it
per location (a hash of its URL and endpoint, so no name or credential in a URL is written).
``cache_dir=False`` or ``PYTHAGORAS_CACHE_DIR=""`` turns the tier off. The folder is made
0700 and refused if another user may write it: a record there is loaded as one from the
location.

**How much.** ``$PYTHAGORAS_CACHE_BYTES`` (default 1 GiB); least recently used out. A hit
sets the file's date at most once a minute per process (:data:`TOUCH_INTERVAL`); a process
weighs the folder (one scan) when it first adds a copy and again after it added an eighth of
the bound, and then deletes the oldest copies down to three quarters of it. Several
processes of one user may share the folder: writes are atomic (a
:class:`~pythagoras.storage.local.LocalFolderStore`), a copy evicted under a reader is read
from the remote store again, and each may overshoot the bound by an eighth before it weighs.

**Changes made elsewhere.** Writes and deletes through the tier update or drop its copy (a
corrupt result replaced, ``pythagoras clear``). A record another peer deletes or replaces
stays served here until it is evicted: the records kept are those that do not change.

**Signing.** The tier sits below :class:`~pythagoras.storage.signed.SignedStore` and keeps
the bytes as stored, signature included: every hit is checked as a read of the bucket is,
and a tampered copy is refused. When a signed store moves a refused record aside, the tier
moves the remote one only if it holds the same bytes: a bad local copy is dropped, and the
record others wrote stays where it is.
"""

from __future__ import annotations

import hashlib
import logging
import os
import stat
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, Final

import platformdirs

from ..errors import StoreError
from .base import Store, StoredKey, bytes_from_environment
from .local import LocalFolderStore

__all__ = ["CACHE_BYTES_VAR", "CACHE_DIR_VAR", "CACHED_KINDS", "TieredStore", "cache_bytes",
           "read_through", "tier_folder"]

log = logging.getLogger("pythagoras")

CACHE_DIR_VAR: Final = "PYTHAGORAS_CACHE_DIR"
CACHE_BYTES_VAR: Final = "PYTHAGORAS_CACHE_BYTES"
DEFAULT_CACHE_BYTES: Final = 2**30
#: The kinds of record a tier keeps: write-once and content-addressed (``records/keys.py``).
CACHED_KINDS: Final = frozenset({"results", "values", "functions"})
#: Seconds between two updates of a copy's date by one process, on its hits.
TOUCH_INTERVAL: Final = 60.0
_MAX_TOUCHED = 100_000  # hits remembered per process before the memory is cleared
_LOW_WATER = 0.75  # an eviction deletes down to this fraction of the bound
# Date a copy, never what a link in its place points to (where the system can tell them apart).
_UTIME_FOLLOWS = os.utime not in os.supports_follow_symlinks


def is_cached(key: str) -> bool:
    """True for a key of a kind a tier keeps."""
    kind, slash, _ = key.partition("/")
    return bool(slash) and kind in CACHED_KINDS


class TieredStore(Store):
    """``inner`` (a remote store) with its write-once records kept in ``cache``, at most
    ``max_bytes`` of them."""

    def __init__(self, inner: Store, cache: LocalFolderStore, max_bytes: int) -> None:
        super().__init__(inner.location)
        self.inner, self.cache, self.max_bytes = inner, cache, max_bytes
        self.atomic_create = inner.atomic_create
        self.remote = inner.remote
        self._reset()

    def _reset(self) -> None:
        self._lock = threading.Lock()
        self._touched: dict[str, float] = {}  # key -> when this process last dated its copy
        self._added = 0  # bytes this process kept since it last weighed the folder
        self._weight: int | None = None  # bytes in the folder then, plus those added

    def __getstate__(self) -> dict[str, Any]:
        return {"inner": self.inner, "cache": self.cache, "max_bytes": self.max_bytes}

    def __setstate__(self, state: dict[str, Any]) -> None:
        """A copy in another process (a pool's worker) weighs the folder afresh."""
        self.__init__(state["inner"], state["cache"], state["max_bytes"])  # type: ignore[misc]

    # -- bytes -------------------------------------------------------------------------------

    def read(self, key: str) -> bytes | bytearray | memoryview | None:
        if not is_cached(key):
            return self.inner.read(key)
        local = self._local(key)
        if local:
            if len(local) > self.limit_of(key):  # kept under a larger limit than this one
                self.refuse_oversized(key, len(local))
                return None
            self._touch(key)
            return local
        data = self.inner.read(key)
        if data:
            self._keep(key, data)
        return data

    def _local(self, key: str) -> bytearray | memoryview | None:
        try:
            return self.cache.read(key)
        except (OSError, StoreError):  # the folder was removed under us: read the remote one
            return None

    def _touch(self, key: str) -> None:
        """Date the copy now, at most once a minute: least recently used is oldest."""
        now = time.monotonic()
        last = self._touched.get(key)
        if last is not None and now - last < TOUCH_INTERVAL:
            return
        if len(self._touched) >= _MAX_TOUCHED:
            self._touched.clear()
        self._touched[key] = now
        try:
            os.utime(os.path.join(self.cache.location, *key.split("/")),
                     follow_symlinks=_UTIME_FOLLOWS)
        except OSError:  # evicted meanwhile, by another process
            pass

    def _keep(self, key: str, data: bytes | bytearray | memoryview) -> None:
        """Keep a copy of ``data`` (what the remote store holds at ``key``), if it fits; where
        it cannot be written, drop the copy there, which may be older."""
        if len(data) > self.max_bytes // 2:
            self._drop([key])
            return
        try:
            self.cache.write(key, data if isinstance(data, bytes) else bytes(data))
        except (OSError, StoreError):  # evicted folders, a full disk: go without
            self._drop([key])
            return
        self._touched[key] = time.monotonic()  # just written: dated now, no need to date it again
        self._account(len(data))

    def _drop(self, keys: list[str]) -> None:
        for key in keys:
            self._touched.pop(key, None)
        try:
            self.cache.delete_many(keys)
        except (OSError, StoreError) as e:
            log.warning("pythagoras: could not drop the local copies of %s from %s: %s",
                        keys[:3], self.cache.location, e)

    def write(self, key: str, data: bytes) -> None:
        self.inner.write(key, data)
        if is_cached(key):
            self._keep(key, data)

    def create(self, key: str, data: bytes) -> bool:
        created = self.inner.create(key, data)
        if created and is_cached(key):
            self._keep(key, data)
        return created

    def create_small(self, key: str, data: bytes) -> bool:
        created = self.inner.create_small(key, data)
        if created and is_cached(key):
            self._keep(key, data)
        return created

    def delete(self, key: str) -> bool:
        if is_cached(key):
            self._drop([key])
        return self.inner.delete(key)

    def discard(self, key: str) -> None:
        if is_cached(key):
            self._drop([key])
        self.inner.discard(key)

    def delete_many(self, keys: Iterable[str]) -> None:
        keys = list(keys)
        cached = [key for key in keys if is_cached(key)]
        if cached:
            self._drop(cached)
        self.inner.delete_many(keys)

    def move(self, key: str, new_key: str, *, private: bool = False) -> bool:
        """The remote record moved, and both local copies dropped; where ``key``'s local copy
        differs from the remote record (a tampered copy a signed store refused), that copy
        alone goes, and the remote record stays: False."""
        if is_cached(key):
            local = self._local(key)
            self._drop([key])
            if local is not None and self.inner.read(key) != local:
                return False
        if is_cached(new_key):
            self._drop([new_key])
        return self.inner.move(key, new_key, private=private)

    # -- what the remote store answers -------------------------------------------------------

    def list(self, prefix: str = "") -> Iterator[str]:
        return self.inner.list(prefix)

    def scan(self, prefix: str = "") -> Iterator[StoredKey]:
        return self.inner.scan(prefix)

    def age(self, key: str) -> float | None:
        return self.inner.age(key)

    def exists(self, key: str) -> bool:
        if is_cached(key) and self.cache.exists(key):
            return True
        return self.inner.exists(key)

    def size(self, key: str) -> int | None:
        return self.inner.size(key)

    @property
    def backing(self) -> Store:
        """Itself: it holds the bytes as stored, and what deletes through it (``pythagoras
        clear``) must drop its copies too."""
        return self

    def __repr__(self) -> str:
        return f"TieredStore({self.inner!r}, {self.cache.location!r})"

    # -- the bound ---------------------------------------------------------------------------

    def _account(self, added: int) -> None:
        with self._lock:
            self._added += added
            if self._weight is not None:
                self._weight += added
                if self._weight <= self.max_bytes and self._added < self.max_bytes // 8:
                    return
            self._evict()

    def _evict(self) -> None:
        """Weigh the folder; past the bound, delete the least recently used copies."""
        kept = sorted(self.cache.scan(""), key=lambda found: found.age)  # newest first
        weight = sum(found.size for found in kept)
        if weight > self.max_bytes:
            out = []
            while kept and weight > self.max_bytes * _LOW_WATER:
                oldest = kept.pop()
                out.append(oldest.key)
                weight -= oldest.size
            self._drop(out)
        self._weight, self._added = weight, 0

    def evict(self) -> None:
        """Weigh the folder now, and evict past the bound (done on its own as copies are kept)."""
        with self._lock:
            self._evict()


def cache_bytes() -> int:
    """The most bytes a tier keeps: ``$PYTHAGORAS_CACHE_BYTES``, else 1 GiB."""
    return bytes_from_environment(CACHE_BYTES_VAR, DEFAULT_CACHE_BYTES,
                                  f", or set {CACHE_DIR_VAR}='' to keep no local copies")


def tier_folder(location: str, storage_options: Mapping[str, object] | None,
                cache_dir: str | os.PathLike[str] | bool | None = None) -> str | None:
    """The folder of ``location``'s tier, or None where it is off (``cache_dir=False``, or
    ``$PYTHAGORAS_CACHE_DIR`` set empty)."""
    if cache_dir is False:
        return None
    if cache_dir is None or cache_dir is True:
        configured = os.environ.get(CACHE_DIR_VAR)
        if configured is not None and not configured.strip():
            return None
        parent = configured or os.path.join(
            platformdirs.user_cache_dir("pythagoras", appauthor=False), "tier")
    else:
        parent = os.fspath(cache_dir)
    return os.path.join(os.path.expanduser(parent), _folder_name(location, storage_options))


def _folder_name(location: str, storage_options: Mapping[str, object] | None) -> str:
    """A hash of the location and the endpoint it is reached at (two servers may have buckets
    of one name); never the URL itself, which may carry a name or a credential."""
    options = dict(storage_options or {})
    client = options.get("client_kwargs")
    endpoint = options.get("endpoint_url") or (
        client.get("endpoint_url") if isinstance(client, Mapping) else None)
    return hashlib.sha256(f"{location}\0{endpoint or ''}".encode()).hexdigest()[:32]


def read_through(store: Store, storage_options: Mapping[str, object] | None = None,
                 cache_dir: str | os.PathLike[str] | bool | None = None) -> Store:
    """``store`` with a local tier if it is remote and the tier is not turned off; else
    ``store``. A ``cache_dir`` that cannot serve is a :class:`StoreError` naming the fix; the
    default one, a warning, and no tier."""
    if not store.remote or isinstance(store, TieredStore):
        return store
    folder = tier_folder(store.location, storage_options, cache_dir)
    if folder is None:
        return store
    max_bytes = cache_bytes()
    try:
        cache = _open_cache(folder)
    except StoreError as e:
        if cache_dir is not None or os.environ.get(CACHE_DIR_VAR):
            raise
        log.warning("pythagoras: no local tier for %s: %s", store.location, e)
        return store
    return TieredStore(store, cache, max_bytes)


def _open_cache(folder: str) -> LocalFolderStore:
    """The tier's folder, made 0700; refused if it is a link, or another user may write it."""
    fix = (f"give another cache_dir= (or ${CACHE_DIR_VAR}), or set ${CACHE_DIR_VAR}='' to "
           "keep no local copies")
    try:
        os.makedirs(os.path.dirname(folder), mode=0o700, exist_ok=True)
        os.makedirs(folder, mode=0o700, exist_ok=True)
        st = os.lstat(folder)
    except OSError as e:
        raise StoreError(f"cannot make the local tier's folder {folder!r}: {e}; {fix}") from e
    if not stat.S_ISDIR(st.st_mode):
        raise StoreError(f"the local tier's folder {folder!r} is a link or a file; {fix}")
    others = hasattr(os, "getuid") and st.st_uid != os.getuid()
    if others or st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise StoreError(f"other users may write the local tier's folder {folder!r}, and a "
                         f"record there is loaded as one from the location: chmod 700 it, or "
                         f"{fix}")
    return LocalFolderStore(folder)
