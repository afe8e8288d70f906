"""Memoized functions: joblib's ``MemorizedFunc`` over a pythagoras store, and its no-op twin.

A call's address is the one every front-end gives it: the identity of the function
(:func:`~pythagoras.identity.function_identity`, not strict, so lambdas and callable objects
are accepted) and the canonical hash of its arguments, less the parameters named in
``ignore``. A call memoized here is therefore a hit for ``PythagorasExecutor.submit`` on the same
folder, and the other way round (unless ``ignore`` is given: the executor hashes every argument).

A function whose code changes is a new identity with records of its own: nothing is wiped, and
both versions keep their results.
"""

from __future__ import annotations

import functools
import inspect
import logging
import time
import traceback
import warnings
from collections.abc import Callable
from typing import Any

from ..errors import PurityError, UnhashableArgument
from ..identity.address import CallAddress
from ..identity.calls import arguments_hash
from ..identity.functions import function_identity
from ..records.frames import MISSING
from ..storage.base import Store
from .messages import (
    call_banner,
    duration_line,
    function_name,
    loading_line,
    log,
    signature,
)
from .shelf import Shelf
from .shelved import MemorizedResult, NotMemorizedResult

__all__ = [
    "AsyncMemorizedFunc",
    "AsyncNotMemorizedFunc",
    "CacheWarning",
    "MemorizedFunc",
    "NotMemorizedFunc",
    "ValidationCallback",
]

#: joblib's ``cache_validation_callback``: given a stored call's metadata, True to use it.
ValidationCallback = Callable[[dict[str, Any]], Any]


def _signature_text(func: Callable[..., Any]) -> str:
    try:
        return str(inspect.signature(func))
    except (TypeError, ValueError):
        return "(...)"


class CacheWarning(UserWarning):
    """A call's value was computed but could not be stored (it cannot be pickled, or the store
    failed): the value is returned, and the call will be computed again next time."""


