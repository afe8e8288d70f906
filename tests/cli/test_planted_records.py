"""``pythagoras status`` and ``clear`` run no code from the folder (issue 21).

Anyone who can write a swarm's location can write a peer, claim, request, failure or function
record whose pickle runs a command when it is loaded (``os.system``'s reduce). These tests
plant such records, framed as pythagoras frames them, in a real folder beside a real swarm's
records, run the real commands (``python -m pythagoras status|clear`` in a process of their
own, with a deadline), and check that no planted command ran (its marker file is never
created), that each planted record is reported as unreadable and left where it is, and that
the swarm's own records are still reported.
"""

from __future__ import annotations

import json
import os
import pickle
import shutil
import subprocess
from pathlib import Path
from typing import Any

import child_processes
import pytest

from pythagoras import PythagorasExecutor
from pythagoras.records.frames import PYTHON, dump_value, frame, load_code_of
from pythagoras.records.keys import BATCH_FUNCTION
from pythagoras.swarm.protocol import _HOST, CLAIM, FAILURE, FUNCTION, PEER, REQUEST

pytestmark = pytest.mark.timeout(300)

DEADLINE = 120  # seconds for one command: only a hung one reaches it
FUNCTION_ID = "ab" * 16
ARGUMENTS = "cd" * 16


def double(x: int) -> int:
    return 2 * x


class Command:
    """Pickles as ``os.system(command)``: loading it runs the command."""

    def __init__(self, command: str) -> None:
        self.command = command

    def __reduce__(self) -> tuple[Any, tuple[str]]:
        return os.system, (self.command,)


class CodeOf:
    """Pickles as a value of code (``load_code_of``) whose stream runs ``inner`` when loaded."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def __reduce__(self) -> tuple[Any, tuple[str, bytes]]:
        return load_code_of, (PYTHON, pickle.dumps(self.inner, protocol=5))


def plant(folder: Path, key: str, kind: bytes, value: Any) -> None:
    """Write ``value`` at ``key`` as a record of ``kind``, as a writer of the folder can."""
    path = folder / key
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(frame(kind, dump_value(value, plain=True)))


def plant_all(folder: Path, markers: Path) -> dict[str, Path]:
    """A record of every kind status and clear read, each running ``touch <marker>``; the
    markers by key."""
    def touching(name: str) -> Command:
        return Command(f"touch {markers / name}")

    batch = f"requests/0/{BATCH_FUNCTION}.{ARGUMENTS}"
    planted = {  # key: kind, what it holds, the marker it makes
        "peers/evil-1-abcdef": (PEER, touching("peer"), "peer"),
        f"claims/{FUNCTION_ID}.{ARGUMENTS}": (CLAIM, touching("claim"), "claim"),
        f"failures/{FUNCTION_ID}/{ARGUMENTS[:2]}/{ARGUMENTS}": (FAILURE, touching("failure"),
                                                                "failure"),
        f"functions/{FUNCTION_ID}": (FUNCTION, touching("function"), "function"),
        batch: (REQUEST, touching("request"), "request"),
        f"failures/{FUNCTION_ID}/ef/{'ef' * 16}": (FAILURE, CodeOf(touching("code-of")),
                                                   "code-of"),
    }
    for key, (kind, value, _) in planted.items():
        plant(folder, key, kind, value)
    # A request of the planted function (status reads its function record), and an old break
    # marker of the planted claim (clear reads the claim to tell whether it is spent).
    plant(folder, f"requests/1/{FUNCTION_ID}.{'1' * 32}", REQUEST, touching("plain-request"))
    marker = folder / f"breaks/{FUNCTION_ID}.{ARGUMENTS}.0123456789ab"
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.write_bytes(b"")
    os.utime(marker, (1, 1))
    return {key: markers / name for key, (_, _, name) in planted.items()}


@pytest.fixture(scope="module")
def swarm(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real swarm's folder: results of ``double``."""
    folder = tmp_path_factory.mktemp("planted") / "swarm"
    with PythagorasExecutor(folder, max_workers=1) as executor:
        assert list(executor.map(double, range(3), timeout=DEADLINE)) == [0, 2, 4]
    return folder


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if k != "PYTHAGORAS_LOCATION"}
    return child_processes.run(["-m", "pythagoras", *args], cwd=cwd, env=environment,
                               timeout=DEADLINE)


@pytest.fixture
def planted(swarm: Path, tmp_path: Path) -> tuple[Path, dict[str, Path]]:
    folder = tmp_path / "swarm"
    shutil.copytree(swarm, folder)
    markers = tmp_path / "markers"
    markers.mkdir()
    return folder, plant_all(folder, markers)


