"""The command line: ``pythagoras worker``, ``status``, ``clear`` and ``demo`` (``docs/cli.md``)."""
