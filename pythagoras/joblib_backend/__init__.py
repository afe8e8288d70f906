"""The joblib backend ``"pythagoras"``, registered when :mod:`pythagoras` is imported."""

from .backend import NoWorkers, PythagorasBackend, shutdown_executors

__all__ = ["NoWorkers", "PythagorasBackend", "register", "shutdown_executors"]


def register() -> None:
    """Register the backend with joblib as ``"pythagoras"`` (done on ``import pythagoras``)."""
    from joblib import register_parallel_backend  # type: ignore[import-untyped]

    register_parallel_backend("pythagoras", PythagorasBackend)
