"""The fsspec store: any fsspec URL (``s3://bucket/prefix``, ``gs://…``, ``memory://…``).

Each store operation is one call of the fsspec file system, and on an object store one
request: a GET to read, a PUT to write, a conditional PUT to create, a HEAD to date, one
paginated listing to list. ``storage_options`` go to fsspec unchanged, as pandas and dask
pass them, except that fsspec's listings cache is always off: a stale listing would hide
new requests and results.

**Exclusive create.** Where the backend makes the server refuse a create over an existing
object (S3 ``If-None-Match: *``, GCS ``ifGenerationMatch=0``, Azure ``If-None-Match``), a
claim is enforced by the server, and :attr:`atomic_create` is True. For any other backend
pythagoras checks, then writes: two peers may both win a claim, so a call may run twice, and
a warning says so when the store opens. Results stay correct either way (they are
content-addressed and write-once).

**Clocks.** An object's date is the server's. Leases compare it with this machine's clock,
so the store measures the difference once (a probe object written and dated) and corrects
every age by it: peers whose clocks disagree by minutes agree on a lease.
"""

from __future__ import annotations

import builtins
import threading
import time
import warnings
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from ..errors import StoreError
from .base import Store, StoredKey, check_key, check_prefix, is_debris
from .dates import modified_or_fail, modified_time
from .hookspecs import hookimpl
from .unique import unique_hex

__all__ = ["FsspecStore", "pythagoras_open_store"]

# Backends whose ``pipe_file(..., mode="create")`` is a conditional write the server enforces.
_SERVER_CHECKED_CREATE = frozenset({"s3", "s3a", "gs", "gcs", "abfs", "abfss", "az"})
# Backends that live in this process only: a lock makes their check-then-write atomic.
_IN_PROCESS = frozenset({"memory"})
_IN_PROCESS_LOCK = threading.Lock()
# S3 takes one PUT up to 5 GiB; ask s3fs never to split a record into a multipart upload, so
# that every create is one conditional request (and a write one atomic replace).
_ONE_PUT = {"chunksize": 2**32}
# How often a create that S3 answers with 409 ConditionalRequestConflict is tried again.
_CONFLICT_RETRIES = 3
# How often the server's clock is measured again (seconds).
_CLOCK_CHECK_INTERVAL = 600.0


@contextmanager
def _translated(store: FsspecStore, operation: str, key: str) -> Iterator[None]:
    """Let through what the store contract uses (absent, exists, a StoreError) and every
    OSError; turn anything else a backend raises (botocore's EndpointConnectionError is not an
    OSError) into a StoreError, which callers treat as an unreachable store."""
    try:
        yield
    except OSError:
        raise
    except Exception as e:
        raise StoreError(f"{operation} {key!r} at {store.location!r} failed: "
                         f"{type(e).__name__}: {e}") from e


def _s3_code(error: BaseException) -> str:
    """The S3 error code behind an exception s3fs translated, or ''."""
    cause = error.__cause__
    response = getattr(cause, "response", None)
    if isinstance(response, dict):
        return str(response.get("Error", {}).get("Code", ""))
    return ""


