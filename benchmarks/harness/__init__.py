"""The benchmarks' harness: timing, reports, child processes and the peers, used by every figure."""

from .report import Result, Row

__all__ = ["Result", "Row"]
