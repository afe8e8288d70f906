"""``Memory``: joblib's ``Memory`` over a pythagoras store, so that its records are the swarm's.

    mem = Memory("/mnt/team/swarm")
    f = mem.cache(f)                       # f(x) is computed once, on any machine of the swarm
    Pipeline(steps, memory=mem)            # scikit-learn caches transformer fits in the swarm

The choices that differ from joblib are explained in ``docs/memory.md``.
"""

from __future__ import annotations

import datetime
import inspect
import logging
import os
import time
import warnings
from collections.abc import Callable, Mapping
from typing import Any, Literal, overload

from ..errors import PythagorasError
from ..storage.base import Store
from ..storage.credentials import public_options
from ..storage.local import LocalFolderStore
from ..storage.signed import Secret
from ..swarm.options import SwarmOptions
from .cached import (
    AsyncMemorizedFunc,
    AsyncNotMemorizedFunc,
    MemorizedFunc,
    NotMemorizedFunc,
    ValidationCallback,
)
from .limits import calls_to_delete
from .messages import log
from .shelf import Shelf, travelling

__all__ = ["Memory", "UnknownBackend", "expires_after"]

#: joblib's backend names that mean "the store the location names": pythagoras chooses a store
#: by the location itself (a folder, file://, s3://, any URL a store plugin serves).
BACKENDS = ("local", "pythagoras")

_GITIGNORE = "# Created by pythagoras automatically: a cache of memoized calls is not source.\n*\n"

Memoized = MemorizedFunc | NotMemorizedFunc


class UnknownBackend(PythagorasError, TypeError):
    """``Memory(backend=...)`` names a joblib store backend that pythagoras does not provide."""