class FsspecStore(Store):
    """A store under one fsspec path: key ``a/b`` is the object ``<root>/a/b``."""

    def __init__(self, location: str, fs: Any, root: str) -> None:
        super().__init__(location)
        self.fs = fs
        protocols = fs.protocol if isinstance(fs.protocol, (tuple, list)) else (fs.protocol,)
        self.protocol: str = protocols[0]
        self._s3 = self.protocol in ("s3", "s3a")
        self._local = self.protocol in _IN_PROCESS
        self.atomic_create = self._local or self.protocol in _SERVER_CHECKED_CREATE
        self.remote = not self._local
        self._root = root.rstrip("/")
        self._create_options = _ONE_PUT if self._s3 else {}
        # One GET: with more than one, s3fs first asks for the size (a HEAD, and on a miss a
        # listing too, to tell a missing object from a folder).
        self._read_options = {"max_concurrency": 1} if self._s3 else {}
        self._skew = 0.0  # the store's clock minus this machine's, in seconds
        self._skew_checked = -float("inf") if self.remote else float("inf")

    @property
    def root(self) -> str:
        """The fsspec path that keys are under (``bucket/prefix`` for ``s3://bucket/prefix``)."""
        return self._root

    def _path(self, key: str) -> str:
        return f"{self._root}/{check_key(key)}"

    # -- bytes -------------------------------------------------------------------------------

    def read(self, key: str) -> bytes | None:
        limit = self.limit_of(key)
        data = self._get(self._path(key), limit)
        if data is not None and len(data) > limit:
            self.refuse_oversized(key, self.size(key) or len(data))
            return None
        return data

    def _get(self, path: str, limit: int) -> bytes | None:
        """One GET of at most ``limit + 1`` bytes (a Range request): a record over a limit is
        never read whole, and costs no HEAD first. None if absent."""
        try:
            with _translated(self, "read", path):
                data: bytes = self.fs.cat_file(path, start=0, end=limit + 1, **self._read_options)
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            return None
        except OSError as e:
            if _s3_code(e) != "InvalidRange":
                raise
            return b""  # S3 answers a range of an empty object with 416
        return data

    def write(self, key: str, data: bytes) -> None:
        path = self._path(key)
        with _translated(self, "write", key):
            self.fs.pipe_file(path, bytes(data), **self._create_options)

    def create(self, key: str, data: bytes) -> bool:
        path = self._path(key)
        data = bytes(data)
        if self._local:
            with _IN_PROCESS_LOCK:
                return self._create(path, data)
        return self._create(path, data)

    def _create(self, path: str, data: bytes) -> bool:
        for attempt in range(_CONFLICT_RETRIES + 1):
            try:
                with _translated(self, "create", path):
                    self.fs.pipe_file(path, data, mode="create", **self._create_options)
                return True
            except FileExistsError:
                return self._holds(path, data)
            except OSError as e:
                code = _s3_code(e)
                if code == "PreconditionFailed":  # a 412 s3fs did not recognise as "exists"
                    return self._holds(path, data)
                if code == "ConditionalRequestConflict" and attempt < _CONFLICT_RETRIES:
                    # AWS: another conditional write to the key is in flight; retry, as its
                    # SDKs do. The other one has usually won by then.
                    time.sleep(0.05 * 2**attempt)
                    continue
                raise
        return False  # not reached

    def _holds(self, path: str, data: bytes) -> bool:
        """After a refused create: True if the object holds exactly ``data``, because the
        client retried a create whose first attempt landed (its answer lost on the way).
        pythagoras creates claims and break markers with a nonce, so equal bytes are ours; for
        other records (results, requests) equal bytes are equal content either way."""
        if not self.remote:
            return False  # in-process: nothing is retried
        return self._get(path, len(data)) == data  # None if deleted since: lost all the same

    def delete(self, key: str) -> bool:
        path = self._path(key)
        # An object store's delete succeeds whether or not the object was there: ask first.
        if self._stat(path) is None:
            return False
        try:
            with _translated(self, "delete", key):
                self.fs.rm_file(path)
        except FileNotFoundError:
            return False
        return True

    def discard(self, key: str) -> None:
        path = self._path(key)
        try:
            with _translated(self, "delete", key):
                self.fs.rm_file(path)  # S3 answers 204 whether or not it was there
        except FileNotFoundError:
            pass

    def move(self, key: str, new_key: str, *, private: bool = False) -> bool:
        """fsspec's ``mv``: on S3 a copy on the server and a DELETE, never a download."""
        path, new_path = self._path(key), self._path(new_key)
        if self._stat(path) is None:  # absent, or only a prefix of other keys
            return False
        try:
            with _translated(self, "move", key):
                self.fs.mv(path, new_path)
        except FileNotFoundError:
            return False
        return True

    def delete_many(self, keys: Iterable[str]) -> None:
        """One ``rm`` of every key: on S3, one DeleteObjects request per 1,000 keys."""
        paths = [self._path(key) for key in keys]
        if not paths:
            return
        try:
            with _translated(self, "delete", paths[0]):
                self.fs.rm(paths)
        except FileNotFoundError:  # a backend that refuses a list with an absent path in it
            for path in paths:
                self.discard(path[len(self._root) + 1:])

    # -- listing -----------------------------------------------------------------------------

    def list(self, prefix: str = "") -> Iterator[str]:
        check_prefix(prefix)
        return iter([key for key, _, _ in self._listing(prefix)])

    def scan(self, prefix: str = "") -> Iterator[StoredKey]:
        """One listing, with each object's size and date: no request per key."""
        check_prefix(prefix)
        found = self._listing(prefix)
        now = time.time() + self._clock_skew() if found else 0.0
        scanned = []
        for key, size, modified in found:
            age = self.age(key) if modified is None else max(0.0, now - modified)
            if age is not None:
                scanned.append(StoredKey(key, size, age))
        return iter(scanned)

    def _listing(self, prefix: str) -> builtins.list[tuple[str, int, float | None]]:
        """(key, size, date) of every object under ``prefix``, debris excluded."""
        try:
            with _translated(self, "list", prefix):
                if self._s3:
                    objects = self._list_s3(prefix)
                else:
                    head = prefix.rpartition("/")[0]
                    infos = self.fs.find(f"{self._root}/{head}" if head else self._root,
                                         detail=True)
                    objects = [(path, int(info.get("size") or 0), modified_time(info))
                               for path, info in infos.items()
                               if info.get("type", "file") == "file"]
        except FileNotFoundError:
            return []
        start = len(self._root) + 1
        return [(path[start:], size, modified) for path, size, modified in objects
                if path[start:].startswith(prefix) and path.startswith(self._root + "/")
                and not is_debris(path.rpartition("/")[2])]

    def _list_s3(self, prefix: str) -> builtins.list[tuple[str, int, float | None]]:
        """ListObjectsV2 of ``<root>/<prefix>``, page by page: one request per 1,000 keys,
        each object with its size and date.

        (s3fs's ``find`` also asks whether an empty prefix is an object or a folder: two more
        requests on every idle poll.)
        """
        bucket, _, root_key = self._root.partition("/")
        full = f"{root_key}/{prefix}" if root_key else prefix
        objects: builtins.list[tuple[str, int, float | None]] = []
        token: dict[str, str] = {}
        while True:
            page = self.fs.call_s3("list_objects_v2", Bucket=bucket, Prefix=full, **token)
            objects.extend((f"{bucket}/{item['Key']}", int(item.get("Size") or 0),
                            modified_time(item)) for item in page.get("Contents", ()))
            if not page.get("IsTruncated"):
                return objects
            token = {"ContinuationToken": page["NextContinuationToken"]}

    # -- metadata ----------------------------------------------------------------------------

    def _stat(self, path: str) -> tuple[float, int] | None:
        """(modified, size) of the object at ``path`` by the store's clock, or None."""
        if self._s3:
            bucket, key, _ = self.fs.split_path(path)
            try:
                with _translated(self, "stat", path):
                    head = self.fs.call_s3("head_object", Bucket=bucket, Key=key)
            except FileNotFoundError:
                return None
            return head["LastModified"].timestamp(), int(head["ContentLength"])
        try:
            with _translated(self, "stat", path):
                info = self.fs.info(path)
        except (FileNotFoundError, NotADirectoryError):
            return None
        if info.get("type") != "file":
            return None
        return modified_or_fail(info), int(info.get("size") or 0)

    def age(self, key: str) -> float | None:
        stat = self._stat(self._path(key))
        if stat is None:
            return None
        return max(0.0, time.time() + self._clock_skew() - stat[0])

    def exists(self, key: str) -> bool:
        return self._stat(self._path(key)) is not None

    def size(self, key: str) -> int | None:
        stat = self._stat(self._path(key))
        return None if stat is None else stat[1]

    def _clock_skew(self) -> float:
        """The store's clock minus this machine's, measured with a probe object now and then.

        Object dates have one-second resolution on S3, so the figure is good to about a
        second, and so are ages; leases on an object store are tens of seconds.
        """
        now = time.monotonic()
        if now - self._skew_checked < _CLOCK_CHECK_INTERVAL:
            return self._skew
        probe = f"{self._root}/.clock-{unique_hex(16)}"  # a debris name: no lister sees it
        before = time.time()
        with _translated(self, "write", probe):
            self.fs.pipe_file(probe, b"")
        after = time.time()
        try:
            stat = self._stat(probe)
        finally:
            try:
                with _translated(self, "delete", probe):
                    self.fs.rm_file(probe)
            except FileNotFoundError:
                pass
        if stat is not None:
            # The date is truncated to the second: add half a second to centre the estimate.
            stored = stat[0] + (0.5 if self._s3 else 0.0)
            self._skew = stored - (before + after) / 2
        self._skew_checked = now
        return self._skew


