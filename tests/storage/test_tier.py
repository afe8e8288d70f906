"""The local read-through tier of a remote store (``storage/tier.py``): what it keeps (results,
values, functions), what it never keeps (claims, requests, peers, failures, ...), its bound
(least recently used out), deletes and replacements through it, a tampered copy under a signed
store, and two processes sharing its folder. Against the moto S3 server, and against an
in-process store that says it is remote where only the tier's own logic is tested.
"""

from __future__ import annotations

import json
import os
import pickle
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import child_processes
import pytest
from _store_contract import StoreContract
from s3_server import S3Location

from pythagoras.errors import StoreError
from pythagoras.identity.address import CallAddress
from pythagoras.records.frames import MISSING
from pythagoras.records.keys import result_key
from pythagoras.records.results import ResultRecords
from pythagoras.storage.base import Store
from pythagoras.storage.fsspec_store import FsspecStore
from pythagoras.storage.local import LocalFolderStore
from pythagoras.storage.memory import MemoryStore
from pythagoras.storage.plugins import open_store
from pythagoras.storage.signed import SignedStore
from pythagoras.storage.tier import CACHE_BYTES_VAR, CACHE_DIR_VAR, TieredStore, tier_folder

SECRET = "correct horse battery staple"
HELPER = Path(__file__).with_name("_tier_reader.py")
DEADLINE = 90.0  # seconds for the two-process test; only a hang reaches it
ADDRESS = CallAddress("f" * 32, "ab" * 16)
NEVER_KEPT = ["claims/f.a", "requests/a/f.a", "peers/p1", "failures/f/ab/x", "breaks/f.a.n",
              "metadata/f/ab/x", "quarantine/results/f/ab/x.00", "swarm.json"]


class RemoteMemoryStore(MemoryStore):
    """An in-process store that says it is remote, and counts its reads."""

    remote = True

    def __init__(self) -> None:
        super().__init__("remote-memory")
        self.reads: list[str] = []

    def read(self, key: str) -> bytearray | None:
        self.reads.append(key)
        return super().read(key)


def tiered(remote: Store, folder: Path, max_bytes: int = 2**30) -> TieredStore:
    return TieredStore(remote, LocalFolderStore(folder), max_bytes)


def count_reads(store: TieredStore, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The keys ``store`` reads from its remote store from now on."""
    reads: list[str] = []
    real = store.inner.read

    def read(key: str) -> bytes | bytearray | None:
        reads.append(key)
        return real(key)

    monkeypatch.setattr(store.inner, "read", read)
    return reads


def copies(folder: Path) -> set[str]:
    """The keys of the copies in a tier's folder."""
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*")
            if p.is_file() and ".tmp" not in p.parts}


@pytest.fixture
def s3_tiered(s3: S3Location, tmp_path: Path) -> TieredStore:
    store = open_store(s3.url, s3.storage_options, cache_dir=tmp_path / "tier")
    assert isinstance(store, TieredStore) and isinstance(store.inner, FsspecStore)
    return store


# -- the store contract ------------------------------------------------------------------------


class TestTieredS3(StoreContract):
    @pytest.fixture
    def store(self, s3_tiered: TieredStore) -> TieredStore:
        return s3_tiered


class TestTieredMemory(StoreContract):
    @pytest.fixture
    def store(self, tmp_path: Path) -> TieredStore:
        return tiered(RemoteMemoryStore(), tmp_path / "tier")


# -- what is kept, what never is -------------------------------------------------------------


def test_a_second_read_of_a_result_is_served_locally(
        s3: S3Location, s3_tiered: TieredStore, monkeypatch: pytest.MonkeyPatch) -> None:
    other_peer = open_store(s3.url, s3.storage_options, cache_dir=False)
    for key in ("results/f/ab/abcd", "values/ab/abcd", "functions/f"):
        other_peer.write(key, b"written by another peer: " + key.encode())
    reads = count_reads(s3_tiered, monkeypatch)
    for _ in range(3):
        for key in ("results/f/ab/abcd", "values/ab/abcd", "functions/f"):
            assert s3_tiered.read(key) == b"written by another peer: " + key.encode()
    assert reads == ["results/f/ab/abcd", "values/ab/abcd", "functions/f"]  # one GET each


