"""``pythagoras status`` and ``pythagoras clear`` on a real swarm's folder (and an S3 bucket).

The swarm state is built once per module with the real API: a ``PythagorasExecutor`` stores
results and two failures of a function that raises; ``SwarmStore`` (the protocol) leaves what no
running peer would: pending requests, a batch and a call claimed by a peer on another machine,
a stale claim, a peer record gone stale, one of a process of this machine that has exited, and
leftovers. Each test works on a copy; ages are set with ``os.utime`` (stale records are two
hours old, and the lease is 15 minutes), so nothing sleeps and no result depends on how long
a test takes. The CLI runs as ``python -m pythagoras`` in a fresh directory, where this module
is not importable: the failures' exception class is then one the CLI cannot import.
"""

from __future__ import annotations

import functools
import io
import json
import os
import shutil
import stat
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import child_processes
import pytest
from s3_server import MotoServer, S3Location

from pythagoras import PythagorasExecutor
from pythagoras.cli import main
from pythagoras.cli.clear import plan_clear, run_clear
from pythagoras.cli.status import KINDS, open_location, run_status, status
from pythagoras.errors import StoreError
from pythagoras.identity.address import CallAddress
from pythagoras.identity.calls import arguments_hash
from pythagoras.identity.functions import function_identity
from pythagoras.records.frames import dump_value, frame, read_record
from pythagoras.records.keys import result_key
from pythagoras.storage.base import StoredKey, is_debris
from pythagoras.storage.memory import MemoryStore
from pythagoras.storage.plugins import open_store
from pythagoras.swarm.protocol import _HOST, CLAIM, PEER, Call, Failure, new_peer_id
from pythagoras.swarm.swarm_store import SwarmStore

pytestmark = pytest.mark.timeout(300)

DEADLINE = 120  # seconds for one CLI run: only a hung run reaches it
LEASE = "900"  # the lease the tests pass: live records are just written, stale ones 2 h old
STALE = 7200.0
FARHOST = "farhost-4242-abcdef"  # a peer on another machine, serving
DEADHOST = "deadhost-77-012345"  # a peer on another machine that stopped renewing


class Refused(ValueError):
    """What ``refuse`` raises: a class of this test module, which the CLI cannot import."""


def square(x: int) -> int:
    return x * x


def refuse(x: int) -> int:
    raise Refused(f"refused {x}: an odd request")


def address(fn: Any, *args: Any) -> CallAddress:
    """The call's address, as the executor computes it."""
    return CallAddress(function_identity(fn, strict=False).hex(), arguments_hash(fn, args, {}).hex())


def call(fn: Any, *args: Any) -> Call:
    return Call(address(fn, *args), fn, fn.__name__, args, {})


def claim_key(a: CallAddress) -> str:
    return f"claims/{a.function}.{a.arguments}"


def request_key(a: CallAddress) -> str:
    return f"requests/{a.arguments[0]}/{a.function}.{a.arguments}"


def age(folder: Path, key: str, seconds: float) -> None:
    """Make the record ``seconds`` old by its file's date (the local store's clock)."""
    path = folder / key
    then = path.stat().st_mtime - seconds
    os.utime(path, (then, then))


def touch(folder: Path, key: str) -> None:
    os.utime(folder / key)


def records(folder: Path) -> dict[str, int]:
    """Every record of the folder with its size, read from the disk, not through pythagoras."""
    found = {}
    for kind in KINDS:
        for directory, _, files in os.walk(folder / kind):
            for name in files:
                if not is_debris(name):
                    path = Path(directory, name)
                    found[path.relative_to(folder).as_posix()] = path.stat().st_size
    return found


def snapshot(folder: Path) -> dict[str, float]:
    """Every file and folder under ``folder``, with its date: to show that nothing changed."""
    return {str(p.relative_to(folder)): p.stat().st_mtime for p in folder.rglob("*")}