def open_fsspec_store(location: str, storage_options: dict[str, object]) -> FsspecStore:
    """Open ``location`` through fsspec; the errors name the package or the step that is missing."""
    import fsspec.core  # type: ignore[import-untyped]  # here: a local folder never needs it

    options = dict(storage_options)
    options["use_listings_cache"] = False
    try:
        fs, root = fsspec.core.url_to_fs(location, **options)
    except ImportError as e:
        scheme = location.split("://", 1)[0]
        extra = " (pip install 'pythagoras-swarm[s3]')" if scheme in ("s3", "s3a") else ""
        raise StoreError(f"{location!r} needs an fsspec backend that is not installed{extra}: {e}") \
            from e
    store = FsspecStore(location, fs, root)
    if store._s3:
        with _translated(store, "open", root):
            _check_bucket(store, root)
    if not store.atomic_create:
        warnings.warn(
            f"pythagoras: the store {location!r} ({store.protocol}://) has no atomic exclusive "
            "create, so claims are advisory: two peers may run the same call. Results stay "
            "correct; only work is duplicated.",
            RuntimeWarning,
            stacklevel=3,
        )
    return store


def _check_bucket(store: FsspecStore, root: str) -> None:
    bucket = root.split("/", 1)[0]
    try:
        store.fs.call_s3("head_bucket", Bucket=bucket)
    except FileNotFoundError as e:
        raise StoreError(f"the bucket {bucket!r} of {store.location!r} does not exist: create it "
                         "first (pythagoras does not create buckets)") from e
    except PermissionError as e:
        raise StoreError(f"cannot open the bucket {bucket!r} of {store.location!r}: {e}; check the "
                         "credentials in storage_options or the environment") from e


@hookimpl
def pythagoras_open_store(location: str, storage_options: dict[str, object]) -> Store | None:
    """Serve every ``scheme://`` URL that fsspec knows, except ``file://`` (the local store's)."""
    scheme, sep, _ = location.partition("://")
    if not sep or scheme == "file":
        return None
    try:
        from fsspec.registry import known_implementations, registry  # type: ignore[import-untyped]
    except ImportError:  # no fsspec: another plugin may serve the URL
        return None
    if scheme not in known_implementations and scheme not in registry:
        return None
    return open_fsspec_store(location, storage_options)