def test_what_this_peer_writes_is_read_locally(tmp_path: Path) -> None:
    remote = RemoteMemoryStore()
    store = tiered(remote, tmp_path / "tier")
    store.write("results/f/ab/x", b"r")
    assert store.create("values/ab/x", b"v") is True
    assert store.create("values/ab/x", b"other") is False
    assert (store.read("results/f/ab/x"), store.read("values/ab/x")) == (b"r", b"v")
    assert remote.reads == []
    assert copies(tmp_path / "tier") == {"results/f/ab/x", "values/ab/x"}


def test_claims_requests_peers_and_the_rest_are_never_kept(
        s3_tiered: TieredStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    reads = count_reads(s3_tiered, monkeypatch)
    for key in NEVER_KEPT:
        if key.startswith("claims/"):
            assert s3_tiered.create_small(key, b"claim")
        else:
            s3_tiered.write(key, b"changes")
        assert s3_tiered.read(key) == s3_tiered.read(key)
    assert reads == [key for key in NEVER_KEPT for _ in range(2)]
    assert copies(tmp_path / "tier") == set()


def test_a_deleted_record_is_not_served_from_the_tier(s3_tiered: TieredStore) -> None:
    keys = [f"results/f/ab/k{i}" for i in range(4)]
    for key in keys:
        s3_tiered.write(key, b"r")
        assert s3_tiered.read(key) == b"r"
    assert s3_tiered.delete(keys[0]) is True
    s3_tiered.discard(keys[1])
    s3_tiered.backing.delete_many(keys[2:])  # as `pythagoras clear` deletes
    for key in keys:
        assert s3_tiered.read(key) is None
        assert not s3_tiered.exists(key)
    assert copies(Path(s3_tiered.cache.location)) == set()


@pytest.mark.timeout(120)
def test_pythagoras_clear_drops_the_copies_too(s3: S3Location, tmp_path: Path) -> None:
    env = child_processes.environment(**{CACHE_DIR_VAR: str(tmp_path)})
    store = open_store(s3.url, s3.storage_options, cache_dir=tmp_path)  # as the CLI opens it
    assert isinstance(store, TieredStore)
    ResultRecords(store).publish(ADDRESS, "kept here")
    assert copies(Path(store.cache.location)) == {result_key(ADDRESS)}
    done = child_processes.run(["-m", "pythagoras", "clear", s3.url, "--all", "--yes",
                                "--storage-options", json.dumps(s3.storage_options)],
                               timeout=100, env=env)
    assert done.returncode == 0, done.stderr
    assert copies(Path(store.cache.location)) == set()
    assert ResultRecords(store).lookup(ADDRESS) is MISSING


def test_a_corrupt_result_replaced_is_served_fresh(s3: S3Location, tmp_path: Path) -> None:
    other_peer = open_store(s3.url, s3.storage_options, cache_dir=False)
    other_peer.write(result_key(ADDRESS), b"torn by a crashed writer")
    store = open_store(s3.url, s3.storage_options, cache_dir=tmp_path)
    assert ResultRecords(store).lookup(ADDRESS) is MISSING  # read, kept, and found corrupt
    ResultRecords(store).publish(ADDRESS, 42)  # the corrupt record is replaced
    assert ResultRecords(store).lookup(ADDRESS) == 42
    ResultRecords(store).replace(ADDRESS, 43)  # a reader's expiry (joblib's validation)
    again = open_store(s3.url, s3.storage_options, cache_dir=tmp_path)  # a new process, say
    assert isinstance(again, TieredStore) and again.cache.exists(result_key(ADDRESS))
    assert ResultRecords(again).lookup(ADDRESS) == 43
    assert ResultRecords(other_peer).lookup(ADDRESS) == 43


def test_a_tier_travels_to_a_pool_worker(s3_tiered: TieredStore,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    s3_tiered.write("results/f/ab/x", b"r")
    copy = pickle.loads(pickle.dumps(s3_tiered))
    assert isinstance(copy, TieredStore) and copy.max_bytes == s3_tiered.max_bytes
    reads = count_reads(copy, monkeypatch)
    assert copy.read("results/f/ab/x") == b"r" and reads == []


# -- the bound --------------------------------------------------------------------------------


def test_the_bound_evicts_the_least_recently_used(tmp_path: Path) -> None:
    folder = tmp_path / "tier"
    remote = RemoteMemoryStore()
    store = tiered(remote, folder, max_bytes=10_000)
    keys = [f"results/f/ab/k{i}" for i in range(8)]
    for key in keys:
        store.write(key, b"x" * 1000)
    long_ago = time.time() - 3600
    for i, key in enumerate(keys):  # kept an hour ago, k0 first: k0 is the oldest
        os.utime(folder / key, (long_ago + i, long_ago + i))
    store = tiered(remote, folder, max_bytes=10_000)  # a process started since
    assert store.read(keys[0]) == b"x" * 1000  # a hit: k0 is now the most recently used
    store.write("results/f/ab/new", b"y" * 3000)  # 11,000 bytes: over the bound
    kept = copies(folder)
    assert sum((folder / key).stat().st_size for key in kept) <= 7_500
    assert {keys[0], "results/f/ab/new"} <= kept
    assert keys[1] not in kept and keys[2] not in kept  # the least recently used went first
    remote.reads.clear()
    assert store.read(keys[1]) == b"x" * 1000  # evicted: read from the remote store again
    assert remote.reads == [keys[1]]


def test_a_record_larger_than_half_the_bound_is_not_kept(tmp_path: Path) -> None:
    store = tiered(RemoteMemoryStore(), tmp_path / "tier", max_bytes=1000)
    store.write("values/ab/big", b"v" * 600)
    assert store.read("values/ab/big") == b"v" * 600
    assert copies(tmp_path / "tier") == set()


@pytest.mark.skipif(not hasattr(os, "killpg"), reason="process groups are POSIX")
@pytest.mark.timeout(DEADLINE + 30)
def test_two_processes_share_the_folder_while_evicting(s3: S3Location, tmp_path: Path) -> None:
    other_peer = open_store(s3.url, s3.storage_options, cache_dir=False)
    keys = [f"results/f/{i % 7:02d}/k{i}" for i in range(120)]
    for key in keys:
        other_peer.write(key, key.encode() * 100)  # about 1.6 KB each, 190 KB in all
    bound, start = 40_000, tmp_path / "start"
    config = {"url": s3.url, "options": s3.storage_options, "cache_dir": str(tmp_path / "tier"),
              "max_bytes": bound, "keys": keys, "start_file": str(start), "rounds": 3,
              "deadline": DEADLINE}
    procs = [child_processes.spawn([sys.executable, str(HELPER), json.dumps({**config, "peer": p})],
                                   env=child_processes.environment()) for p in range(2)]
    try:
        start.touch()  # the children poll for it, so they read at once
        reports = [child_processes.finish(proc, timeout=DEADLINE) for proc in procs]
    finally:
        for proc in procs:
            child_processes.kill_group(proc)
    for done in reports:
        assert done.returncode == 0, done.stdout + done.stderr
        report = json.loads(done.stdout.splitlines()[-1])
        assert report["wrong"] == 0 and report["reads"] == 3 * len(keys)
        assert len(keys) < report["remote_reads"] < report["reads"]  # evicted under it; some hits
    store = open_store(s3.url, s3.storage_options, cache_dir=tmp_path / "tier")
    assert isinstance(store, TieredStore)
    folder = Path(store.cache.location)
    assert sum((folder / key).stat().st_size for key in copies(folder)) <= 2 * bound
    assert not list((folder / ".tmp").glob("*"))  # no temp file left behind


# -- signed: the tier is below the signatures ----------------------------------------------------


def test_a_tampered_local_copy_is_refused_and_the_bucket_kept(
        s3: S3Location, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    store = open_store(s3.url, s3.storage_options, secret=SECRET, cache_dir=tmp_path)
    assert isinstance(store, SignedStore) and isinstance(store.inner, TieredStore)
    ResultRecords(store).publish(ADDRESS, "the value")
    copy = Path(store.inner.cache.location, *result_key(ADDRESS).split("/"))
    data = bytearray(copy.read_bytes())
    data[20] ^= 1  # someone with this user's files alters the copy
    copy.write_bytes(bytes(data))
    assert ResultRecords(store).lookup(ADDRESS) is MISSING  # refused, never loaded
    assert "refused the record" in caplog.text
    assert not copy.exists()  # the bad copy is dropped ...
    plain = open_store(s3.url, s3.storage_options, secret=SECRET, cache_dir=False)
    assert list(plain.list("quarantine/")) == []  # ... and the bucket's record left in place
    assert ResultRecords(plain).lookup(ADDRESS) == "the value"
    assert ResultRecords(store).lookup(ADDRESS) == "the value"  # read from the bucket again


def test_a_forged_record_in_the_bucket_is_refused_and_not_kept(
        s3: S3Location, tmp_path: Path) -> None:
    store = open_store(s3.url, s3.storage_options, secret=SECRET, cache_dir=tmp_path)
    assert isinstance(store, SignedStore) and isinstance(store.inner, TieredStore)
    forger = store.inner.inner  # the bucket itself, as one who writes it without the secret
    forger.write(result_key(ADDRESS), b"unsigned")
    assert ResultRecords(store).lookup(ADDRESS) is MISSING
    assert copies(tmp_path) == set()
    assert [key.split(".")[0] for key in forger.list("quarantine/")] == \
        [f"quarantine/{result_key(ADDRESS)}"]


# -- opening: where, whether, how much ---------------------------------------------------------


def test_only_remote_stores_get_a_tier(tmp_path: Path, s3: S3Location,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    assert type(open_store(tmp_path / "folder", cache_dir=tmp_path)) is LocalFolderStore
    assert type(open_store("memory://tier-test/x", cache_dir=tmp_path)) is FsspecStore
    assert type(open_store(s3.url, s3.storage_options, cache_dir=False)) is FsspecStore
    monkeypatch.setenv(CACHE_DIR_VAR, "")
    assert type(open_store(s3.url, s3.storage_options)) is FsspecStore
    monkeypatch.setenv(CACHE_DIR_VAR, str(tmp_path / "env"))
    store = open_store(s3.url, s3.storage_options)
    assert isinstance(store, TieredStore)
    assert Path(store.cache.location).parent == tmp_path / "env"


def test_the_folder_names_no_bucket_and_differs_by_endpoint(s3: S3Location) -> None:
    folder = tier_folder(s3.url, s3.storage_options, "/cache")
    assert folder is not None and s3.url.split("/")[2] not in folder
    other = {**s3.storage_options, "client_kwargs": {"endpoint_url": "http://elsewhere"}}
    assert tier_folder(s3.url, other, "/cache") != folder
    assert tier_folder(s3.url, s3.storage_options, "/cache") == folder


@pytest.mark.parametrize("bad", ["lots", "0", "-5"])
def test_a_bad_bound_is_refused_before_anything_is_made(
        bad: str, s3: S3Location, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(CACHE_BYTES_VAR, bad)
    with pytest.raises(ValueError, match=f"{CACHE_BYTES_VAR}.*unset it"):
        open_store(s3.url, s3.storage_options, cache_dir=tmp_path / "tier")
    assert not (tmp_path / "tier").exists()


@pytest.mark.parametrize("make", ["file", "link", "shared"])
def test_a_folder_others_may_write_or_a_link_is_refused(
        make: str, s3: S3Location, tmp_path: Path) -> None:
    parent = tmp_path / "tier"
    folder = Path(str(tier_folder(s3.url, s3.storage_options, parent)))
    parent.mkdir()
    outside = tmp_path / "outside"
    outside.mkdir()
    makers: dict[str, Callable[[], Any]] = {
        "file": lambda: folder.write_text("x"),
        "link": lambda: folder.symlink_to(outside),
        "shared": lambda: (folder.mkdir(), folder.chmod(0o777)),
    }
    makers[make]()
    with pytest.raises(StoreError, match="cache_dir="):
        open_store(s3.url, s3.storage_options, cache_dir=parent)
    assert list(outside.iterdir()) == []


def test_a_new_folder_is_the_users_alone(s3: S3Location, tmp_path: Path) -> None:
    store = open_store(s3.url, s3.storage_options, cache_dir=tmp_path / "a" / "b")
    assert isinstance(store, TieredStore)
    assert os.stat(store.cache.location).st_mode & 0o777 == 0o700


@pytest.fixture
def _no_env_dir(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.delenv(CACHE_DIR_VAR, raising=False)
    yield


def test_the_default_folder_is_in_the_user_cache_dir(_no_env_dir: None, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    folder = tier_folder("s3://b/x", None)
    assert folder is not None and folder.startswith(str(tmp_path / "xdg" / "pythagoras" / "tier"))
