"""Layer 1: byte stores, chosen by location through the ``pythagoras_open_store`` hook."""

from .base import Store, check_key, is_debris
from .local import LocalFolderStore
from .memory import MemoryStore

__all__ = ["LocalFolderStore", "MemoryStore", "Store", "check_key", "is_debris"]
