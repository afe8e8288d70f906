"""pythagoras: a shared folder becomes a peer-to-peer compute swarm.

``from pythagoras import *`` gives the tutorial's names.
"""

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
from .joblib_backend import register as _register_joblib_backend
from .memory import Memory
from .storage.hookspecs import hookimpl
from .storage.location import default_location
from .storage.plugins import open_store
from .tutorial.cloud import SharedStorage_P2P_Cloud
from .tutorial.pure_function import PureFunction, kw_args

__version__ = "0.1.0"

_register_joblib_backend()

__all__ = [
    "ArgumentTooLarge",
    "CallTimeout",
    "CorruptRecord",
    "IdentityError",
    "Memory",
    "PureFunction",
    "PythagorasExecutor",
    "PeersDied",
    "PurityError",
    "PurityWarning",
    "PythagorasError",
    "SharedStorage_P2P_Cloud",
    "StoreError",
    "UnhashableArgument",
    "default_location",
    "hookimpl",
    "kw_args",
    "open_store",
]
