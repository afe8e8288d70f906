"""The functions of a swarm's calls: published once per process, loaded once per process.

A function travels by value (cloudpickle) in ``functions/<fid>``
(:func:`pythagoras.records.keys.function_key`), with the origins of its code, so that a traceback
on another peer names its files and lines.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

from ..records.frames import MISSING, frame, read_record
from ..records.functions import function_portable, function_python, load_function_record
from ..records.keys import function_key
from ..records.tracebacks import Origins, origins
from ..storage.base import Store
from .protocol import FUNCTION, Call

__all__ = ["FunctionTable"]


class FunctionTable:
    """The functions this process published or loaded, by identity, and their code's origins."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.published: set[str] = set()
        self._functions: dict[str, Any] = {}
        self._origins: dict[str, Origins] = {}  # by function id

    def _record(self, function_id: str) -> Any:
        value = read_record(self.store, function_key(function_id), FUNCTION)
        return None if value is MISSING else value

    def publish(self, function_id: str, func: Any, payload: bytes) -> None:
        """Store the function's record (``payload``: :func:`~pythagoras.records.functions.function_record`),
        once per function and process."""
        key = function_key(function_id)
        record = frame(FUNCTION, payload)
        # Kept if it is there and intact; a truncated or garbled one (a sync service, a crash)
        # is replaced, or no peer could ever run the function's calls.
        if not self.store.create(key, record) and \
                read_record(self.store, key, FUNCTION, load=False) is MISSING:
            self.store.write(key, record)
        self.published.add(function_id)
        self._functions.setdefault(function_id, func)

    def load(self, function_id: str) -> Any:
        """The function of a request; raises if it cannot be loaded here (a missing module)."""
        func = self._functions.get(function_id)
        if func is None:
            record = self._record(function_id)
            if record is None:
                raise LookupError(f"function {function_id} is not in the store")
            func, found = load_function_record(record)
            if found is not None:
                self._origins[function_id] = found
            self._functions[function_id] = func
        return func

    def python_of(self, function_id: str) -> str | None:
        """The Python version that sent the function (None: unknown, or a record of before)."""
        return function_python(self._record(function_id))

    def origins(self, calls: Sequence[Call]) -> Origins | None:
        """Where the code of the calls' functions came from, for their tracebacks: from the
        function itself where this process has its source, else from its function record."""
        tables = []
        for function_id, func in {call.address.function: call.func for call in calls}.items():
            table = self._origins.get(function_id)
            if table is None:
                table = self._origins[function_id] = origins(func)
            tables.append(table)
        return tables[0].merge(*tables[1:]) if tables else None

    def unrunnable(self, function_id: str, live: Iterable[dict[str, Any]]) -> str | None:
        """Why none of the ``live`` peers' records can run calls of the function now, or None
        if one can: none serves, or the function is another Python's bytecode and no peer of
        that Python serves."""
        serving = [info for info in live
                   if int(info.get("workers") or 0) > 0 and info.get("serving", True)]
        if not serving:
            return ("no peer serves the swarm (every live peer has max_workers=0, or no peer is "
                    "up)")
        record = self._record(function_id)
        python = function_python(record)
        if python is None or function_portable(record) or any(
                info.get("python") == python for info in serving):
            return None
        up = Counter(str(info.get("python") or "?") for info in serving)
        return (f"its function was sent by Python {python} as bytecode only (a lambda, a closure, "
                f"or code without source), which only a peer of Python {python} runs, and none "
                "is up (serving: " + ", ".join(f"{n} peer{'s' * (n > 1)} of Python {v}"
                                               for v, n in sorted(up.items())) + ")")
