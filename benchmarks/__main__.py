"""``python -m benchmarks``: the suite of issue 9 (see ``benchmarks/suite.py``)."""

from .suite import main

raise SystemExit(main())
