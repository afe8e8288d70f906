"""Golden addresses: the addresses of a dozen representative calls, pinned.

Every result a swarm ever stored is found by its address; a change that moves them orphans every
folder's results, silently. Should one of these fail, the change is a change of the identity's
format: make it deliberately, pin the new values, and write the migration note in
``docs/identity.md`` ("Changes of identity"). The addresses are the same on every Python from
3.10 on (CI runs this test on the oldest and the newest), and for a copy of a function sent by
value to a process that has no file to read its source from.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import _golden_functions as g
import child_processes
import cloudpickle
import numpy as np
import pytest

from pythagoras.identity.address import CallAddress
from pythagoras.identity.calls import arguments_hash
from pythagoras.identity.functions import function_identity

CALLS: dict[str, tuple[Any, tuple[Any, ...], dict[str, Any]]] = {
    "int": (g.scaled, (3,), {}),
    "float": (g.scaled, (3.0,), {}),
    "bool": (g.scaled, (True,), {}),
    "keyword default filled": (g.scaled, (3,), {"factor": 2}),
    "string": (g.describe, ("pythagoras",), {"width": 12}),
    "unicode string": (g.describe, ("Πυθαγόρας",), {}),
    "list and dict": (g.uses_helper, ([3, 1, 2, {"a": (1, 2.5)}],), {}),
    "numpy int64 array": (g.scaled, (np.arange(12, dtype=np.int64).reshape(3, 4),), {}),
    "numpy float32 array": (g.scaled, (np.linspace(0, 1, 7, dtype=np.float32),), {}),
    "bound method": (g.Model().fit, ([1, 2, 3],), {}),
    "builtin": (divmod, (7, 2), {}),
    "None and bytes": (g.uses_helper, ((None, b"xyz"),), {}),
}

GOLDEN = {
    "int": ("f7492ec33eb876eaafa14e58a4a87595", "bc38a23d37432545500b9c8e38844e8a"),
    "float": ("f7492ec33eb876eaafa14e58a4a87595", "b405b8256d1f4cf1085c027e6ce3ee69"),
    "bool": ("f7492ec33eb876eaafa14e58a4a87595", "5511534f182aaa08f13b448d7a4ca6f5"),
    "keyword default filled": ("f7492ec33eb876eaafa14e58a4a87595", "bc38a23d37432545500b9c8e38844e8a"),
    "string": ("bad9c6ffc6790e609c06f50b652f7e63", "317dfaaad1703df0c8f4ac1db44fa108"),
    "unicode string": ("bad9c6ffc6790e609c06f50b652f7e63", "d41e0402d69a10d9cbcb9c98a02d54e6"),
    "list and dict": ("47d22c25bc83d500c48855c3be7e3745", "9f23c68ed7f29b5eaceabfd0abc2b779"),
    "numpy int64 array": ("f7492ec33eb876eaafa14e58a4a87595", "b433bd1fc98b5576b53acf4938fda359"),
    "numpy float32 array": ("f7492ec33eb876eaafa14e58a4a87595", "852df6f71f3d31894b9fc5f5c8d3b3bc"),
    "bound method": ("37950b19fbad1aba1774d0c712067454", "ce0a29961279cfa8e91e74fcfbbf0e9c"),
    "builtin": ("ca9d660a068fc9dd088c74e6df6b823c", "4d0cd0fc6e9c77610086c008965b2d59"),
    "None and bytes": ("47d22c25bc83d500c48855c3be7e3745", "e9a861a498fd35501f8c8c373dface48"),
}


def address(func: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[str, str]:
    found = CallAddress.of(function_identity(func, strict=False), arguments_hash(func, args, kwargs))
    return found.function, found.arguments


@pytest.mark.parametrize("name", list(CALLS))
def test_the_address_of_a_representative_call_is_pinned(name: str) -> None:
    assert address(*CALLS[name]) == GOLDEN[name], (
        f"the address of {name!r} moved: every stored result would be orphaned. If this is a "
        "deliberate change of identity, pin the new values and write its migration note")


COPY_IN_ANOTHER_PROCESS = """
import pickle, sys
sys.path.insert(0, sys.argv[2])
from pythagoras.identity.functions import function_identity
funcs = pickle.loads(open(sys.argv[1], "rb").read())  # plain pickle reads cloudpickle's
print(" ".join(function_identity(f, strict=True).hex() for f in funcs))
"""


def test_a_copy_sent_by_value_has_the_same_identity_where_its_source_is_not(tmp_path: Path) -> None:
    # The copies are cloudpickled by value (as a script's functions are) and loaded in a process
    # that cannot import _golden_functions nor read its file: they carry their own source.
    funcs = [g.scaled, g.describe, g.uses_helper]
    for func in funcs:
        function_identity(func)  # as the submitter does before it sends a call
    cloudpickle.register_pickle_by_value(g)
    try:
        (tmp_path / "funcs.pickle").write_bytes(cloudpickle.dumps(funcs))
    finally:
        cloudpickle.unregister_pickle_by_value(g)
    repo = str(Path(__file__).resolve().parents[2])
    done = child_processes.run(["-c", COPY_IN_ANOTHER_PROCESS, str(tmp_path / "funcs.pickle"), repo],
                               env=dict(os.environ), timeout=60, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == [GOLDEN["int"][0], GOLDEN["string"][0], GOLDEN["list and dict"][0]]
