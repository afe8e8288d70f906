"""The buffer a read of a local file fills: a large record's without zeroing it first.

``bytearray(n)`` writes n zeros before the read writes every byte again: for a 1 MiB record,
about a quarter of the time the read takes. A buffer of ``numpy.empty`` is not zeroed, and is
writable, so an array loaded from it is a writable view of it, as of a bytearray. numpy is used
only where it is loaded already (a record holding arrays needs it loaded to load them): a process
that never imports numpy reads into bytearrays, and importing pythagoras does not import numpy.
"""

from __future__ import annotations

import sys
from typing import Final

__all__ = ["UNZEROED", "read_buffer"]

#: From this size a read buffer is not zeroed first (below it, zeroing costs next to nothing).
UNZEROED: Final = 64 * 1024


def read_buffer(size: int) -> bytearray | memoryview:
    """A writable buffer of ``size`` bytes for a read to fill; its bytes are not all zero."""
    numpy = sys.modules.get("numpy")
    if numpy is None or size < UNZEROED:
        return bytearray(size)
    return memoryview(numpy.empty(size, numpy.uint8))
