"""``python benchmarks/run.py``: the suite of issue 9, as ``python -m benchmarks`` runs it."""

import sys
from pathlib import Path

if __name__ == "__main__":
    here = Path(__file__).resolve().parent
    # This folder is sys.path[0] when run as a script: its modules (memo, records, ...) must not
    # shadow installed ones; the repository's root goes there instead, for ``benchmarks``.
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != here]
    sys.path.insert(0, str(here.parent))
    from benchmarks.suite import main

    raise SystemExit(main())