@dataclass
class State:
    """The template folder, and the keys of what is in it."""

    folder: Path
    gone_peer: str  # a peer of this machine whose process has exited
    leftovers: set[str]  # what ``clear`` without a flag deletes
    in_use_marker: str  # the break marker of a stale claim that is being broken: kept
    young_marker: str  # a break marker within its lease: kept


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> State:
    folder = tmp_path_factory.mktemp("template") / "swarm"
    with PythagorasExecutor(folder, max_workers=1) as ex:
        assert [ex.submit(square, x).result(timeout=DEADLINE) for x in range(4)] == [0, 1, 4, 9]
        for x in (7, 8):
            with pytest.raises(Refused):
                ex.submit(refuse, x).result(timeout=DEADLINE)
    age(folder, failure_path(address(refuse, 7)), 300)
    age(folder, failure_path(address(refuse, 8)), 200)

    store = open_store(folder)
    swarm = SwarmStore(store)
    for x in (100, 101):  # pending: requests no peer holds
        swarm.publish(swarm.prepare([call(square, x)], "submitter-1-aaaaaa"))
    batch = swarm.prepare([call(square, x) for x in (200, 201, 202)], "submitter-1-aaaaaa")
    swarm.publish(batch)  # running: a batch of three a live peer holds
    assert swarm.claim(batch.address, FARHOST) is not None
    assert swarm.claim(address(square, 300), FARHOST) is not None  # running, with no request
    stale = address(square, 400)  # pending again: its holder went silent
    swarm.publish(swarm.prepare([call(square, 400)], "submitter-1-aaaaaa"))
    assert swarm.claim(stale, DEADHOST) is not None
    age(folder, claim_key(stale), STALE)
    nonce = read_record(store, claim_key(stale), CLAIM).nonce
    in_use_marker = f"breaks/{stale.function}.{stale.arguments}.{nonce}"
    store.create(in_use_marker, b"")  # a breaker between its steps: kept
    age(folder, in_use_marker, STALE)
    young_marker = f"breaks/{stale.function}.{stale.arguments}.0123456789ab"
    store.create(young_marker, b"")  # within the lease: kept
    swarm.fail(address(square, 500), None, Failure(
        "peers_died", "PeersDied", "the peers running this call died 3 times (last: "
        f"{DEADHOST}); it may crash its interpreter", "", DEADHOST, 3))
    age(folder, failure_path(address(square, 500)), 100)

    swarm.announce(FARHOST, {"host": "farhost", "pid": 4242, "workers": 8, "serving": True,
                            "python": "3.13"})
    swarm.announce(DEADHOST, {"host": "deadhost", "pid": 77, "workers": 2, "serving": True})
    age(folder, f"peers/{DEADHOST}", STALE)
    exited = child_processes.exited_pid()
    gone_peer = f"{_HOST}-{exited}-bbbbbb"
    swarm.announce(gone_peer, {"host": _HOST, "pid": exited, "workers": 1, "serving": True})

    # Leftovers: records no peer reads again.
    done = address(square, 1)
    swarm.publish(swarm.prepare([call(square, 1)], "submitter-1-aaaaaa"))  # its result is stored
    finished = address(square, 2)
    assert swarm.claim(finished, DEADHOST) is not None  # died after storing the result
    age(folder, claim_key(finished), STALE)
    spent = address(square, 3)
    spent_marker = f"breaks/{spent.function}.{spent.arguments}.fedcba987654"
    store.create(spent_marker, b"")
    age(folder, spent_marker, STALE)
    orphan = address(square, 999)
    orphan_metadata = "metadata/" + result_key(orphan).partition("/")[2]
    store.write(orphan_metadata, frame(b"M", b'{"duration": 1.0}'))
    kept_metadata = "metadata/" + result_key(address(square, 0)).partition("/")[2]
    store.write(kept_metadata, frame(b"M", b'{"duration": 1.0}'))
    leftovers = {f"peers/{DEADHOST}", f"peers/{gone_peer}", request_key(done), claim_key(finished),
                 spent_marker, orphan_metadata}
    return State(folder, gone_peer, leftovers, in_use_marker, young_marker)


def failure_path(a: CallAddress) -> str:
    return f"failures/{a.function}/{a.arguments[:2]}/{a.arguments}"


