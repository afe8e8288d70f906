"""Function records (``functions/<fid>``): a function by value, for every peer of any Python.

A record is ``(FORMAT, python, name, payload, source)``, pickled with ``pickle`` alone, so that
any interpreter reads it (``pythagoras status`` takes the function's name from it, loading
nothing): ``python`` is the minor version whose bytecode ``payload`` holds (the function and
the origins of its code, by cloudpickle); ``source`` is the function as source
(:mod:`pythagoras.records.portable`), or None where it cannot travel as source. A peer of the same
version loads the bytecode; a peer of another rebuilds the function from its source, or, where
there is none, raises :class:`~pythagoras.errors.ForeignCode`: it leaves the call to peers of
that version, and never runs another version's bytecode.

Records written before the format had a version are the function, or ``(function, origins)``.
"""

from __future__ import annotations

from typing import Any, Final

from ..errors import ForeignCode
from .frames import dump_value, load_value
from .portable import PYTHON, rebuild, source_form
from .tracebacks import Origins, origins

__all__ = ["FORMAT", "function_name", "function_portable", "function_python", "function_record",
           "load_function_record"]

FORMAT: Final = "pythagoras.function/2"


def function_record(func: Any) -> bytes:
    """The payload of ``func``'s record."""
    payload = dump_value((func, origins(func)))
    name = str(getattr(func, "__qualname__", None) or type(func).__qualname__)
    return dump_value((FORMAT, PYTHON, name, payload, source_form(func)), plain=True)


def load_function_record(record: Any) -> tuple[Any, Origins | None]:
    """The function of a record (as loaded by ``read_record``) and the origins of its code."""
    if isinstance(record, tuple) and len(record) == 5 and record[0] == FORMAT:
        _, python, _, payload, source = record
        if python == PYTHON:
            record = load_value(payload)
        elif source is not None:
            return rebuild(source), None
        else:
            raise ForeignCode(
                f"the function was sent by Python {python} as bytecode only (a lambda, a "
                f"closure, or code without source), which Python {PYTHON} cannot run: a peer of "
                f"Python {python} runs it", python)
    if isinstance(record, tuple) and len(record) == 2 and isinstance(record[1], Origins):
        return record[0], record[1]
    return record, None


def function_name(record: Any) -> str | None:
    """The qualified name a record of this format gives, without loading its function."""
    if isinstance(record, tuple) and len(record) == 5 and record[0] == FORMAT:
        return str(record[2])
    return None


def function_python(record: Any) -> str | None:
    """The Python version whose bytecode a record of this format holds."""
    if isinstance(record, tuple) and len(record) == 5 and record[0] == FORMAT:
        return str(record[1])
    return None


def function_portable(record: Any) -> bool:
    """True if a record of this format holds its function as source too."""
    return isinstance(record, tuple) and len(record) == 5 and record[0] == FORMAT and record[4] is not None
