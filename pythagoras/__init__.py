"""pythagoras: a shared folder becomes a peer-to-peer compute swarm.

``from pythagoras import *`` gives the tutorial's names.

Importing the package is cheap: its names are imported from their modules on first use
(PEP 562), so a store plugin or ``pythagoras status`` does not pay for the swarm, the executor
or the tutorial. It does two things at once, both without importing the layers they name:
registers the joblib backend ``"pythagoras"`` (see :mod:`pythagoras.joblib_backend`), and gives
:mod:`pythagoras.records.portable` the way to make a pure function found in a function rebuilt
from source (the tutorial's ``reopen``), for a peer that loads such a function before anything
has imported the tutorial.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .joblib_backend import register as _register_joblib_backend
from .records import portable as _portable

if TYPE_CHECKING:
    from .errors import (
        ArgumentTooLarge,
        CallTimeout,
        CorruptRecord,
        IdentityError,
        PeersDied,
        PurityError,
        PurityWarning,
        PythagorasError,
        StoreError,
        UnhashableArgument,
    )
    from .executor import PythagorasExecutor
    from .memory import Memory
    from .storage.hookspecs import hookimpl
    from .storage.location import default_location
    from .storage.plugins import open_store
    from .tutorial.cloud import SharedStorage_P2P_Cloud
    from .tutorial.pure_function import PureFunction, kw_args

__version__ = "0.1.0"

__all__ = [
    "ArgumentTooLarge",
    "CallTimeout",
    "CorruptRecord",
    "IdentityError",
    "Memory",
    "PeersDied",
    "PureFunction",
    "PurityError",
    "PurityWarning",
    "PythagorasError",
    "PythagorasExecutor",
    "SharedStorage_P2P_Cloud",
    "StoreError",
    "UnhashableArgument",
    "default_location",
    "hookimpl",
    "kw_args",
    "open_store",
]

#: The module that defines each name of ``__all__``.
_DEFINED_IN = {
    **dict.fromkeys(["ArgumentTooLarge", "CallTimeout", "CorruptRecord", "IdentityError",
                     "PeersDied", "PurityError", "PurityWarning", "PythagorasError",
                     "StoreError", "UnhashableArgument"], ".errors"),
    "PythagorasExecutor": ".executor",
    "Memory": ".memory",
    "hookimpl": ".storage.hookspecs",
    "default_location": ".storage.location",
    "open_store": ".storage.plugins",
    "SharedStorage_P2P_Cloud": ".tutorial.cloud",
    "PureFunction": ".tutorial.pure_function",
    "kw_args": ".tutorial.pure_function",
}

#: The subpackages, as attributes of the package (``pythagoras.swarm``) before their import.
_SUBPACKAGES = frozenset({"cli", "errors", "executor", "identity", "joblib_backend", "memory",
                          "records", "storage", "swarm", "tutorial"})


def __getattr__(name: str) -> Any:
    """A public name or a subpackage, imported on first use and kept."""
    if name in _DEFINED_IN:
        value = getattr(importlib.import_module(_DEFINED_IN[name], __name__), name)
    elif name in _SUBPACKAGES:
        value = importlib.import_module(f".{name}", __name__)
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__, *_SUBPACKAGES})


def _reopen_pure_function(func: Any, location: str, version: str | None,
                          identity: bytes) -> Any:
    """The tutorial's ``reopen``, imported when a rebuilt function first holds a pure one
    (importing the tutorial hands portable its ``reopen`` directly from then on)."""
    from .tutorial.cloud import reopen

    return reopen(func, location, version, identity)


_register_joblib_backend()
_portable.reopen_pure_functions_with(_reopen_pure_function)
