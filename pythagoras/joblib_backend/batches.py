"""What the joblib backend makes of one batch: its calls as the swarm runs them, and one future
of the batch's values gathered from its calls' futures."""

from __future__ import annotations

import logging
import threading
import weakref
from collections.abc import Callable
from concurrent.futures import CancelledError, Future
from typing import Any

from ..identity.address import CallAddress
from ..storage.unique import unique_hex
from ..swarm.protocol import Call

__all__ = ["gather", "unidentified_call"]

log = logging.getLogger("pythagoras")

_warned: set[str] = set()
_unidentified: weakref.WeakKeyDictionary[Any, str] = weakref.WeakKeyDictionary()


def gather(futures: list[Future[Any]], done: Future[Any], batch: bool,
           forget: Callable[[list[Future[Any]]], None]) -> None:
    """Settle ``done`` once every future is: with their values in order (the value alone for a
    plain callable), or with the first exception in order, as joblib's batches raise."""
    remaining = [len(futures)]
    lock = threading.Lock()

    def one_done(_: Future[Any]) -> None:
        with lock:
            remaining[0] -= 1
            if remaining[0]:
                return
        forget(futures)
        try:
            values = [f.result() for f in futures]
        except CancelledError as error:
            if not done.cancel():
                done.set_exception(error)
            return
        except BaseException as error:  # noqa: BLE001 -- the task's own exception, for joblib
            done.set_exception(error)
            return
        done.set_result(values if batch else values[0])

    for future in futures:
        future.add_done_callback(one_done)


def unidentified_call(func: Any, args: tuple[Any, ...], kwargs: dict[str, Any],
                      error: Exception) -> Call:
    """The call of a function whose identity cannot be taken (``error`` says why): it runs once,
    unmemoized, under a random function id that is the same for every call of this function
    object, so that the function is stored once, not once per call. Logged once per name."""
    name = str(getattr(func, "__qualname__", type(func).__qualname__))
    if name not in _warned:
        _warned.add(name)
        log.warning("pythagoras: calls of %s run in the swarm but are not memoized: %s", name, error)
    try:
        function_id = _unidentified.setdefault(func, unique_hex())
    except TypeError:  # not weakly referenceable: an id per call
        function_id = unique_hex()
    return Call(CallAddress(function_id, unique_hex()), func, name, args, kwargs, unique=True)
