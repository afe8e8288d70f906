"""LocalFolderStore: the store contract, plus what a folder on disk adds (debris, sharding, mtime)."""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from _store_contract import StoreContract

from pythagoras.errors import CorruptRecord, StoreError
from pythagoras.identity.address import CallAddress
from pythagoras.records.frames import HEADER_SIZE, frame, unframe
from pythagoras.records.keys import result_key
from pythagoras.storage.base import is_debris
from pythagoras.storage.local import LocalFolderStore


class TestLocalFolderStore(StoreContract):
    @pytest.fixture
    def store(self, tmp_path: Path) -> LocalFolderStore:
        return LocalFolderStore(tmp_path / "store")


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tmp_path / "store"


@pytest.fixture
def store(root: Path) -> LocalFolderStore:
    return LocalFolderStore(root)


def files_under(root: Path) -> list[str]:
    """Every file below ``root``, as '/'-separated relative paths, debris included."""
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


# -- debris: temp files of crashed writers, conflict copies of sync services -------------------

DEBRIS_NAMES = [
    ".k.tmp-host-1-abcd",  # a writer that crashed between writing its temp file and the rename
    "k (conflicted copy 2024)",  # Dropbox
    "k.sync-conflict-20240101-xyz",  # Syncthing
    "k (1)",  # OneDrive, Google Drive
    "k~",
]


def test_debris_is_not_listed_and_does_not_break_reads(store: LocalFolderStore, root: Path) -> None:
    record = frame(b"R", b"the real record")
    store.write("k", record)
    store.write("sub/k", record)
    for directory in (root, root / "sub"):
        for name in DEBRIS_NAMES:
            (directory / name).write_bytes(record[:7])  # partial, as a crashed writer leaves it
    # A sync service can also fork a whole directory.
    (root / "sub (conflicted copy 2024)").mkdir()
    (root / "sub (conflicted copy 2024)" / "k").write_bytes(b"stale")

    assert sorted(store.list("")) == ["k", "sub/k"]
    assert list(store.list("k")) == ["k"]
    assert list(store.list("sub/")) == ["sub/k"]
    assert list(store.list("sub")) == ["sub/k"]
    for key in ("k", "sub/k"):
        assert bytes(unframe(store.read(key) or b"", b"R")) == b"the real record"
        assert store.exists(key)
    # Writing and creating beside the debris work as usual.
    store.write("k", frame(b"R", b"new"))
    assert bytes(unframe(store.read("k") or b"", b"R")) == b"new"
    assert store.create("k2", b"c") is True
    assert sorted(store.list("k")) == ["k", "k2"]


def test_write_and_create_leave_no_temp_files(store: LocalFolderStore, root: Path) -> None:
    store.write("a/b", b"1")
    store.write("a/b", b"2")
    assert store.create("a/c", b"3") is True
    assert store.create("a/c", b"4") is False  # the losing create must clean up its temp file too
    store.write("top", b"")
    assert files_under(root) == ["a/b", "a/c", "top"]


