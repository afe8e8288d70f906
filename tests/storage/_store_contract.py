"""The store contract as a reusable suite: every store must pass :class:`StoreContract`.

A test module subclasses it and provides a ``store`` fixture that yields a fresh, empty store
(as fsspec's ``tests/abstract`` does for file systems)::

    class TestMyStore(StoreContract):
        @pytest.fixture
        def store(self, tmp_path):
            return MyStore(tmp_path)

Only the public methods of :class:`pythagoras.storage.base.Store` are used here.
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable

import pytest

from pythagoras.storage.base import Store, max_record_bytes

#: Only a deadlock reaches this: threads that should take milliseconds are given this long.
TIMEOUT = 30.0

ONE_MIB = random.Random(0).randbytes(1 << 20)

INVALID_KEYS = ["", "../x", "a//b", "/abs", ".hidden", "a/", "a/../../x", "a/.hidden"]
# A list prefix may be empty or end in "/" (a whole directory), but is otherwise held to the
# key rules: no valid key starts with any of these.
INVALID_PREFIXES = ["../x", "a//b", "/abs", ".hidden", "a/.hidden", "//"]

KEY_METHODS: dict[str, Callable[[Store, str], object]] = {
    "read": lambda s, k: s.read(k),
    "write": lambda s, k: s.write(k, b"data"),
    "create": lambda s, k: s.create(k, b"data"),
    "delete": lambda s, k: s.delete(k),
    "age": lambda s, k: s.age(k),
    "exists": lambda s, k: s.exists(k),
    "size": lambda s, k: s.size(k),
    "move": lambda s, k: s.move(k, "elsewhere"),
}


def run_threads(targets: list[Callable[[], None]]) -> None:
    """Run each target in its own thread; re-raise the first exception any of them raised."""
    errors: list[BaseException] = []

    def guarded(target: Callable[[], None]) -> None:
        try:
            target()
        except BaseException as e:  # noqa: BLE001 - handed to the test thread below
            errors.append(e)

    threads = [threading.Thread(target=guarded, args=(t,), daemon=True) for t in targets]
    for t in threads:
        t.start()
    for t in threads:
        t.join(TIMEOUT)
        assert not t.is_alive(), f"a store call did not return within {TIMEOUT} s"
    if errors:
        raise errors[0]


class StoreContract:
    """Conformance tests for :class:`~pythagoras.storage.base.Store`; needs a ``store`` fixture."""

    # -- read and write ----------------------------------------------------------------------

    def test_read_of_absent_key_is_none(self, store: Store) -> None:
        assert store.read("absent") is None
        assert store.read("no/such/nested/key") is None

    def test_read_below_a_key_that_holds_bytes_is_none(self, store: Store) -> None:
        store.write("a", b"x")
        assert store.read("a/b") is None
        assert store.age("a/b") is None
        assert not store.exists("a/b")
        assert store.delete("a/b") is False

    @pytest.mark.parametrize(
        "data",
        [b"x", b"", bytes(range(256)), b"\x00" * 17, ONE_MIB],
        ids=["one-byte", "empty", "all-byte-values", "nul-bytes", "1MiB"],
    )
    def test_write_then_read_round_trips(self, store: Store, data: bytes) -> None:
        store.write("k", data)
        assert store.read("k") == data
        store.write("results/ab/cd/abcdef", data)
        assert store.read("results/ab/cd/abcdef") == data

    def test_key_characters(self, store: Store) -> None:
        key = "A_z0/x.y=1+2-3/_9"
        store.write(key, b"v")
        assert store.read(key) == b"v"
        assert list(store.list("")) == [key]

    def test_write_keeps_a_copy_of_the_callers_buffer(self, store: Store) -> None:
        buffer = bytearray(b"before")
        store.write("k", buffer)  # type: ignore[arg-type]
        assert store.create("c", buffer) is True  # type: ignore[arg-type]
        buffer[:] = b"AFTER!"
        assert store.read("k") == b"before"
        assert store.read("c") == b"before"

    def test_overwrite_replaces_the_whole_value(self, store: Store) -> None:
        store.write("k", b"a long first value")
        store.write("k", b"short")
        assert store.read("k") == b"short"
        store.write("k", b"")
        assert store.read("k") == b""
        store.write("k", ONE_MIB)
        assert store.read("k") == ONE_MIB

    def test_readers_see_old_or_new_value_whole_during_overwrites(self, store: Store) -> None:
        # Values of different sizes, so that a torn read shows up as neither.
        old, new = b"o" * 10_000, b"N" * 70_000
        store.write("k", old)
        stop = threading.Event()
        writes = [0]

        def writer() -> None:
            while not stop.is_set():
                store.write("k", new if writes[0] % 2 == 0 else old)
                writes[0] += 1

        def reader() -> None:
            try:
                for _ in range(300):
                    data = store.read("k")
                    assert data in (old, new), f"torn read: {len(data or b'')} bytes"
            finally:
                stop.set()

        run_threads([writer, reader])
        assert writes[0] > 0
        assert store.read("k") in (old, new)

    # -- create ------------------------------------------------------------------------------

    def test_create_succeeds_once_and_never_overwrites(self, store: Store) -> None:
        assert store.create("claims/c", b"first") is True
        assert store.create("claims/c", b"second") is False
        assert store.read("claims/c") == b"first"

    def test_create_of_empty_and_large_values(self, store: Store) -> None:
        assert store.create("empty", b"") is True
        assert store.read("empty") == b""
        assert store.create("big", ONE_MIB) is True
        assert store.read("big") == ONE_MIB

    def test_create_over_a_written_key_fails(self, store: Store) -> None:
        store.write("k", b"written")
        assert store.create("k", b"created") is False
        assert store.read("k") == b"written"

    def test_create_after_delete_succeeds(self, store: Store) -> None:
        assert store.create("k", b"1") is True
        assert store.delete("k") is True
        assert store.create("k", b"2") is True
        assert store.read("k") == b"2"

    @pytest.mark.parametrize("create", ["create", "create_small"])
    def test_concurrent_creates_from_threads_exactly_one_wins(self, store: Store, create: str) -> None:
        if not store.atomic_create:
            pytest.skip(f"{type(store).__name__}.create is advisory (atomic_create is False)")
        n_threads, rounds = 8, 25
        barrier = threading.Barrier(n_threads, timeout=TIMEOUT)
        wins: list[list[int]] = [[] for _ in range(rounds)]

        def contender(i: int) -> Callable[[], None]:
            def run() -> None:
                for r in range(rounds):
                    barrier.wait()
                    if getattr(store, create)(f"claims/r{r}", f"thread-{i}".encode()):
                        wins[r].append(i)  # list.append is atomic under the GIL

            return run

        run_threads([contender(i) for i in range(n_threads)])
        for r, winners in enumerate(wins):
            assert len(winners) == 1, f"round {r}: winners {winners}"
            assert store.read(f"claims/r{r}") == f"thread-{winners[0]}".encode()

    def test_create_small_succeeds_once_and_never_overwrites(self, store: Store) -> None:
        assert store.create_small("claims/f.a", b"first") is True  # its folder is new
        assert store.create_small("claims/f.a", b"second") is False
        assert store.create("claims/f.a", b"third") is False
        assert store.read("claims/f.a") == b"first"
        store.write("claims/f.b", b"written")
        assert store.create_small("claims/f.b", b"created") is False
        assert store.read("claims/f.b") == b"written"
        assert store.create_small("big", ONE_MIB) is True  # a large one works, as create
        assert store.read("big") == ONE_MIB

    # -- delete ------------------------------------------------------------------------------

    def test_delete_reports_whether_the_key_existed(self, store: Store) -> None:
        assert store.delete("k") is False
        store.write("k", b"v")
        assert store.delete("k") is True
        assert store.read("k") is None
        assert store.delete("k") is False

    def test_delete_removes_only_its_key(self, store: Store) -> None:
        for key in ["a/k", "a/k2", "a/kk/x", "k"]:
            store.write(key, b"v")
        assert store.delete("a/k") is True
        assert sorted(store.list("")) == ["a/k2", "a/kk/x", "k"]

    # -- keys that are only directories ------------------------------------------------------

    def test_key_that_is_only_a_prefix_of_other_keys_is_absent(self, store: Store) -> None:
        # A folder store keeps "a/b" as a file in a directory "a"; "a" itself holds no bytes.
        store.write("a/b", b"v")
        assert store.read("a") is None
        assert store.age("a") is None
        assert store.exists("a") is False
        assert store.delete("a") is False
        assert store.read("a/b") == b"v"

    # -- list --------------------------------------------------------------------------------

    KEYS = [
        "k",
        "key",
        "results/f1/ab/abcdef",
        "results/f1/ab/abxyz",
        "results/f1/cd/cdef",
        "results/f2/ab/ab00",
        "resultsX",
        "other/x",
    ]

    @pytest.fixture
    def filled(self, store: Store) -> Store:
        for key in self.KEYS:
            store.write(key, key.encode())
        return store

    @pytest.mark.parametrize(
        "prefix",
        [
            "",
            "k",
            "ke",
            "key",
            "results",
            "results/",
            "res",
            "results/f1",
            "results/f1/",
            "results/f1/a",
            "results/f1/ab/",
            "results/f1/ab/abx",
            "results/f1/ab/abcdef",
            "results/f3",
            "nothing",
            "other/x/deeper",
            "k/",
        ],
    )
    def test_list_by_prefix(self, filled: Store, prefix: str) -> None:
        listed = list(filled.list(prefix))
        assert len(listed) == len(set(listed)), f"duplicates in {listed}"
        assert sorted(listed) == sorted(k for k in self.KEYS if k.startswith(prefix))

    def test_list_of_empty_store_is_empty(self, store: Store) -> None:
        assert list(store.list("")) == []
        assert list(store.list("results/")) == []

    def test_list_follows_writes_and_deletes(self, store: Store) -> None:
        store.write("a/b", b"1")
        store.create("a/c", b"2")
        assert sorted(store.list("a/")) == ["a/b", "a/c"]
        store.delete("a/b")
        assert list(store.list("a/")) == ["a/c"]

    @pytest.mark.parametrize("name", ["k.tmp-host-1-abcd", "k.sync-conflict-20240101-xyz"])
    def test_debris_named_keys_are_not_listed(self, store: Store, name: str) -> None:
        # Such names are what a crashed writer or a sync service leaves beside a record. A store
        # may refuse to write them (ValueError); if it takes them, list must not show them.
        store.write("d/k", b"real")
        for key in (name, f"d/{name}"):
            try:
                store.write(key, b"debris")
            except ValueError:
                continue
        assert sorted(store.list("")) == ["d/k"]
        assert list(store.list("d/k")) == ["d/k"]
        assert store.read("d/k") == b"real"

    def test_list_never_shows_temp_files_while_writing(self, store: Store) -> None:
        keys = {f"w/k{i}" for i in range(4)} | {f"w/sub/k{i}" for i in range(4)}
        done = threading.Event()
        foreign: set[str] = set()

        def writer() -> None:
            try:
                for _ in range(40):
                    for key in sorted(keys):
                        store.write(key, b"x" * 4096)
            finally:
                done.set()

        def lister() -> None:
            while not done.is_set():
                foreign.update(set(store.list("w/")) - keys)

        run_threads([writer, lister])
        assert not foreign, f"listed names that are not keys: {sorted(foreign)[:5]}"
        assert set(store.list("")) == keys

    # -- age and exists ----------------------------------------------------------------------

    def test_age_of_absent_key_is_none(self, store: Store) -> None:
        assert store.age("absent") is None
        assert store.age("no/such/key") is None

    def test_age_after_write_is_small_and_not_negative(self, store: Store) -> None:
        store.write("k", b"v")
        age = store.age("k")
        assert age is not None
        assert 0.0 <= age < 5.0
        assert store.create("c", b"v") is True
        age = store.age("c")
        assert age is not None
        assert 0.0 <= age < 5.0

    def test_age_is_none_after_delete(self, store: Store) -> None:
        store.write("k", b"v")
        store.delete("k")
        assert store.age("k") is None

    def test_exists(self, store: Store) -> None:
        assert store.exists("k") is False
        store.write("k", b"")
        assert store.exists("k") is True  # an empty value is still a value
        assert store.exists("k/below") is False
        store.delete("k")
        assert store.exists("k") is False

    def test_size(self, store: Store) -> None:
        assert store.size("k") is None
        store.write("k", b"")
        assert store.size("k") == 0  # an empty value is still a value
        store.write("k", ONE_MIB)
        assert store.size("k") == len(ONE_MIB)
        assert store.create("c", b"abc") is True
        assert store.size("c") == 3
        store.write("a/b", b"v")
        assert store.size("a") is None  # only a prefix of another key
        store.delete("k")
        assert store.size("k") is None

    # -- scan and bulk delete ----------------------------------------------------------------

    def test_scan_gives_each_listed_key_with_its_size_and_age(self, store: Store) -> None:
        store.write("a/x", b"abc")
        store.write("a/b/y", ONE_MIB)
        store.write("ab", b"")
        store.write("c/z", b"z")
        for prefix in ("", "a", "a/", "a/b/", "c/", "none/"):
            scanned = {key: (size, age) for key, size, age in store.scan(prefix)}
            assert sorted(scanned) == sorted(store.list(prefix))
            for key, (size, age) in scanned.items():
                assert size == store.size(key)
                assert 0.0 <= age < 60.0
        assert {key: size for key, size, _ in store.scan("a/")} == {"a/x": 3, "a/b/y": len(ONE_MIB)}

    @pytest.mark.parametrize("prefix", INVALID_PREFIXES)
    def test_invalid_prefix_raises_value_error_on_scan(self, store: Store, prefix: str) -> None:
        with pytest.raises(ValueError):
            list(store.scan(prefix))

    def test_delete_many_deletes_those_there_and_passes_over_the_others(self, store: Store) -> None:
        for key in ("a/x", "a/y", "b/z", "keep/k"):
            store.write(key, b"v")
        store.delete_many(["a/x", "absent", "b/z", "no/such/key", "a/y"])
        assert sorted(store.list("")) == ["keep/k"]
        store.delete_many([])
        assert store.read("keep/k") == b"v"
        with pytest.raises(ValueError):
            store.delete_many(["../escape"])

    # -- move ------------------------------------------------------------------------------

    def test_move_renames_a_record_and_replaces_what_is_there(self, store: Store) -> None:
        store.write("results/f/ab/x", ONE_MIB)
        assert store.move("results/f/ab/x", "quarantine/results/f/ab/x.1") is True
        assert store.read("results/f/ab/x") is None
        assert store.read("quarantine/results/f/ab/x.1") == ONE_MIB
        store.write("k", b"new")
        assert store.move("k", "quarantine/results/f/ab/x.1", private=True) is True
        assert store.read("quarantine/results/f/ab/x.1") == b"new"
        assert sorted(store.list("")) == ["quarantine/results/f/ab/x.1"]

    def test_move_of_an_absent_key_or_a_prefix_moves_nothing(self, store: Store) -> None:
        store.write("a/b", b"v")
        assert store.move("absent", "elsewhere") is False
        assert store.move("a", "elsewhere") is False  # only a prefix of "a/b"
        assert sorted(store.list("")) == ["a/b"]
        with pytest.raises(ValueError):
            store.move("a/b", "../escape")
        assert store.read("a/b") == b"v"

    # -- size limits -------------------------------------------------------------------------

    def test_a_record_over_its_kinds_limit_reads_as_absent_and_stays(
            self, store: Store, caplog: pytest.LogCaptureFixture) -> None:
        small = store.limit_of("claims/f.a")
        assert small == 64 * 1024 and store.limit_of("peers/p") == small
        assert store.limit_of("results/f/ab/x") == store.max_record_bytes >= 2**32
        store.write("claims/f.a", b"c" * (small - 100))  # a wrapper may add bytes of its own
        assert store.read("claims/f.a") == b"c" * (small - 100)
        store.write("claims/f.b", b"c" * (small + 1))
        with caplog.at_level(logging.WARNING, logger="pythagoras"):
            assert store.read("claims/f.b") is None
        assert "refused the record claims/f.b" in caplog.text and str(small) in caplog.text
        assert store.size("claims/f.b") is not None  # left where it is, for status to count
        store.write("results/f/ab/x", ONE_MIB)  # a large kind: read whole
        assert store.read("results/f/ab/x") == ONE_MIB

    def test_the_large_limit_comes_from_the_environment(
            self, store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("PYTHAGORAS_MAX_RECORD_BYTES", "1000")
        assert max_record_bytes() == 1000
        for opened_now in {store, store.backing}:  # as a store opened now takes it
            opened_now.max_record_bytes = max_record_bytes()
        store.write("results/f/ab/x", b"r" * 1001)
        store.write("results/f/ab/y", b"r" * 900)
        assert store.read("results/f/ab/x") is None
        assert store.read("results/f/ab/y") == b"r" * 900
        for bad in ("lots", "-1", "0"):
            monkeypatch.setenv("PYTHAGORAS_MAX_RECORD_BYTES", bad)
            with pytest.raises(ValueError, match="PYTHAGORAS_MAX_RECORD_BYTES"):
                max_record_bytes()

    # -- invalid keys ------------------------------------------------------------------------

    @pytest.mark.parametrize("method", sorted(KEY_METHODS))
    @pytest.mark.parametrize("key", INVALID_KEYS)
    def test_invalid_key_raises_value_error(self, store: Store, key: str, method: str) -> None:
        with pytest.raises(ValueError):
            KEY_METHODS[method](store, key)
        assert list(store.list("")) == []  # and nothing was written anywhere

    @pytest.mark.parametrize("prefix", INVALID_PREFIXES)
    def test_invalid_prefix_raises_value_error_on_list(self, store: Store, prefix: str) -> None:
        # "/abs" must not quietly list the keys under "abs/": none of them starts with "/abs".
        store.write("abs/x", b"v")
        store.write("a/b", b"v")
        with pytest.raises(ValueError):
            list(store.list(prefix))
