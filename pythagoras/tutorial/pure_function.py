"""The tutorial's pure function: keyword arguments only, memoized in the swarm's store."""

from __future__ import annotations

import contextvars
import functools
import inspect
import pickle
import random
import threading
import time
import types
import warnings
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import Future, as_completed
from concurrent.futures import TimeoutError as FuturesTimeout
from typing import TYPE_CHECKING, Any, Final

from ..errors import CallTimeout, IdentityError, PurityError, PurityWarning, UnloadableResult
from ..identity.address import CallAddress
from ..identity.functions import encode_function, function_identity
from ..identity.values import Encoder, hash_kwargs
from ..records.results import MISSING, ResultRecords
from ..swarm.call_future import read_from_store, why_stalled
from ..swarm.progress import CallBar, wanted
from ..swarm.protocol import Call

if TYPE_CHECKING:
    from .cloud import SharedStorage_P2P_Cloud

__all__ = ["PureFunction", "kw_args"]


class kw_args(dict[str, Any]):  # noqa: N801 -- the tutorial's spelling
    """Keyword arguments for one call, as in ``f.sync_parallel(kw_args(x=i) for i in ...)``."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(kwargs)

    def __repr__(self) -> str:
        return f"kw_args({', '.join(f'{k}={v!r}' for k, v in self.items())})"


class _Signature:
    """What a call's keywords are checked and completed against, derived once."""

    def __init__(self, func: Callable[..., Any]) -> None:
        name = func.__qualname__
        params = inspect.signature(func).parameters.values()
        for p in params:
            if p.kind is p.POSITIONAL_ONLY:
                raise PurityError(f"{name}() has the positional-only parameter {p.name!r}; "
                                  "pure functions take keyword arguments: remove the '/'")
            if p.kind is p.VAR_POSITIONAL:
                raise PurityError(f"{name}() takes *{p.name}; pure functions take keyword "
                                  f"arguments only: replace *{p.name} with a keyword parameter")
        self.name = name
        self.names = [p.name for p in params if p.kind is not p.VAR_KEYWORD]
        self.known = frozenset(self.names)
        self.open = any(p.kind is p.VAR_KEYWORD for p in params)
        self.required = frozenset(p.name for p in params
                                  if p.default is p.empty and p.kind is not p.VAR_KEYWORD)
        self.defaults = {p.name: p.default for p in params if p.default is not p.empty}

    def complete(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
        """The call's keywords with defaults filled in; a clear TypeError for a bad call."""
        if args:
            # Not strict: the names are padded with "..." to be at least as many as the arguments.
            names = self.names + ["..."] * len(args)
            shown = ", ".join(f"{n}={_short(v)}" for n, v in zip(names, args, strict=False))
            raise PurityError(f"{self.name}() takes keyword arguments only; call {self.name}({shown})")
        if not self.open and not self.known.issuperset(kwargs):
            unknown = sorted(set(kwargs) - self.known)
            raise PurityError(f"{self.name}() got unexpected keyword argument(s) {unknown}; "
                              f"it takes {sorted(self.known)}")
        if not self.required.issubset(kwargs):
            missing = sorted(self.required - set(kwargs))
            raise PurityError(f"{self.name}() is missing keyword argument(s) {missing}")
        return {**self.defaults, **kwargs} if self.defaults else kwargs


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


#: A stored result that this Python cannot load (another version's class).
_UNLOADABLE: Final = object()


class PureFunction:
    """A function registered with a cloud: each call is looked up in the store first."""

    def __init__(self, func: Callable[..., Any], cloud: SharedStorage_P2P_Cloud,
                 *, version: str | None = None, identity: bytes | None = None) -> None:
        if not isinstance(func, types.FunctionType):
            raise IdentityError(f"add_pure_function takes a function defined with def, not {func!r}")
        if (inspect.isgeneratorfunction(func) or inspect.iscoroutinefunction(func)
                or inspect.isasyncgenfunction(func)):
            raise PurityError(f"{func.__qualname__} is a generator or coroutine function; a pure "
                              "function must return its value: return a list instead of yielding")
        # Refuse lambdas and functions without source now, at decoration, not at the first call.
        # A copy that arrived by value (called inside another call, on another peer) keeps the
        # identity it was sent with: its source may not be here, and the globals it read came
        # with it, frozen as they were then.
        self._identity = identity
        if identity is None:
            function_identity(func, version=version, strict=True)
        self._func = func
        self._version = version
        self._checked_reads = False
        self._signature = _Signature(func)
        self._results = ResultRecords(cloud.store)
        self.cloud = cloud
        functools.update_wrapper(self, func)

    @property
    def func(self) -> Callable[..., Any]:
        """The undecorated function."""
        return self._func

    def address(self, **kwargs: Any) -> CallAddress:
        """Where the result of ``f(**kwargs)`` lives in the store."""
        return self._address(self._signature.complete((), kwargs))

    def _address(self, completed: Mapping[str, Any]) -> CallAddress:
        # The identity is taken at each call: the globals it reads may have changed since.
        return CallAddress.of(self._current_identity(), hash_kwargs(completed))

    def _current_identity(self) -> bytes:
        if self._identity is not None:
            return self._identity
        return function_identity(self._func, version=self._version, strict=True)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        completed = self._signature.complete(args, kwargs)
        address = self._address(completed)
        value = self._lookup(address)
        while value is MISSING:
            # Claim the call and compute it here, so that another peer calling it meanwhile
            # waits for this result; if another peer holds the claim, wait for its result
            # (serving the swarm meanwhile), and compute it here if that claim lapses.
            peer = self.cloud.peer
            with peer.holding(address) as held:
                if held:
                    value = self._lookup(address)  # published before our claim?
                    if value is MISSING:
                        value = self._compute(completed, address)
                        self._publish(address, value)
                        return value
                    break
            with peer.lending():
                try:
                    value = peer.await_result(address, direct=True).result()
                except UnloadableResult:
                    value = _UNLOADABLE
        if value is _UNLOADABLE:
            # Stored by a peer of another Python, in a form this one cannot load: computed
            # here, and the record kept for the peers that load it.
            return self._compute(completed, address)
        return value

    def _lookup(self, address: CallAddress) -> Any:
        """The stored value, MISSING, or _UNLOADABLE where it is stored but cannot be loaded."""
        try:
            return self._results.lookup(address)
        except UnloadableResult:
            return _UNLOADABLE

    def _publish(self, address: CallAddress, value: Any) -> None:
        try:
            self._results.publish(address, value)
        except (TypeError, pickle.PicklingError, AttributeError) as e:
            raise PurityError(
                f"{self._func.__qualname__} returned a {type(value).__qualname__}, which cannot "
                f"be stored ({e}): return plain data (a list, not a generator; no locks, files "
                "or connections)") from e

    def _compute(self, completed: dict[str, Any], address: CallAddress) -> Any:
        """Run the function (an exception propagates; nothing is stored). Its first run here
        checks that it left what it reads as it found it."""
        value = compute_nested(self._func, completed)
        if not self._checked_reads:
            self._checked_reads = True
            if self._identity is None and self._current_identity() != bytes.fromhex(address.function):
                warnings.warn(
                    f"{self._func.__qualname__} changed a value it reads (a global list or dict it "
                    "appends to?): its identity includes what it reads, so none of its calls can "
                    "ever be a hit. Keep what it changes out of its globals (pass it in, or "
                    "return it)", PurityWarning, stacklevel=3)
        return value

    def async_parallel(self, calls: Iterable[Mapping[str, Any]], *,
                       retry: bool = False) -> list[Future[Any]]:
        """Submit every call to the swarm; a list of futures, in input order, at once.

        Each element of ``calls`` is the keyword arguments of one call (``kw_args(x=1)``).
        Every call is checked before anything is submitted. A call whose earlier run raised
        fails again with that exception unless ``retry`` is true.
        """
        completed = [self._signature.complete((), self._keywords(kw)) for kw in calls]
        addresses = [self._address(kw) for kw in completed]
        client = self.cloud.client
        order = list(range(len(completed)))
        random.shuffle(order)  # peers submitting the same calls start on different ones
        submitted = {i: client.submit([Call(addresses[i], self._func, self._func.__qualname__,
                                            (), completed[i])], retry=retry)[0] for i in order}
        return [submitted[i] for i in range(len(completed))]

    def _keywords(self, call: Any) -> dict[str, Any]:
        """One element of ``calls``: the keyword arguments of one call."""
        if not isinstance(call, Mapping):
            name = self._signature.name
            first = self._signature.names[0] if self._signature.names else "x"
            raise PurityError(
                f"{name}.sync_parallel() and async_parallel() take the keyword arguments of each "
                f"call, not {_short(call)}: pass kw_args({first}=...) per call, as in "
                f"{name}.sync_parallel(kw_args({first}=v) for v in values)")
        return dict(call)

    def sync_parallel(self, calls: Iterable[Mapping[str, Any]], *, timeout: float | None = None,
                      retry: bool = False, progress: bool | None = None) -> list[Any]:
        """Run every call in the swarm and return their values in input order.

        This process executes pending calls of the swarm while it waits. ``timeout`` bounds the
        whole wait (:class:`CallTimeout`, a ``TimeoutError``); the first failing call, in input
        order, raises.
        ``progress``: a progress bar of the calls (True), none (False), or one where someone
        watches, in a terminal or a notebook (None, the default).
        """
        calls = list(calls)
        futures = self.async_parallel(calls, retry=retry)
        deadline = None if timeout is None else time.monotonic() + timeout

        def remaining() -> float | None:
            return None if deadline is None else max(0.0, deadline - time.monotonic())

        with self.cloud.peer.lending():  # in a worker, its slot serves the calls it waits on
            if futures and wanted(progress):
                _watch(futures, CallBar(self._func.__qualname__, total=len(futures)), remaining())
            values: list[Any] = []
            for call, future in zip(calls, futures, strict=True):
                try:
                    future.exception(remaining())  # raises no exception of the call's
                except FuturesTimeout:
                    raise self._timed_out(futures, timeout) from None
                values.append(self._value(future, call))
            return values

    def _value(self, future: Future[Any], call: Mapping[str, Any]) -> Any:
        """The value of a settled future of ``call``; one stored by a peer of another Python in
        a form this one cannot load is computed here, and its record kept for its readers."""
        try:
            return future.result()
        except UnloadableResult:
            completed = self._signature.complete((), self._keywords(call))
            return self._compute(completed, self._address(completed))

    def _timed_out(self, futures: list[Future[Any]], timeout: float | None) -> CallTimeout:
        """The error of ``sync_parallel`` when ``futures`` have not all finished by ``timeout``."""
        location = self.cloud.store.location
        waiting = [f for f in futures if not f.done()]
        note = why_stalled(waiting[0]) if waiting else ""
        return CallTimeout(
            f"{self._func.__qualname__}.sync_parallel(): {len(waiting)} of "
            f"{len(futures)} calls had not finished within timeout={timeout:g} s{note}; they stay "
            f"pending in the swarm at {location}, which memoizes them as they finish: call "
            f"sync_parallel() again to collect them (with a longer timeout, or none), or add "
            f"peers (pythagoras worker {location})")

    def is_stored(self, **kwargs: Any) -> bool:
        """True if the result of ``f(**kwargs)`` is in the store; never executes the function."""
        return self._results.contains(self.address(**kwargs))

    def clear_failure(self, **kwargs: Any) -> bool:
        """Forget that ``f(**kwargs)`` raised in the swarm, so that it runs again when next
        submitted; True if there was a failure to forget."""
        return self.cloud.client.clear_failure(self.address(**kwargs))

    def __pythagoras_encode__(self, enc: Encoder) -> None:
        """Another function reading this one depends on what it computes, not on its cloud."""
        encode_function(enc, self._func, version=self._version, strict=True)

    def __pythagoras_portable__(self) -> tuple[Callable[..., Any], str, str | None, bytes]:
        """What a copy is made of: the function, the location (never its secret or storage
        options), the version and the identity (:func:`reopen`)."""
        return self._func, self.cloud.store.location, self._version, self._current_identity()

    def __reduce__(self) -> tuple[Any, ...]:
        """Travel as :meth:`__pythagoras_portable__` and whether the cloud is signed: a pure
        function that calls another (or itself) reaches the swarm by value, and the copy
        reaches the same store through the cloud open where it lands (``reopened``), with the
        secret that process has; a signed one refuses to reopen without one. The cloud names
        the function that makes the copy (:func:`pythagoras.tutorial.cloud.reopen`): this
        module knows nothing of clouds."""
        return self.cloud.reopen_function, (*self.__pythagoras_portable__(), self.cloud.signed)

    def __repr__(self) -> str:
        return f"<pure function {self._func.__qualname__} on {self.cloud.store.location}>"


#: Nested computations a thread runs before the next runs in a fresh thread: a deep recursion
#: of pure functions (``fib(n)`` calling ``fib(n - 1)``) is bounded by memory, not by the
#: interpreter's recursion limits, which count per thread (3.12 counts C calls, 1,500 at most).
_LEVELS_PER_THREAD: Final = 50
_depth = threading.local()


def compute_nested(func: Callable[..., Any], kwargs: dict[str, Any]) -> Any:
    """``func(**kwargs)``, in this thread, or in a new one every ``_LEVELS_PER_THREAD`` nested
    computations; an exception propagates with its traceback."""
    level = getattr(_depth, "level", 0)
    if level < _LEVELS_PER_THREAD:
        _depth.level = level + 1
        try:
            return func(**kwargs)
        finally:
            _depth.level = level
    outcome: list[Any] = []

    def run() -> None:
        try:
            outcome.append((True, func(**kwargs)))
        except BaseException as error:  # noqa: BLE001 -- raised again in the caller's thread
            outcome.append((False, error))

    context = contextvars.copy_context()
    thread = threading.Thread(target=context.run, args=(run,), name="pythagoras-deeper", daemon=True)
    thread.start()
    thread.join()
    ok, value = outcome[0]
    if not ok:
        raise value
    return value


def _watch(futures: list[Future[Any]], bar: CallBar, timeout: float | None) -> None:
    """Show the calls settling on ``bar``, in this thread, until all have or one failed (the
    caller then raises the first failure in input order) or ``timeout`` passes."""
    try:
        count = Counter(futures)  # equal calls may share a future: each counts once per call
        stored = [f for f in count if read_from_store(f)]
        if stored:
            bar.done(sum(count[f] for f in stored), hit=True)
        try:
            for future in as_completed([f for f in count if f not in stored], timeout):
                failed = not future.cancelled() and future.exception() is not None
                bar.done(count[future], failed=failed)
                if failed:
                    return
        except FuturesTimeout:
            return  # the caller's result() raises TimeoutError
    finally:
        bar.close()
