"""``python -m benchmarks``: see ``benchmarks/harness/runner.py``."""

from .harness.runner import main

raise SystemExit(main())