class Memory:
    """A context for caching the values of function calls in a pythagoras store; joblib's API.

    ``location`` is a folder path or a URL (``s3://bucket/prefix``); ``None`` caches nothing,
    as in joblib. Records are the swarm's: a call memoized here is a hit for
    ``PythagorasExecutor`` and the tutorial's decorator on the same location, and theirs are
    hits here. ``backend_options`` (or its pythagoras name, ``storage_options``) go to the store.
    ``mmap_mode`` and ``compress`` are accepted and have no effect: loading is zero-copy already
    and records are stored uncompressed, so every front-end can read them.
    """

    def __init__(
        self,
        location: str | os.PathLike[str] | Store | None = None,
        backend: str = "local",
        mmap_mode: str | None = None,
        compress: bool | int | tuple[str, int] = False,
        verbose: int = 1,
        backend_options: Mapping[str, object] | None = None,
        *,
        storage_options: Mapping[str, object] | None = None,
        secret: Secret | None = None,
    ) -> None:
        if backend not in BACKENDS:
            raise UnknownBackend(
                f"Unknown location {location!r} or backend {backend!r}: pythagoras.Memory chooses its "
                f"store from the location (a folder path, or a URL such as s3://bucket/prefix); "
                f"leave backend='local'"
            )
        if backend_options and storage_options:
            raise TypeError("give the store's options once: backend_options or storage_options, not both")
        if compress:
            warnings.warn(f"compress={compress!r} has no effect: pythagoras stores records uncompressed, "
                          "so that every peer and front-end can read them without copying", stacklevel=2)
        self.location = location
        self.backend = backend
        self.mmap_mode = mmap_mode
        self.compress = compress
        self._verbose = verbose
        self.timestamp = time.time()
        self.backend_options = dict(storage_options or backend_options or {})
        # The location may be a Store, or None (nothing cached): the options check the rest.
        options = SwarmOptions.of(storage_options=self.backend_options, secret=secret)
        self._shelf = None if location is None else Shelf(location, options.storage_options,
                                                          secret=options.secret)
        if self._shelf is not None and isinstance(self._shelf.store.backing, LocalFolderStore):
            _ignore_in_git(self._shelf.store.location)

    @property
    def store_backend(self) -> Store | None:
        """The store the records live in; None where nothing is cached."""
        return None if self._shelf is None else self._shelf.store

    # -- caching ---------------------------------------------------------------------------

    @overload
    def cache(self, func: None = None, ignore: list[str] | None = None, verbose: int | None = None,
              mmap_mode: str | None | Literal[False] = False,
              cache_validation_callback: ValidationCallback | None = None,
              ) -> Callable[[Callable[..., Any]], Memoized]: ...

    @overload
    def cache(self, func: Callable[..., Any], ignore: list[str] | None = None, verbose: int | None = None,
              mmap_mode: str | None | Literal[False] = False,
              cache_validation_callback: ValidationCallback | None = None) -> Memoized: ...

    def cache(
        self,
        func: Callable[..., Any] | None = None,
        ignore: list[str] | None = None,
        verbose: int | None = None,
        mmap_mode: str | None | Literal[False] = False,
        cache_validation_callback: ValidationCallback | None = None,
    ) -> Memoized | Callable[[Callable[..., Any]], Memoized]:
        """``func`` memoized in this Memory's store; without ``func``, a decorator that does it.

        ``ignore`` names parameters left out of a call's address (such calls are shared between
        memoized functions with the same ``ignore``, not with the executor, which hashes every
        argument). ``cache_validation_callback(metadata)`` decides whether a stored call may be
        used; when it says no, the call is computed again and its record replaced.
        """
        if cache_validation_callback is not None and not callable(cache_validation_callback):
            raise ValueError(
                f"cache_validation_callback needs to be callable. Got {cache_validation_callback}.")
        if func is None:  # @memory.cache(ignore=[...]): the options first, the function next
            def memoize(func: Callable[..., Any]) -> Memoized:
                return self.cache(func, ignore, verbose, mmap_mode, cache_validation_callback)

            return memoize
        if isinstance(func, (MemorizedFunc, NotMemorizedFunc)):
            func = func.func
        coroutine = inspect.iscoroutinefunction(func)
        if self._shelf is None:
            return AsyncNotMemorizedFunc(func) if coroutine else NotMemorizedFunc(func)
        cls = AsyncMemorizedFunc if coroutine else MemorizedFunc
        return cls(
            func,
            self._shelf,
            ignore=ignore,
            mmap_mode=self.mmap_mode if mmap_mode is False else mmap_mode,
            compress=self.compress,
            verbose=self._verbose if verbose is None else verbose,
            timestamp=self.timestamp,
            cache_validation_callback=cache_validation_callback,
        )

    def eval(self, func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """``func(*args, **kwargs)``, computed only if it is not stored."""
        if self._shelf is None:
            return func(*args, **kwargs)
        return self.cache(func)(*args, **kwargs)

    # -- upkeep ----------------------------------------------------------------------------

    def clear(self, warn: bool = True) -> None:
        """Delete every memoized result in the store, whoever wrote it, so that every call is
        computed again (joblib's ``clear`` empties its whole cache folder).

        The swarm's other records (requests, claims, failures, peers) are left alone: deleting
        them would take work from running peers. Clear while no executor on the location is
        waiting: one waiting for a call that another peer is finishing may miss its result and
        wait until its timeout.
        """
        if warn:
            self.warn("Flushing completely the cache")
        if self._shelf is not None:
            self._shelf.forget_all()

    def reduce_size(self, bytes_limit: int | str | None = None, items_limit: int | None = None,
                    age_limit: datetime.timedelta | None = None) -> None:
        """Delete the oldest memoized results until the store holds at most ``bytes_limit`` bytes
        of them (an int, or a str such as ``"2G"``), at most ``items_limit`` of them, and none
        older than ``age_limit``.

        A result's age is the time since it was written, by the store's clock: a hit writes
        nothing, so unlike joblib this keeps the most recently computed results, not the most
        recently read. Every result in the store counts, whoever wrote it.
        """
        if self._shelf is None or (bytes_limit is None and items_limit is None and age_limit is None):
            return
        doomed = calls_to_delete(self._shelf.weigh(), bytes_limit=bytes_limit, items_limit=items_limit,
                                 age_limit=age_limit)
        for call in doomed:
            if self._verbose > 10:
                print(f"Deleting item {call.address}")
            self._shelf.forget(call.address)

    # -- the object ------------------------------------------------------------------------

    def warn(self, message: str) -> None:
        """Log a warning about this Memory, as joblib's ``Logger.warn`` does."""
        log.warning("[%s]: %s", self, message)

    def __repr__(self) -> str:
        store = self.store_backend
        return f"{type(self).__name__}(location={None if store is None else store.location})"

    def __getstate__(self) -> dict[str, Any]:
        """As joblib's, but never with a secret or credentials: the shelf travels as its
        location, public options and whether it is signed (``Shelf``), and so do these."""
        state = self.__dict__.copy()
        state["timestamp"] = None  # as joblib: a pickled Memory (and its hash) is the same whenever made
        state["backend_options"] = public_options(self.backend_options) or {}
        if isinstance(self.location, Store):
            state["location"] = travelling(self.location)
        return state


def expires_after(days: float = 0, seconds: float = 0, microseconds: float = 0, milliseconds: float = 0,
                  minutes: float = 0, hours: float = 0, weeks: float = 0) -> ValidationCallback:
    """A ``cache_validation_callback`` that accepts stored calls younger than the given duration,
    by the age of their records in the store."""
    limit = datetime.timedelta(days=days, seconds=seconds, microseconds=microseconds,
                               milliseconds=milliseconds, minutes=minutes, hours=hours,
                               weeks=weeks).total_seconds()

    def cache_validation_callback(metadata: dict[str, Any]) -> bool:
        return bool(time.time() - metadata["time"] < limit)

    return cache_validation_callback


def _ignore_in_git(folder: str) -> None:
    """Put a ``.gitignore`` in a local folder that has none, as joblib does for its cache folder.

    Readers of the folder never see it: names starting with ``.`` are not records.
    """
    path = os.path.join(folder, ".gitignore")
    if os.path.exists(path):
        return
    try:
        with open(path, "x") as file:
            file.write(_GITIGNORE)
    except FileExistsError:
        pass
    except OSError as e:  # a read-only folder can still be read from
        logging.getLogger("pythagoras").debug("no .gitignore written in %s: %s", folder, e)
