"""The joblib backend ``"pythagoras"``, registered when :mod:`pythagoras` is imported.

Registering costs joblib's import and nothing of pythagoras: joblib is given a factory that
imports the backend (the executor, the swarm) when a ``Parallel`` first asks for it, and that
then registers the class itself in its place. Once the backend module is loaded, by that first
use or by an import of :class:`PythagorasBackend`, joblib holds the class, as it holds its own.

joblib keeps its backends in a dict of ``joblib.parallel``, so registering needs joblib
imported: short of an import hook there is no way to reach that dict later, when the user
imports joblib after pythagoras, and ``parallel_config(backend="pythagoras")`` must work then.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .backend import NoWorkers, PythagorasBackend, shutdown_executors

__all__ = ["NoWorkers", "PythagorasBackend", "register", "shutdown_executors"]

_BACKEND = f"{__name__}.backend"


def register() -> None:
    """Register the backend with joblib as ``"pythagoras"`` (done on ``import pythagoras``)."""
    from joblib import register_parallel_backend  # type: ignore[import-untyped]

    loaded = sys.modules.get(_BACKEND)
    factory = loaded.PythagorasBackend if loaded is not None else _first_use
    register_parallel_backend("pythagoras", factory)


def _first_use(**params: Any) -> Any:
    """The backend joblib asked for; its class replaces this factory in joblib's registry."""
    from .backend import PythagorasBackend

    register()
    return PythagorasBackend(**params)


def __getattr__(name: str) -> Any:
    """The backend's public names, from its module, imported on first use."""
    if name not in ("NoWorkers", "PythagorasBackend", "shutdown_executors"):
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from . import backend

    value = getattr(backend, name)
    register()  # joblib now holds the class itself
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