@pytest.fixture
def state(template: State, tmp_path: Path) -> State:
    """A copy of the template whose live records were just renewed."""
    folder = tmp_path / "swarm"
    shutil.copytree(template.folder, folder)  # keeps the files' dates
    batch = [k for k in records(folder) if k.startswith("claims/" + "0" * 32)]
    for key in [f"peers/{FARHOST}", f"peers/{template.gone_peer}", claim_key(address(square, 300)),
                *batch, template.young_marker]:
        touch(folder, key)
    return State(folder, template.gone_peer, template.leftovers, template.in_use_marker,
                 template.young_marker)


def cli(*args: str, cwd: Path, env: dict[str, str] | None = None,
        stdin: Any = subprocess.DEVNULL) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if k != "PYTHAGORAS_LOCATION"}
    return child_processes.run(["-m", "pythagoras", *args], cwd=cwd, stdin=stdin,
                               env={**environment, **(env or {})}, timeout=DEADLINE)


def cli_on_terminal(*args: str, answer: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """The CLI with a terminal (a pty) for stdin, on which ``answer`` is typed."""
    controller, terminal = os.openpty()
    try:
        os.write(controller, answer.encode())  # waits in the terminal until the CLI reads it
        return cli(*args, cwd=cwd, stdin=terminal)
    finally:
        os.close(terminal)
        os.close(controller)


def one_line_error(result: subprocess.CompletedProcess[str], command: str) -> str:
    assert result.returncode == 2, result
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"pythagoras {command}: "), result.stderr
    return lines[0]


# -- status ------------------------------------------------------------------------------------