def test_status_runs_no_planted_code_and_reports_the_records(
        planted: tuple[Path, dict[str, Path]], tmp_path: Path) -> None:
    folder, markers = planted
    result = cli("status", str(folder), "--json", cwd=tmp_path)
    ran = sorted(p.name for p in markers.values() if p.exists())
    assert ran == [], f"status ran planted code: {ran}"
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    unreadable = {u["key"]: u["why"] for u in report["unreadable"]}
    assert set(markers) <= set(unreadable), unreadable
    assert "posix.system" in unreadable["peers/evil-1-abcdef"] or \
        "os.system" in unreadable["peers/evil-1-abcdef"]
    assert report["calls"]["done"] == 3  # the swarm's own records, reported as before
    assert any(p["id"] == "evil-1-abcdef" for p in report["peers"])  # by what its id tells
    assert "not loading" in result.stderr
    text = cli("status", str(folder), cwd=tmp_path)
    assert text.returncode == 0, text.stderr
    assert "unreadable" in text.stdout and "peers/evil-1-abcdef" in text.stdout
    assert not any(p.exists() for p in markers.values())
    assert all((folder / key).is_file() for key in markers)  # left where they are


@pytest.mark.parametrize("what", [[], ["--failures"], ["--all"]])
def test_clear_runs_no_planted_code(planted: tuple[Path, dict[str, Path]], tmp_path: Path,
                                    what: list[str]) -> None:
    folder, markers = planted
    result = cli("clear", str(folder), *what, "--yes", cwd=tmp_path)
    ran = sorted(p.name for p in markers.values() if p.exists())
    assert ran == [], f"clear ran planted code: {ran}"
    assert result.returncode == 0, result.stderr
    if not what:  # leftovers: the planted peer and claim were read, and reported
        assert "not loading" in result.stderr and "peers/evil-1-abcdef" in result.stderr
        assert (folder / f"claims/{FUNCTION_ID}.{ARGUMENTS}").is_file()


def test_a_peer_record_of_other_values_is_shown_as_far_as_it_can_be(
        swarm: Path, tmp_path: Path) -> None:
    """A peer record of builtin values that are no JSON (a set, bytes) is no code: shown,
    with what cannot be shown left out."""
    folder = tmp_path / "swarm"
    shutil.copytree(swarm, folder)
    plant(folder, "peers/odd-2-abcdef", PEER, {"host": b"odd", "workers": {1, 2}, "pid": 2})
    result = cli("status", str(folder), "--json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    peer = next(p for p in json.loads(result.stdout)["peers"] if p["id"] == "odd-2-abcdef")
    assert peer["pid"] == 2 and peer["workers"] is None and peer["host"] == "odd"


class Call:
    """Pickles as ``func(*args)``."""

    def __init__(self, func: Any, *args: Any) -> None:
        self.func, self.args = func, args

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        return self.func, self.args


#: ``python -m pythagoras`` with its address space capped: a run that tries to build what a
#: record names fails with MemoryError, rather than take the machine's memory.
CAPPED = ("import resource, runpy, sys; resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30)); "
          "sys.argv[0] = 'pythagoras'; runpy.run_module('pythagoras', run_name='__main__')")


def test_status_builds_nothing_as_large_as_a_record_says_and_survives_odd_peers(
        swarm: Path, tmp_path: Path) -> None:
    """A 99-byte claim of ``set(range(2**40))`` made ``status`` take all the memory it could
    (here, capped: MemoryError); a peer record of this host whose date is ``2**2000`` made it
    fail with OverflowError. Now the claim is unreadable (it names a range) and the peer is
    shown, its date not taken for a clock."""
    folder = tmp_path / "swarm"
    shutil.copytree(swarm, folder)
    claim = f"claims/{FUNCTION_ID}.{ARGUMENTS}"
    plant(folder, claim, CLAIM, Call(set, range(2**40)))
    plant(folder, f"peers/{_HOST}-7-abcdef", PEER, {"host": "here", "seen": 2**2000, "pid": 7})
    environment = {k: v for k, v in os.environ.items() if k != "PYTHAGORAS_LOCATION"}
    result = child_processes.run(["-c", CAPPED, "status", str(folder), "--json"], cwd=tmp_path,
                                 env=environment, timeout=DEADLINE)
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout)
    why = {u["key"]: u["why"] for u in report["unreadable"]}[claim]
    assert "range" in why and "MemoryError" not in why, why
    assert any(p["id"] == f"{_HOST}-7-abcdef" and p["pid"] == 7 for p in report["peers"])
