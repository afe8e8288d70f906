"""Layer 2: the identity of functions and the addresses of calls."""

from .address import CallAddress
from .functions import function_identity
from .values import hash_kwargs, hash_value

__all__ = ["CallAddress", "function_identity", "hash_kwargs", "hash_value"]
