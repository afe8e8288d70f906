"""``Memory``: joblib's memoization API, with its records in a pythagoras swarm (``docs/memory.md``)."""

from .cached import (
    AsyncMemorizedFunc,
    AsyncNotMemorizedFunc,
    CacheWarning,
    MemorizedFunc,
    NotMemorizedFunc,
)
from .memory import Memory, UnknownBackend, expires_after
from .shelved import MemorizedResult, NotMemorizedResult

__all__ = [
    "AsyncMemorizedFunc",
    "AsyncNotMemorizedFunc",
    "CacheWarning",
    "MemorizedFunc",
    "MemorizedResult",
    "Memory",
    "NotMemorizedFunc",
    "NotMemorizedResult",
    "UnknownBackend",
    "expires_after",
]
