"""Benchmarks for pythagoras; run one with ``python -m benchmarks.<name>``."""
