"""The swarm as a ``concurrent.futures.Executor``."""

from .executor import PythagorasExecutor

__all__ = ["PythagorasExecutor"]
