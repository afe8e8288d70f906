"""Layer 1: byte stores, chosen by location through the ``pythagoras_open_store`` hook."""

from .base import Store, check_key, is_debris
from .fsspec_store import FsspecStore
from .local import LocalFolderStore
from .memory import MemoryStore

__all__ = ["FsspecStore", "LocalFolderStore", "MemoryStore", "Store", "check_key", "is_debris"]
