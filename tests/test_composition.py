"""Pure functions that call pure functions (``_composition_script.py``, a script whose functions
travel by value): directly, through sync_parallel and async_parallel from inside a worker, a tree
of nested calls, recursion; on one peer, on two, and from a client served by ``pythagoras
worker`` peers. Every value is checked against plain Python and executions are counted."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import child_processes
import execution_log
import pytest

SCRIPT = str(child_processes.HERE / "_composition_script.py")
DEADLINE = 240.0  # for one script: only a deadlock reaches it

pytestmark = pytest.mark.timeout(3 * DEADLINE)


@pytest.fixture
def location(tmp_path: Path, executions: Any) -> Path:
    return tmp_path / "swarm"


@contextmanager
def worker_peers(location: Path, count: int, tmp_path: Path) -> Iterator[None]:
    """``count`` ``pythagoras worker`` peers of one worker each, serving ``location``."""
    with ExitStack() as stack:
        for i in range(count):
            stack.enter_context(child_processes.started(
                ["-m", "pythagoras", "worker", str(location), "--max-workers", "1"],
                log=tmp_path / f"worker-{i}.log"))
        yield


def run(location: Path, scenario: str, max_workers: int, **env: str) -> dict[str, Any]:
    done = child_processes.run([SCRIPT, str(location), scenario, str(max_workers)],
                               timeout=DEADLINE, env=child_processes.environment(**env))
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout.splitlines()[-1])
    return result


def run_in(setup: str, location: Path, tmp_path: Path, scenario: str) -> dict[str, Any]:
    """The scenario run by the script's own peer, beside the set-up's worker peers."""
    own, helpers = SETUPS[setup]
    with worker_peers(location, helpers, tmp_path):
        return run(location, scenario, own)


def executed() -> Counter[str]:
    return Counter(json.dumps(call) for call in execution_log.calls())


# The set-ups: the script's own peer with one worker; that and a worker peer; a client that
# runs nothing (max_workers=0) served by two worker peers.
SETUPS = {"one peer": (1, 0), "two peers": (1, 1), "served by workers": (0, 2)}


@pytest.mark.parametrize("setup", SETUPS)
def test_a_pure_function_calls_another_directly_and_in_parallel(
        location: Path, tmp_path: Path, setup: str) -> None:
    result = run_in(setup, location, tmp_path, "compose")
    assert result["got"] == result["want"]
    assert result["inner_stored"] and result["top_level_hits"]
    counts = executed()
    assert all(n == 1 for n in counts.values()), counts  # each call ran once, wherever it ran
    assert {json.loads(k)[1] for k in counts if json.loads(k)[0] == "square"} == set(range(8))


@pytest.mark.parametrize("setup", SETUPS)
def test_a_tree_of_nested_calls_finishes_with_one_worker(
        location: Path, tmp_path: Path, setup: str) -> None:
    # Each node waits on its two children's sync_parallel: with one worker in the whole swarm
    # (one peer), only a worker that lends its slot while it waits can finish it.
    result = run_in(setup, location, tmp_path, "tree")
    assert result["got"] == result["want"]
    counts = executed()
    assert len(counts) == 15 and set(counts.values()) == {1}, counts


@pytest.mark.parametrize("setup", SETUPS)
def test_an_executor_and_memory_inside_an_executor_task(location: Path, tmp_path: Path,
                                                        setup: str) -> None:
    result = run_in(setup, location, tmp_path, "front_ends")
    assert result["got"] == result["want"]
    assert result["top_level_hits"]  # inner calls memoized at their top-level addresses
    counts = executed()
    assert all(n == 1 for n in counts.values()), counts


@pytest.mark.parametrize("setup", ["one peer", "served by workers"])
def test_a_recursive_pure_function_goes_deeper_than_the_recursion_limit(
        location: Path, tmp_path: Path, setup: str) -> None:
    result = run_in(setup, location, tmp_path, "fib")
    assert result["got"] == result["want"]
    assert result["stored_below"]  # every level memoized at a top-level call's address


def test_failures_inside_the_worker_are_the_calls_own(location: Path) -> None:
    result = run(location, "failures", 1)
    lock, raised = result["lock"], result["raises"]
    assert lock["type"] == "builtins.TypeError" and "pickle" in lock["message"]
    assert "returns_a_lock returned a lock, which cannot be pickled" in lock["traceback"]
    assert raised["type"] == "builtins.ZeroDivisionError"
    # The traceback names the script and shows the line, as ProcessPoolExecutor's would.
    assert f'File "{SCRIPT}"' in raised["traceback"] and "return 1 // (x - x)" in raised["traceback"]
    assert "<dynamic-code>" not in raised["traceback"]
    counts = executed()
    assert counts == Counter({'["returns_a_lock", 1]': 1, '["raises", 2]': 1})  # never retried


def test_a_call_that_kills_its_worker_is_charged_alone(location: Path) -> None:
    # Three workers: two innocent calls wait beside the killer, and loky kills them with the pool.
    result = run(location, "crash", 3)
    assert result["innocent"] == [0, -1]  # run again, uncharged: never PeersDied
    assert all(executed()[f'["innocent", {x}]'] >= 2 for x in (0, 1)), executed()  # killed once
    killer = result["killer"]
    assert killer["type"] == "pythagoras.errors.PeersDied"
    assert "died 3 times while running it" in killer["message"] and "EXIT(3)" in killer["message"]
    assert executed()['["kills_its_worker", 1]'] == 3  # three real runs, each killed


def test_recursion_through_sync_parallel_on_one_worker(location: Path) -> None:
    # 300 levels, each a call waiting in a worker on the next: each wait lends one slot, once
    # (sync_parallel waits on futures that lend too), and the worker has threads for them all.
    result = run(location, "deep", 1)
    assert result["got"] == result["want"] == 300


def test_a_worker_keeps_its_peers_lease_for_the_calls_it_runs_lent(location: Path) -> None:
    # A lease of 1 s and leaves of 2 s run lent in the worker: renewed at the peer's pace, their
    # claims never look stale to the peer that waits, which would run them a second time.
    result = run(location, "short_lease", 1, LEASE="1", LEAF_SECONDS="2")
    assert result["got"] == result["want"]
    counts = executed()
    assert counts == Counter({f'["slow_leaf", {i}]': 1 for i in range(3)}), counts


def test_a_nested_call_that_kills_its_worker_is_charged_not_its_caller(location: Path) -> None:
    result = run(location, "nested_failures", 1)
    killer = result["killer"]
    # The caller fails with its inner call's PeersDied: the worker died running that one.
    assert killer["type"] == "pythagoras.errors.PeersDied"
    assert "kills_its_worker died 3 times" in killer["message"], killer
    assert "calls_a_killer" not in killer["message"]
    assert executed()['["kills_its_worker", 5]'] == 3
    generator = result["generator"]
    assert generator["type"] == "pythagoras.errors.PurityError"
    assert "returns_a_generator returned a generator, which cannot be stored" in generator["message"]