def test_status_json_counts_calls_peers_size_and_failures(state: State, tmp_path: Path) -> None:
    result = cli("status", str(state.folder), "--json", "--lease-timeout", LEASE, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["location"] == str(state.folder)
    # pending: 100, 101 and 400 (its claim is stale); running: the batch's three and 300;
    # the request of square(1) is finished, not pending.
    assert report["calls"] == {"pending": 3, "running": 4, "done": 4, "failed": 3,
                               "pending_only_for_python": {}}
    assert report["stale_claims"] == 2
    peers = {p["id"]: p for p in report["peers"]}
    assert set(peers) == {FARHOST, DEADHOST, state.gone_peer}
    assert peers[FARHOST] | {"heartbeat_age": 0} == {
        "id": FARHOST, "host": "farhost", "pid": 4242, "workers": 8, "serving": True, "python": "3.13",
        "heartbeat_age": 0, "live": True}
    assert peers[DEADHOST]["live"] is False and peers[DEADHOST]["heartbeat_age"] >= STALE
    assert peers[state.gone_peer]["live"] is False  # fresh, but its process has exited
    on_disk = records(state.folder)
    assert report["store"]["records"] == len(on_disk)
    assert report["store"]["bytes"] == sum(on_disk.values())
    assert report["store"]["kinds"]["results"]["records"] == 4
    shown = report["recent_failures"]
    assert [(f["function"], f["kind"], f["type"], f["message"]) for f in shown] == [
        ("square", "peers_died", "PeersDied",
         f"the peers running this call died 3 times (last: {DEADHOST}); it may crash its "
         "interpreter"),
        ("refuse", "raised", "test_cli.Refused", "refused 8: an odd request"),
        ("refuse", "raised", "test_cli.Refused", "refused 7: an odd request"),
    ]
    assert shown[1]["function_id"] == address(refuse, 8).function
    assert shown[1]["arguments"] == address(refuse, 8).arguments
    assert shown[1]["attempts"] == 1 and "in refuse" in shown[1]["traceback"]


def test_status_text_is_a_few_aligned_lines(state: State, tmp_path: Path) -> None:
    result = cli("status", str(state.folder), "--lease-timeout", LEASE, "--recent", "2",
                 cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["location", str(state.folder)]
    assert lines[1].startswith("peers     1 live (8 workers), 2 stale")
    table = lines[2:6]
    assert table[0].split() == ["HOST", "PID", "PYTHON", "WORKERS", "SERVING", "HEARTBEAT", "STATE"]
    rows = {row.split()[0] + "-" + row.split()[1]: row.split() for row in table[1:]}
    assert rows["farhost-4242"][3:5] == ["8", "yes"] and rows["farhost-4242"][-1] == "live"
    assert rows["deadhost-77"][5:] == ["2h", "ago", "stale"]
    titles = ("PID", "PYTHON", "WORKERS", "SERVING", "HEARTBEAT", "STATE")
    starts = [table[0].index(title) for title in titles]
    for row in table:  # every column starts where its title does
        assert all(row[at - 1] == " " and row[at] != " " for at in starts), table
    assert "calls     3 pending, 4 running, 4 done, 3 failed   (2 stale claims)" in lines
    assert lines[lines.index("calls     3 pending, 4 running, 4 done, 3 failed   (2 stale claims)")
                 + 1].startswith("store     ")
    at = lines.index("failures  the 2 most recent of 3:")
    assert lines[at + 1].split() == ["2m", "ago", "square", "PeersDied:", "the", "peers", "running",
                                     "this", "call", "died", "3", "times", "(last:",
                                     f"{DEADHOST});", "it", "may", "crash", "its", "interpreter"]
    assert lines[at + 2].split()[:4] == ["3m", "ago", "refuse", "test_cli.Refused:"]
    assert len(lines) == at + 3


def test_status_recent_and_lease_timeout(state: State) -> None:
    store = open_location(str(state.folder))
    report = status(store, lease_timeout=float(LEASE), recent=1)
    assert [f["message"] for f in report["recent_failures"]] == [
        f"the peers running this call died 3 times (last: {DEADHOST}); it may crash its interpreter"]
    assert status(store, lease_timeout=float(LEASE), recent=0)["recent_failures"] == []
    # A lease longer than the dead peer's silence makes it, and its claim, live again; the
    # peer of this machine whose process has exited stays stale whatever the lease.
    long = status(store, lease_timeout=3 * STALE)
    assert {p["id"] for p in long["peers"] if p["live"]} == {FARHOST, DEADHOST}
    assert long["calls"]["pending"] == 2 and long["calls"]["running"] == 5
    # Read in this process, where the exception's class can be imported: the same text.
    assert [f["type"] for f in status(store, recent=3)["recent_failures"]][1:] == [
        "test_cli.Refused"] * 2


def test_status_writes_nothing(state: State, tmp_path: Path) -> None:
    before = snapshot(state.folder)
    out = io.StringIO()
    assert run_status(str(state.folder), out=out, lease_timeout=float(LEASE)) == 0
    assert cli("status", str(state.folder), "--json", cwd=tmp_path).returncode == 0
    assert snapshot(state.folder) == before
    assert "3 pending, 4 running" in out.getvalue()


def test_status_defaults_to_the_embedded_default_location(state: State, tmp_path: Path) -> None:
    result = cli("status", "--json", cwd=tmp_path, env={"PYTHAGORAS_LOCATION": str(state.folder)})
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["location"] == str(state.folder)
    url = cli("status", "--json", f"file://{state.folder}", cwd=tmp_path)
    assert json.loads(url.stdout)["calls"] == json.loads(result.stdout)["calls"]


def test_an_empty_folder_has_nothing(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    report = json.loads(cli("status", str(tmp_path / "empty"), "--json", cwd=tmp_path).stdout)
    assert report["calls"] == {"pending": 0, "running": 0, "done": 0, "failed": 0,
                               "pending_only_for_python": {}}
    assert report["peers"] == [] and report["recent_failures"] == []
    assert report["store"]["records"] == report["store"]["bytes"] == 0
    assert cli("clear", str(tmp_path / "empty"), "--all", cwd=tmp_path).returncode == 0


# -- location errors: one line on stderr, exit code 2, nothing created --------------------------


@pytest.mark.parametrize("command", ["status", "clear"])
def test_a_missing_folder_is_not_created(command: str, tmp_path: Path) -> None:
    missing = tmp_path / "no" / "such" / "swarm"
    line = one_line_error(cli(command, str(missing), cwd=tmp_path), command)
    assert f"no folder at {missing}" in line
    line = one_line_error(cli(command, f"file://{missing}", cwd=tmp_path), command)
    assert f"no folder at {missing}" in line
    assert not (tmp_path / "no").exists()


def test_a_file_is_not_a_folder(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("not a swarm")
    assert "is a file, not a folder" in one_line_error(
        cli("status", str(tmp_path / "notes.txt"), cwd=tmp_path), "status")
    assert "not a folder" in one_line_error(
        cli("status", str(tmp_path / "notes.txt" / "swarm"), cwd=tmp_path), "status")
    assert (tmp_path / "notes.txt").read_text() == "not a swarm"


def bound_by_modes() -> list[str] | None:
    """The command prefix that runs a process file modes bind: none for a user who is not root;
    for root, ``setpriv`` without the capabilities root ignores modes by; None where there is
    no such way."""
    if not hasattr(os, "geteuid"):
        return None
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    caps = "-dac_override,-dac_read_search,-fowner"
    prefix = [str(setpriv), f"--inh-caps={caps}", f"--bounding-set={caps}"]
    if setpriv is None or subprocess.run([*prefix, "true"], capture_output=True).returncode:
        return None
    return prefix


def test_an_unreadable_folder(state: State, tmp_path: Path) -> None:
    runner = bound_by_modes()
    if runner is None:
        pytest.skip("no way here to run a process that file modes bind (root without setpriv)")
    env = {k: v for k, v in child_processes.environment().items() if k != "PYTHAGORAS_LOCATION"}

    def bound(*args: str) -> subprocess.CompletedProcess[str]:
        return child_processes.run_command([*runner, sys.executable, "-m", "pythagoras", *args],
                                           cwd=tmp_path, env=env, timeout=DEADLINE)

    for locked in (state.folder, state.folder / "results"):
        mode = locked.stat().st_mode
        locked.chmod(0)
        try:
            line = one_line_error(bound("status", str(state.folder)), "status")
            assert "Permission denied" in line
            one_line_error(bound("clear", str(state.folder), "--all", "--yes"), "clear")
        finally:
            locked.chmod(stat.S_IMODE(mode))
    assert len(records(state.folder)) > 0  # nothing was deleted


def test_permission_denied_in_process(state: State, monkeypatch: pytest.MonkeyPatch,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    """The same errors where the test runs as root: the folder's listing is refused."""
    scandir = os.scandir

    def refusing(locked: set[Path], path: Any = ".") -> Any:
        # The local store lists a folder by its descriptor (opened without following links).
        where = Path(os.readlink(f"/proc/self/fd/{path}")) if isinstance(path, int) else Path(path)
        if where in locked:
            raise PermissionError(13, "Permission denied", str(path))
        return scandir(path)

    before = records(state.folder)
    for locked in ({state.folder}, {state.folder / "failures"}):
        with monkeypatch.context() as patch:
            patch.setattr(os, "scandir", functools.partial(refusing, locked))
            assert main(["status", str(state.folder)]) == 2
            assert main(["clear", str(state.folder), "--failures", "--yes"]) == 2
        captured = capsys.readouterr()
        assert captured.out == ""
        lines = captured.err.splitlines()
        assert len(lines) == 2 and all("Permission denied" in line for line in lines), lines
        assert lines[0].startswith("pythagoras status: ")
    assert records(state.folder) == before


def test_an_unknown_scheme_and_bad_storage_options(state: State, tmp_path: Path) -> None:
    line = one_line_error(cli("status", "nosuchscheme://bucket/run", cwd=tmp_path), "status")
    assert "no store plugin serves 'nosuchscheme://bucket/run'" in line
    line = one_line_error(cli("status", str(state.folder), "--storage-options", '{"anon": true}',
                              cwd=tmp_path), "status")
    assert "takes no storage_options" in line
    usage = cli("status", str(state.folder), "--storage-options", "[1]", cwd=tmp_path)
    assert usage.returncode == 2 and "give a JSON object" in usage.stderr
    assert cli("clear", str(state.folder), "--all", "--failures", cwd=tmp_path).returncode == 2


def test_a_missing_bucket(s3_server: MotoServer, tmp_path: Path) -> None:
    missing = f"s3://missing-{uuid.uuid4().hex[:12]}/run"
    options = json.dumps(s3_server.storage_options())
    for command in ("status", "clear"):
        line = one_line_error(cli(command, missing, "--storage-options", options, cwd=tmp_path),
                              command)
        assert "does not exist" in line
    with pytest.raises(StoreError, match="does not exist"):
        open_location(missing, s3_server.storage_options())


# -- clear -------------------------------------------------------------------------------------


def test_clear_failures_after_answering_yes(state: State, tmp_path: Path) -> None:
    before = records(state.folder)
    result = cli_on_terminal("clear", str(state.folder), "--failures", answer="y\n", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert f"Delete 3 records at {state.folder}? [y/N]" in result.stderr
    assert result.stdout.splitlines() == [f"deleted 3 records at {state.folder}:", "  3 failures"]
    after = records(state.folder)
    assert set(after) == {k for k in before if not k.startswith("failures/")}
    assert not (state.folder / "failures").exists()  # its emptied folders too
    assert state.folder.is_dir()


@pytest.mark.parametrize("answer", ["n\n", "\n", "whatever\n", "\x04"])  # \x04: end of input
def test_clear_keeps_everything_unless_the_answer_is_yes(answer: str, state: State,
                                                         tmp_path: Path) -> None:
    before = snapshot(state.folder)
    result = cli_on_terminal("clear", str(state.folder), "--all", answer=answer, cwd=tmp_path)
    assert result.returncode == 1
    assert "Delete " in result.stderr and "nothing deleted" in result.stderr
    assert snapshot(state.folder) == before


def test_clear_without_a_terminal_needs_yes(state: State, tmp_path: Path) -> None:
    before = snapshot(state.folder)
    result = cli("clear", str(state.folder), "--all", cwd=tmp_path, stdin=subprocess.PIPE)
    assert result.returncode == 1
    assert "--yes" in result.stderr and "not a terminal" in result.stderr
    assert snapshot(state.folder) == before


def test_clear_all_with_yes_deletes_every_record(state: State, tmp_path: Path) -> None:
    count = len(records(state.folder))
    (state.folder / "notes.txt").write_text("mine")  # not a record: kept
    result = cli("clear", str(state.folder), "--all", "--yes", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0] == f"deleted {count} records at {state.folder}:"
    assert "  4 results" in result.stdout.splitlines()
    assert records(state.folder) == {}
    assert sorted(p.name for p in state.folder.iterdir()) == ["notes.txt"]
    again = cli("clear", str(state.folder), "--all", "--yes", cwd=tmp_path)
    assert again.stdout.strip() == f"no records at {state.folder}: nothing to delete"


def test_clear_without_a_flag_deletes_only_leftovers(state: State, tmp_path: Path) -> None:
    before = records(state.folder)
    pending = cli("status", str(state.folder), "--json", "--lease-timeout", LEASE, cwd=tmp_path)
    result = cli("clear", str(state.folder), "--yes", "--lease-timeout", LEASE, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        f"deleted 6 records at {state.folder}:",
        "  2 stale peer records",
        "  1 request of finished calls",
        "  1 stale claim of finished calls",
        "  1 spent break marker",
        "  1 Memory metadata record without a result",
    ]
    assert set(before) - set(records(state.folder)) == state.leftovers
    assert {state.in_use_marker, state.young_marker} <= set(records(state.folder))
    report = json.loads(cli("status", str(state.folder), "--json", "--lease-timeout", LEASE,
                            cwd=tmp_path).stdout)
    assert report["calls"] == json.loads(pending.stdout)["calls"]  # the swarm is as it was
    assert [p["id"] for p in report["peers"]] == [FARHOST]


class Terminal(io.StringIO):
    """Typed answers, on what says it is a terminal."""

    def isatty(self) -> bool:
        return True


def test_clear_in_process(state: State) -> None:
    out, err = io.StringIO(), io.StringIO()
    plan = plan_clear(open_location(str(state.folder)), "failures")
    assert plan.total == 3 and list(plan.groups) == ["failures"]
    assert run_clear(str(state.folder), "failures", stdin=Terminal("yes\n"), out=out, err=err) == 0
    assert err.getvalue().endswith(f"Delete 3 records at {state.folder}? [y/N] ")
    assert not any(k.startswith("failures/") for k in records(state.folder))
    assert run_clear(str(state.folder), "failures", stdin=Terminal(""), out=out, err=err) == 0
    assert out.getvalue().splitlines()[-1] == f"no failures at {state.folder}: nothing to delete"
    with pytest.raises(ValueError):
        plan_clear(open_location(str(state.folder)), "everything")


# -- S3 ----------------------------------------------------------------------------------------


def test_status_and_clear_on_s3(s3: S3Location, tmp_path: Path) -> None:
    store = open_store(s3.url, s3.storage_options)
    swarm = SwarmStore(store)
    swarm.publish(swarm.prepare([call(square, 100)], "submitter-1-aaaaaa"))
    swarm.results.publish(address(square, 0), 0)
    swarm.fail(address(refuse, 7), None, Failure("raised", "test_cli.Refused", "refused 7", "",
                                                 "peer-1-aaaaaa", 1, Refused("refused 7")))
    options = json.dumps(s3.storage_options)
    result = cli("status", s3.url, "--json", "--storage-options", options, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["calls"] == {"pending": 1, "running": 0, "done": 1, "failed": 1,
                               "pending_only_for_python": {}}
    keys = list(store.list(""))
    assert report["store"]["records"] == len(keys) == 4  # with the function record
    assert report["store"]["bytes"] == sum(store.size(k) or 0 for k in keys)
    assert [(f["type"], f["message"]) for f in report["recent_failures"]] == [
        ("test_cli.Refused", "refused 7")]
    result = cli("clear", s3.url, "--all", "--yes", "--storage-options", options, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0] == f"deleted 4 records at {s3.url}:"
    assert list(store.list("")) == []



# -- the lease rule and the clock skew, on a fake clock ---------------------------------------


class _ServerDatedStore(MemoryStore):
    """A folder on a file server whose clock runs ``behind`` seconds behind this machine's:
    the server dates each write, and an age is this machine's clock minus that date."""

    def __init__(self, machine: list[float], behind: float) -> None:
        super().__init__(clock=lambda: machine[0] - behind)
        self.behind = behind

    def age(self, key: str) -> float | None:
        age = super().age(key)
        return None if age is None else age + self.behind

    def scan(self, prefix: str = "") -> Iterator[StoredKey]:
        return iter([StoredKey(k, s, a + self.behind) for k, s, a in super().scan(prefix)])


def test_status_applies_the_skew_measured_from_a_peer_record_of_this_host() -> None:
    machine = [1_000_000.0]
    store = _ServerDatedStore(machine, behind=20.0)
    swarm = SwarmStore(store, lease_timeout=30.0)
    # A peer of this host announces itself, its record's "seen" by this machine's clock.
    store.write(f"peers/{new_peer_id()}", frame(PEER, dump_value({"workers": 1, "seen": machine[0]})))
    held = CallAddress("a" * 32, "b" * 32)
    assert swarm.claim(held, "elsewhere-1-abcdef") is not None
    machine[0] += 25.0  # 25 s by the true clock; 45 s by this machine's reading of the dates
    report = status(store, lease_timeout=30.0, clock=lambda: machine[0])
    assert report["stale_claims"] == 0 and report["calls"]["running"] == 1
    assert [p["live"] for p in report["peers"]] == [True]
    assert not plan_clear(store, "leftovers", lease_timeout=30.0, clock=lambda: machine[0]).groups
    machine[0] += 10.0  # 35 s: stale by the lease rule, with or without the skew
    report = status(store, lease_timeout=30.0, clock=lambda: machine[0])
    assert report["stale_claims"] == 1 and [p["live"] for p in report["peers"]] == [False]


def test_status_without_a_peer_of_this_host_applies_no_skew() -> None:
    machine = [1_000_000.0]
    store = _ServerDatedStore(machine, behind=20.0)
    store.write("peers/otherhost-4242-abcdef",  # its "seen" is another machine's clock
                frame(PEER, dump_value({"workers": 1, "seen": machine[0] + 20.0})))
    machine[0] += 25.0
    report = status(store, lease_timeout=30.0, clock=lambda: machine[0])
    assert [p["live"] for p in report["peers"]] == [False]  # 45 s as this machine reads it