def test_a_small_create_writes_in_place_in_one_write_and_a_large_one_through_a_temp_file(
    store: LocalFolderStore, root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # In place: a reader on this machine sees the file empty or whole, never partial, as long
    # as the bytes go in one write() of at most a page.
    opened: list[str] = []  # the files created, each by its name (relative to its folder)
    writes: list[int] = []
    real_open, real_write = os.open, os.write

    def open_spy(path: str, flags: int, *args: Any, **kwargs: Any) -> int:
        if flags & os.O_CREAT:
            opened.append(path)
        return real_open(path, flags, *args, **kwargs)

    def write_spy(fd: int, data: Any) -> int:
        writes.append(len(data))
        return real_write(fd, data)

    monkeypatch.setattr(os, "open", open_spy)
    monkeypatch.setattr(os, "write", write_spy)
    claim = b"c" * 4096
    assert store.create_small("claims/f.a", claim) is True
    assert opened == ["f.a"]  # in its folder, made first
    assert writes == [4096]
    opened.clear()
    assert store.create_small("claims/f.b", claim + b"c") is True  # more than a page: a temp file
    assert opened[0].startswith("f.b.tmp-")
    monkeypatch.undo()
    assert store.read("claims/f.a") == claim and store.read("claims/f.b") == claim + b"c"
    assert files_under(root) == ["claims/f.a", "claims/f.b"]


def test_a_small_create_that_fails_to_write_leaves_nothing(
    store: LocalFolderStore, root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def full(fd: int, data: Any) -> int:
        raise OSError(28, "No space left on device")

    store.write("claims/other", b"x")
    monkeypatch.setattr(os, "write", full)
    with pytest.raises(OSError):
        store.create_small("claims/f.a", b"claim")
    monkeypatch.undo()
    assert files_under(root) == ["claims/other"]  # not an empty claim that would block the call
    assert store.create_small("claims/f.a", b"claim") is True


def test_temp_files_are_hidden_and_carry_the_tmp_marker(
    store: LocalFolderStore, root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Catch the temp name at the moment of the rename: it sits in the root's hidden ".tmp"
    # folder (outside the folders peers watch) and contains ".tmp-", so that every reader (and
    # list) skips it.
    seen: list[tuple[str, str, str, str]] = []
    real_replace = os.replace

    def folder_of(fd: int) -> str:
        return os.readlink(f"/proc/self/fd/{fd}") if os.path.exists("/proc/self/fd") else ""

    def spy(src: str, dst: str, *, src_dir_fd: int, dst_dir_fd: int) -> None:
        seen.append((folder_of(src_dir_fd), src, folder_of(dst_dir_fd), dst))
        real_replace(src, dst, src_dir_fd=src_dir_fd, dst_dir_fd=dst_dir_fd)

    monkeypatch.setattr(os, "replace", spy)
    store.write("x/y", b"v")
    [(src_folder, src, dst_folder, dst)] = seen
    assert dst == "y" and src.startswith("y.tmp-") and is_debris(src)
    if src_folder:  # where /proc names a descriptor's folder
        assert Path(dst_folder) == root / "x" and Path(src_folder) == root / ".tmp"
    assert list(store.list("")) == ["x/y"]
    assert not any((root / ".tmp").iterdir())


# -- layout: keys are files in subdirectories --------------------------------------------------


def test_sharded_keys_are_files_in_subdirectories(store: LocalFolderStore, root: Path) -> None:
    function = "f" * 32
    shards = [("ab", "1"), ("ab", "0"), ("cd", "0")]
    addresses = [CallAddress(function, shard + tail * 30) for shard, tail in shards]
    for a in addresses:
        store.write(result_key(a), a.arguments.encode())

    assert sorted(p.name for p in root.iterdir()) == [".tmp", "results"]  # .tmp: temp files
    assert not any((root / ".tmp").iterdir())
    assert sorted(p.name for p in (root / "results" / function).iterdir()) == ["ab", "cd"]
    assert sorted(p.name for p in (root / "results" / function / "ab").iterdir()) == sorted(
        [addresses[0].arguments, addresses[1].arguments]
    )
    for a in addresses:
        path = root.joinpath(*result_key(a).split("/"))
        assert path.is_file()
        assert path.read_bytes() == a.arguments.encode()
    assert sorted(store.list(f"results/{function}/ab/")) == sorted(
        [result_key(addresses[0]), result_key(addresses[1])]
    )


def test_two_stores_on_one_folder_share_their_keys(root: Path) -> None:
    peer_a, peer_b = LocalFolderStore(root), LocalFolderStore(str(root))
    peer_a.write("results/x", b"from a")
    assert peer_b.read("results/x") == b"from a"
    assert peer_b.create("claims/c", b"b") is True
    assert peer_a.create("claims/c", b"a") is False
    assert sorted(peer_a.list("")) == ["claims/c", "results/x"]


def test_a_store_pickled_into_another_process_opens_its_folder_again(
        store: LocalFolderStore, tmp_path: Path) -> None:
    # The store holds a descriptor of its folder; a copy in another process (a loky or dask
    # worker) must not use that number, which is closed there or names another file.
    store.write("results/ab/key", b"written here")
    pickled = tmp_path / "store.pickle"
    pickled.write_bytes(pickle.dumps(store))
    script = ("import pickle, sys; store = pickle.load(open(sys.argv[1], 'rb')); "
              "store.write('results/ab/other', b'written there'); "
              "print(bytes(store.read('results/ab/key')).decode())")
    done = subprocess.run([sys.executable, "-c", script, str(pickled)], capture_output=True,
                          text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "written here"
    assert store.read("results/ab/other") == b"written there"


def test_invalid_keys_do_not_escape_the_root(store: LocalFolderStore, tmp_path: Path) -> None:
    for key in ("../escaped", "a/../../escaped"):
        with pytest.raises(ValueError):
            store.write(key, b"v")
    assert [p.name for p in tmp_path.iterdir()] == ["store"]


# -- opening ----------------------------------------------------------------------------------


def test_opening_creates_the_folder_and_its_parents(tmp_path: Path) -> None:
    store = LocalFolderStore(tmp_path / "a" / "b" / "store")
    assert (tmp_path / "a" / "b" / "store").is_dir()
    assert store.location == str(tmp_path / "a" / "b" / "store")


def test_opening_a_file_is_a_store_error(tmp_path: Path) -> None:
    (tmp_path / "file").write_bytes(b"")
    with pytest.raises(StoreError, match="file"):
        LocalFolderStore(tmp_path / "file")


# -- age --------------------------------------------------------------------------------------


def test_age_follows_the_files_modification_time(store: LocalFolderStore, root: Path) -> None:
    store.write("k", b"v")
    then = time.time() - 100.0
    os.utime(root / "k", (then, then))
    age = store.age("k")
    assert age is not None
    assert 99.0 <= age < 105.0
    store.write("k", b"again")  # a write dates the key afresh
    age = store.age("k")
    assert age is not None
    assert age < 5.0


def test_age_of_a_file_from_the_future_is_zero(store: LocalFolderStore, root: Path) -> None:
    # A peer whose clock runs ahead writes files dated in our future.
    store.write("k", b"v")
    future = time.time() + 3600.0
    os.utime(root / "k", (future, future))
    assert store.age("k") == 0.0


# -- truncated records ------------------------------------------------------------------------


@pytest.mark.parametrize("keep", [0, 1, HEADER_SIZE - 1, HEADER_SIZE, HEADER_SIZE + 5, -1])
def test_a_truncated_record_file_reads_as_corrupt(
    store: LocalFolderStore, root: Path, keep: int
) -> None:
    # A file cut short by a crash, a full disk or a half-synced copy: the store hands back the
    # bytes as they are, and unframe refuses them.
    record = frame(b"R", b"payload " * 100)
    store.write("results/k", record)
    path = root / "results" / "k"
    os.truncate(path, keep if keep >= 0 else len(record) + keep)
    data = store.read("results/k")
    assert data is not None
    assert data == record[: len(data)]
    assert len(data) < len(record)
    with pytest.raises(CorruptRecord):
        unframe(data, b"R")


def test_a_record_that_grew_reads_as_corrupt(store: LocalFolderStore, root: Path) -> None:
    record = frame(b"R", b"payload")
    store.write("k", record)
    with open(root / "k", "ab") as f:
        f.write(b"tail")
    data = store.read("k")
    assert data == record + b"tail"
    with pytest.raises(CorruptRecord):
        unframe(data, b"R")


def test_a_link_planted_at_a_key_is_not_followed_out_of_the_folder(
        store: LocalFolderStore, root: Path, tmp_path: Path) -> None:
    # A writer of the folder links a record's name to a file outside it (a key file, ~/.ssh):
    # reading the key must not read through the link, nor anything copy the target's bytes.
    secret = tmp_path / "outside" / "key"
    secret.parent.mkdir()
    secret.write_bytes(b"the secret bytes")
    planted = root / "requests" / "3" / ("a" * 32 + "." + "3" + "b" * 31)
    planted.parent.mkdir(parents=True)
    planted.symlink_to(secret)
    key = str(planted.relative_to(root))
    assert store.read(key) is None
    assert secret.read_bytes() == b"the secret bytes"  # untouched


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes are POSIX")
def test_a_named_pipe_planted_at_a_key_reads_as_absent_without_blocking(
        store: LocalFolderStore, root: Path) -> None:
    # Opening a pipe for reading waits for a writer: a peer's loop would hang on it for ever.
    (root / "requests" / "c").mkdir(parents=True)
    os.mkfifo(root / "requests" / "c" / "pipe")
    assert store.read("requests/c/pipe") is None  # the test's timeout catches a hang


def test_scan_and_bulk_delete_do_not_go_through_a_linked_folder(
        store: LocalFolderStore, root: Path, tmp_path: Path) -> None:
    # A writer of the folder replaces a kind's folder (or one below it) by a link to a folder
    # outside: a scan must not list what is there, nor a bulk delete remove it.
    outside = tmp_path / "outside"
    (outside / "ab").mkdir(parents=True)
    (outside / "ab" / "precious").write_bytes(b"mine")
    (outside / "precious").write_bytes(b"mine too")
    (root / "results").mkdir()
    (root / "results" / "f").symlink_to(outside, target_is_directory=True)
    (root / "peers").symlink_to(outside, target_is_directory=True)
    (root / "claims").mkdir()
    (root / "claims" / "linked").symlink_to(outside / "precious")
    store.write("results/g/ab/real", b"r")
    assert [k for k, _, _ in store.scan("")] == ["results/g/ab/real"]
    assert list(store.scan("results/f/")) == [] and list(store.scan("peers/")) == []
    assert list(store.scan("claims/")) == []  # a link at a key is not a record
    store.delete_many(["results/f/ab/precious", "peers/precious", "peers/ab/precious",
                       "claims/linked", "results/g/ab/real"])
    assert (outside / "ab" / "precious").read_bytes() == b"mine"
    assert (outside / "precious").read_bytes() == b"mine too"
    assert not (root / "claims" / "linked").is_symlink()  # the link itself went
    assert not (root / "results" / "g").exists()  # the folders it emptied went too


def test_bulk_delete_removes_the_folders_it_emptied_and_keeps_others(
        store: LocalFolderStore, root: Path) -> None:
    store.write("results/f/ab/one", b"1")
    store.write("results/f/cd/two", b"2")
    store.delete_many(["results/f/ab/one"])
    assert sorted(p.name for p in (root / "results" / "f").iterdir()) == ["cd"]
    store.delete_many(["results/f/cd/two"])
    assert sorted(p.name for p in root.iterdir()) == []


# -- a store that travels ------------------------------------------------------------------------

#: A process that has other folders open under low descriptor numbers (as any process may),
#: then loads a pickled store from its stdin, reads a record and writes one.
_LOADER = """
import base64, os, pickle, sys
held = [os.open(sys.argv[1], os.O_RDONLY) for _ in range(8)]
store = pickle.loads(base64.b64decode(sys.stdin.read()))
print(store.read("results/f/ab/abcd"))
store.write("results/f/ab/new", b"written there")
"""


def test_a_pickled_store_opens_its_folder_again_where_it_is_loaded(tmp_path: Path) -> None:
    """A store travels to a pool's workers pickled. It carried the number of its folder's
    descriptor, which in another process names nothing, or another folder: the worker read
    no record and wrote into that folder, outside the location."""
    import base64
    import pickle
    import sys

    import child_processes

    store = LocalFolderStore(tmp_path / "swarm")
    store.write("results/f/ab/abcd", b"the value")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    done = child_processes.run_command(
        [sys.executable, "-c", _LOADER, str(elsewhere)], timeout=60,
        input=base64.b64encode(pickle.dumps(store)).decode())
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "bytearray(b'the value')"
    assert store.read("results/f/ab/new") == b"written there"
    assert list(elsewhere.iterdir()) == []


def test_a_copy_outlives_the_store_it_was_made_from(tmp_path: Path) -> None:
    """A store loaded in the process that pickled it keeps working once the first is gone
    (its descriptor was closed with the first, and its number given to the next open)."""
    import gc
    import pickle

    store = LocalFolderStore(tmp_path / "swarm")
    store.write("results/f/ab/abcd", b"the value")
    copy = pickle.loads(pickle.dumps(store))
    del store
    gc.collect()
    reused = os.open(tmp_path, os.O_RDONLY)  # takes the freed number, if it was freed
    try:
        assert copy.read("results/f/ab/abcd") == b"the value"
        copy.write("results/f/ab/new", b"new")
        assert not (tmp_path / "results").exists()
    finally:
        os.close(reused)
