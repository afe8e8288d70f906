"""A Parallel call inside a task of the backend runs in the swarm, on the same location with the
same options, so its calls are memoized where top-level calls of them are; the secret and the
storage options never travel into the folder with the tasks.
"""

from __future__ import annotations

import json
import os
import pickle
from collections import Counter
from pathlib import Path
from typing import Any

import child_processes
import pytest
from joblib._parallel_backends import (
    FallbackToBackend,
    SequentialBackend,
    ThreadingBackend,
)

from pythagoras.joblib_backend import PythagorasBackend
from pythagoras.joblib_backend.backend import MAX_SWARM_NESTING, NestedConfig
from pythagoras.storage.signed import SecretMismatch

SCRIPT = Path(__file__).with_name("_nested_parallel.py")
DEADLINE = 120.0  # a few seconds when it works; only a deadlock reaches this
SECRET = "a-secret-that-must-not-reach-the-folder-5f1c"
STORAGE_OPTIONS = {"token": "a-credential-that-must-not-reach-the-folder-93be"}

pytestmark = pytest.mark.timeout(3 * DEADLINE)


# -- the nested backend, without processes ----------------------------------------------------

def test_nested_backends_are_the_swarm_then_threads_then_sequential(tmp_path: Path) -> None:
    backend = PythagorasBackend(location=str(tmp_path), max_workers=3, cache=False,
                                lease_timeout=7.0, storage_options=STORAGE_OPTIONS, secret=SECRET)
    chain: list[Any] = []
    current: Any = backend
    for _ in range(MAX_SWARM_NESTING + 2):
        current, n_jobs = current.get_nested_backend()
        assert n_jobs is None
        chain.append(current)
    swarm, threads, sequential = (chain[:MAX_SWARM_NESTING], chain[MAX_SWARM_NESTING],
                                  chain[MAX_SWARM_NESTING + 1])
    for level, nested in enumerate(swarm, start=1):
        assert isinstance(nested, PythagorasBackend) and nested.nesting_level == level
        options = nested.options
        assert (options.location, options.cache, options.lease_timeout) == (str(tmp_path), False, 7.0)
        assert (options.secret, options.storage_options) == (SECRET.encode(), STORAGE_OPTIONS)
        assert options.max_workers is None and options.engine is None and not nested.progress
    assert isinstance(threads, ThreadingBackend) and threads.nesting_level == MAX_SWARM_NESTING + 1
    assert isinstance(sequential, SequentialBackend)


def test_the_default_location_is_resolved_before_it_travels(tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTHAGORAS_LOCATION", str(tmp_path))
    nested, _ = PythagorasBackend().get_nested_backend()
    assert nested.location == str(tmp_path)


def test_a_parallel_call_too_deep_runs_sequentially(tmp_path: Path) -> None:
    deep = PythagorasBackend(location=str(tmp_path), nesting_level=MAX_SWARM_NESTING + 1)
    with pytest.warns(UserWarning, match="runs sequentially"), \
            pytest.raises(FallbackToBackend) as fallback:
        deep.configure(n_jobs=2)
    assert isinstance(fallback.value.backend, SequentialBackend)
    assert not list(tmp_path.iterdir())  # no executor was opened


def test_neither_the_secret_nor_the_storage_options_are_pickled(tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PYTHAGORAS_SECRET", raising=False)
    monkeypatch.delenv("PYTHAGORAS_SECRET_FILE", raising=False)
    backend = PythagorasBackend(location=str(tmp_path), cache=False, lease_timeout=7.0,
                                storage_options=STORAGE_OPTIONS, secret=SECRET)
    nested, n_jobs = backend.get_nested_backend()
    # What a request record carries: a call's first argument, the batch's nested config.
    data = pickle.dumps(NestedConfig(nested, n_jobs))
    for private in (SECRET, STORAGE_OPTIONS["token"]):
        assert private.encode() not in data
        assert private.encode() not in pickle.dumps(backend)
    # The copy is signed: it takes the secret where it lands, and refuses to open without one.
    with pytest.raises(SecretMismatch, match="PYTHAGORAS_SECRET"):
        pickle.loads(data)
    monkeypatch.setenv("PYTHAGORAS_SECRET", SECRET)
    copy = pickle.loads(data).backend
    assert (copy.location, copy.options.cache, copy.options.lease_timeout, copy.nesting_level) == (
        str(tmp_path), False, 7.0, 1)
    assert copy.options.secret == SECRET.encode() and copy.options.storage_options is None


# -- nested Parallel calls in a swarm -----------------------------------------------------------

def run_nested(tmp_path: Path, *, secret: str | None = None, env_secret: str | None = None,
               deadline: float = DEADLINE) -> dict[str, Any]:
    """``_nested_parallel.py`` on a fresh folder, with ``secret=`` or a secret in its
    environment, in a session of its own, killed past the deadline with all it started."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHAGORAS_SECRET")}
    env["PYTHAGORAS_TEST_EXECUTION_LOG"] = str(tmp_path / "executions.jsonl")
    if env_secret is not None:
        env["PYTHAGORAS_SECRET"] = env_secret
    command = [str(SCRIPT), str(tmp_path / "swarm"), *([secret] if secret else [])]
    done = child_processes.run(command, timeout=deadline, env=env)
    out, err = done.stdout, done.stderr
    assert done.returncode == 0, err[-4000:]
    result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    return result


def check_nested_run(run: dict[str, Any]) -> None:
    """The values are plain Python's; each task and each inner call ran once; a later top-level
    Parallel of the inner calls ran nothing (all hits); a chain of nested Parallel calls ran in
    the swarm ``MAX_SWARM_NESTING`` deep, then in threads, then sequentially."""
    assert run["nested"] == [[x * x for x in range(3 * i, 3 * i + 3)] for i in range(4)]
    assert run["flat"] == [x * x for x in range(12)]
    executed = Counter(tuple(call) for call in run["during_nested"])
    assert executed == Counter([("inner_squares", i) for i in range(4)]
                               + [("logged_square", x) for x in range(12)])
    assert run["during_flat"] == []
    assert run["levels"] == [["PythagorasBackend", level] for level in range(1, MAX_SWARM_NESTING + 1)] \
        + [["ThreadingBackend", MAX_SWARM_NESTING + 1], ["SequentialBackend", MAX_SWARM_NESTING + 2]]


def test_nested_parallel_calls_run_in_the_swarm_and_are_memoized(tmp_path: Path) -> None:
    check_nested_run(run_nested(tmp_path, secret=None))


def test_nested_parallel_calls_on_a_signed_swarm(tmp_path: Path) -> None:
    # The secret comes from the environment, as for a `pythagoras worker`: the workers have it
    # without any help. It is in the backend all the same, and must not be pickled with it.
    run = run_nested(tmp_path, env_secret=SECRET)
    check_nested_run(run)
    # The client wrote the batches, and their nested backends, as requests: none held the
    # secret, and no record left in the folder holds it.
    assert run["requests"] >= 2 and run["holding_secret"] == []
    assert not [path for path in (tmp_path / "swarm").rglob("*")
                if path.is_file() and SECRET.encode() in path.read_bytes()]


def test_nested_parallel_calls_with_a_secret_given_as_an_option(tmp_path: Path) -> None:
    # The secret is not pickled with the nested backend: a worker's nested executor signs
    # with its own peer's store, which the pool's initializer gave it.
    run = run_nested(tmp_path, secret=SECRET, deadline=60.0)
    check_nested_run(run)
    assert run["requests"] >= 2 and run["holding_secret"] == []
