"""The command line: ``pythagoras worker``, ``status``, ``clear`` and ``demo`` (``docs/cli.md``).

``main`` is here, where the ``pythagoras`` console script of every install finds it
(``pythagoras.cli:main``, the entry point since the first release).
"""

from .commands import main

__all__ = ["main"]