class MemorizedFunc:
    """A function whose calls are looked up in a store before they are computed.

    The joblib ``MemorizedFunc`` API: call it, ``call_and_shelve`` for a reference to the value,
    ``call`` to compute whatever is stored, ``check_call_in_cache``, ``clear``.
    """

    def __init__(
        self,
        func: Callable[..., Any],
        shelf: Shelf,
        *,
        ignore: list[str] | None = None,
        mmap_mode: str | None = None,
        compress: bool | int | tuple[str, int] = False,
        verbose: int = 1,
        timestamp: float | None = None,
        cache_validation_callback: ValidationCallback | None = None,
    ) -> None:
        try:
            functools.update_wrapper(self, func)
        except (AttributeError, TypeError):  # objects such as ufuncs lack a wrapper's attributes
            pass
        function_identity(func, strict=False)  # a callable without an identity fails here, not at a call
        self.func = func
        self._shelf = shelf
        self.ignore = ignore if ignore is not None else []
        self.mmap_mode = mmap_mode  # accepted as joblib does; loading is zero-copy already
        self.compress = compress  # accepted as joblib does; records are stored uncompressed
        self._verbose = verbose
        self.timestamp = timestamp if timestamp is not None else time.time()
        self.cache_validation_callback = cache_validation_callback
        doc = func.__doc__
        self.__doc__ = f"Memoized version of {function_name(func)}" + (f": {doc}" if doc else "")

    @property
    def store_backend(self) -> Store:
        """The store the records live in."""
        return self._shelf.store

    @property
    def func_id(self) -> str:
        """The function's identity now: it changes when its code or what it reads changes."""
        return function_identity(self.func, strict=False).hex()

    # -- calling ---------------------------------------------------------------------------

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._cached_call(args, kwargs, shelving=False)

    def call_and_shelve(self, *args: Any, **kwargs: Any) -> MemorizedResult | NotMemorizedResult:
        """A reference to the call's value, stored first if it is not; the value is loaded only
        by the reference's ``get()``."""
        result: MemorizedResult | NotMemorizedResult = self._cached_call(args, kwargs, shelving=True)
        return result

    def call(self, *args: Any, **kwargs: Any) -> tuple[Any, dict[str, Any]]:
        """Compute the call whatever is stored, store its value over any record, and return it
        with its metadata."""
        return self._run(self._address(args, kwargs), args, kwargs, shelving=False, replace=True)

    def check_call_in_cache(self, *args: Any, **kwargs: Any) -> bool:
        """True if the call has an intact stored value that ``cache_validation_callback`` accepts;
        nothing is computed, loaded or deleted."""
        address = self._address(args, kwargs)
        if self.cache_validation_callback is not None:
            metadata = self._shelf.metadata(address)
            if metadata is None or not self.cache_validation_callback(metadata):
                return False
        return self._shelf.contains(address)

    def clear(self, warn: bool = True) -> None:
        """Delete the stored calls of the function as it is now (its current identity).

        Records of its earlier versions are other functions' records: ``Memory.clear()`` and
        ``Memory.reduce_size()`` remove those.
        """
        function = self.func_id
        if self._verbose > 0 and warn:
            self.warn(f"Clearing function cache identified by {function}")
        self._shelf.forget_function(function)

    # -- the steps of a call -------------------------------------------------------------------

    def _address(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> CallAddress:
        try:
            arguments = arguments_hash(self.func, args, kwargs, ignore=self.ignore)
        except UnhashableArgument:
            raise
        except TypeError as e:  # the call does not fit the signature: say whose
            name = function_name(self.func)
            raise PurityError(f"{name}() cannot be called so: {e}; its signature is "
                              f"{name}{_signature_text(self.func)}") from None
        return CallAddress.of(function_identity(self.func, strict=False), arguments)

    def _cached_call(self, args: tuple[Any, ...], kwargs: dict[str, Any], *, shelving: bool) -> Any:
        address, found, replace = self._lookup(args, kwargs, shelving=shelving)
        if found is not MISSING:
            return found
        return self._run(address, args, kwargs, shelving=shelving, replace=replace)[0]

    def _lookup(self, args: tuple[Any, ...], kwargs: dict[str, Any], *,
                shelving: bool) -> tuple[CallAddress, Any, bool]:
        """The call's address; its stored value (a reference if ``shelving``) or MISSING; and
        whether a record is there that the computed value must replace (expired). A record
        that cannot be loaded here is kept: it may be another Python's, which loads it."""
        address = self._address(args, kwargs)
        if self._verbose >= 20:
            self._log_query(address, args, kwargs)
        metadata = None
        if self.cache_validation_callback is not None:
            metadata = self._shelf.metadata(address)
            if metadata is None:
                return address, MISSING, False
            if not self.cache_validation_callback(metadata):
                return address, MISSING, True
        if shelving:
            if not self._shelf.holds(address):
                return address, MISSING, False
            return address, self._shelved(address, metadata), False
        started = time.perf_counter()
        try:
            value = self._shelf.lookup(address)
        except Exception:  # a value that cannot be unpickled here (a missing module): recompute
            self.warn(f"Exception while loading results for {signature(self.func, args, kwargs)}\n "
                      f"{traceback.format_exc()}")
            return address, MISSING, False
        if value is not MISSING and self._verbose > 1:
            print(loading_line(self.func, time.time() - self.timestamp))
            if self._verbose > 4:
                print(duration_line(self.func, time.perf_counter() - started, "cache loaded "))
        return address, value, False

    def _run(self, address: CallAddress, args: tuple[Any, ...], kwargs: dict[str, Any], *,
             shelving: bool, replace: bool) -> tuple[Any, dict[str, Any]]:
        self._announce(address, args, kwargs)
        start_time, started = time.time(), time.perf_counter()
        value = self.func(*args, **kwargs)
        return self._keep(address, value, start_time, time.perf_counter() - started,
                          shelving=shelving, replace=replace)

    def _announce(self, address: CallAddress, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        if self._verbose > 10:
            self.warn(f"Computing func {function_name(self.func)}, argument hash {address.arguments} "
                      f"in location {self._shelf.store.location}")
        if self._verbose > 0:
            print(call_banner(self.func, args, kwargs))

    def _keep(self, address: CallAddress, value: Any, start_time: float, duration: float, *,
              shelving: bool, replace: bool) -> tuple[Any, dict[str, Any]]:
        """Store a computed value and return it (or a reference to it) with its metadata."""
        try:  # the duration is stored for the one reader of it, a validation callback
            self._shelf.publish(address, value, duration if self.cache_validation_callback else None,
                                replace=replace)
            stored = True
        except Exception as e:  # as joblib: storing is best effort, the value is the caller's
            warnings.warn(f"the value of {function_name(self.func)}() could not be stored in "
                          f"{self._shelf.store.location!r} and will be computed again next time: {e!r}",
                          CacheWarning, stacklevel=5)  # the caller's line: f(), then three steps here
            stored = False
        if self._verbose > 0:
            print(duration_line(self.func, duration))
        metadata = {"duration": duration, "time": start_time}
        if not shelving:
            return value, metadata
        if not stored:
            return NotMemorizedResult(value), metadata
        return self._shelved(address, metadata), metadata

    def _shelved(self, address: CallAddress, metadata: dict[str, Any] | None) -> MemorizedResult:
        return MemorizedResult(self._shelf, address, mmap_mode=self.mmap_mode, verbose=self._verbose - 1,
                               timestamp=self.timestamp, metadata=metadata)

    def _log_query(self, address: CallAddress, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        logging.basicConfig(level=logging.INFO)  # as joblib at this level: let the query show
        log.info("[%s]: Querying %s with signature %s (argument hash %s); the store location is %s",
                 self, function_name(self.func), signature(self.func, args, kwargs), address.arguments,
                 self._shelf.store.location)

    # -- the object ------------------------------------------------------------------------

    def warn(self, message: str) -> None:
        """Log a warning about this function, as joblib's ``Logger.warn`` does."""
        log.warning("[%s]: %s", self, message)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(func={self.func}, location={self._shelf.store.location})"

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["timestamp"] = None  # as joblib: a pickled function does not depend on when it was made
        return state


class AsyncMemorizedFunc(MemorizedFunc):
    """A coroutine function whose calls are memoized: awaiting a call awaits the function only on
    a miss."""

    async def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return await self._cached_call_async(args, kwargs, shelving=False)

    async def call_and_shelve(  # type: ignore[override]
            self, *args: Any, **kwargs: Any) -> MemorizedResult | NotMemorizedResult:
        result: MemorizedResult | NotMemorizedResult = await self._cached_call_async(
            args, kwargs, shelving=True)
        return result

    async def call(self, *args: Any, **kwargs: Any) -> tuple[Any, dict[str, Any]]:  # type: ignore[override]
        return await self._run_async(self._address(args, kwargs), args, kwargs, shelving=False, replace=True)

    async def _cached_call_async(self, args: tuple[Any, ...], kwargs: dict[str, Any], *,
                                 shelving: bool) -> Any:
        address, found, replace = self._lookup(args, kwargs, shelving=shelving)
        if found is not MISSING:
            return found
        return (await self._run_async(address, args, kwargs, shelving=shelving, replace=replace))[0]

    async def _run_async(self, address: CallAddress, args: tuple[Any, ...], kwargs: dict[str, Any], *,
                         shelving: bool, replace: bool) -> tuple[Any, dict[str, Any]]:
        self._announce(address, args, kwargs)
        start_time, started = time.time(), time.perf_counter()
        value = await self.func(*args, **kwargs)
        return self._keep(address, value, start_time, time.perf_counter() - started,
                          shelving=shelving, replace=replace)


class NotMemorizedFunc:
    """A function that is only called, for ``Memory(location=None)``; joblib's class."""

    def __init__(self, func: Callable[..., Any]) -> None:
        self.func = func

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.func(*args, **kwargs)

    def call_and_shelve(self, *args: Any, **kwargs: Any) -> NotMemorizedResult:
        return NotMemorizedResult(self.func(*args, **kwargs))

    def call(self, *args: Any, **kwargs: Any) -> tuple[Any, dict[str, Any]]:
        return self.func(*args, **kwargs), {}

    def check_call_in_cache(self, *args: Any, **kwargs: Any) -> bool:
        return False

    def clear(self, warn: bool = True) -> None:
        """Nothing is stored, so nothing is cleared."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}(func={self.func})"


class AsyncNotMemorizedFunc(NotMemorizedFunc):
    """A coroutine function that is only called, for ``Memory(location=None)``."""

    async def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return await self.func(*args, **kwargs)

    async def call_and_shelve(  # type: ignore[override]
            self, *args: Any, **kwargs: Any) -> NotMemorizedResult:
        return NotMemorizedResult(await self.func(*args, **kwargs))

    async def call(self, *args: Any, **kwargs: Any) -> tuple[Any, dict[str, Any]]:  # type: ignore[override]
        return await self.func(*args, **kwargs), {}
