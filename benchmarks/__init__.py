"""Benchmarks for pythagoras, one module per figure; ``python -m benchmarks --list`` names them."""
