"""Memory in one process: what it stores where, what counts as one call, and joblib's API over it.

Executions are counted in the execution log; stores are real folders (``tmp_path``) except
where the age of a record matters, where an in-memory store with a fake clock stands in.
"""

from __future__ import annotations

import asyncio
import datetime
import pickle
import types
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import _memory_functions as fx
import numpy as np
import pytest

from pythagoras.errors import PurityError, StoreError
from pythagoras.identity import CallAddress, function_identity
from pythagoras.identity.calls import arguments_hash
from pythagoras.identity.values import hash_value
from pythagoras.memory import (
    AsyncMemorizedFunc,
    CacheWarning,
    MemorizedFunc,
    MemorizedResult,
    Memory,
    NotMemorizedFunc,
    NotMemorizedResult,
    UnknownBackend,
    expires_after,
    shelf,
)
from pythagoras.memory.shelf import metadata_key
from pythagoras.records.keys import result_key
from pythagoras.records.results import ResultRecords
from pythagoras.storage.local import LocalFolderStore
from pythagoras.storage.memory import MemoryStore

Executions = Callable[[], list[Any]]


def address_of(func: Callable[..., Any], *args: Any, **kwargs: Any) -> CallAddress:
    """The address every front-end gives ``func(*args, **kwargs)``."""
    return CallAddress.of(function_identity(func, strict=False), arguments_hash(func, args, kwargs))


class Clock:
    """A fake clock for a MemoryStore: records are as old as the test says."""

    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


class CountingStore(MemoryStore):
    """A MemoryStore that counts the reads of each key."""

    def __init__(self, clock: Callable[[], float] | None = None) -> None:
        super().__init__(clock=Clock() if clock is None else clock)
        self.reads: dict[str, int] = {}

    def read(self, key: str) -> bytearray | None:
        self.reads[key] = self.reads.get(key, 0) + 1
        return super().read(key)


# -- one call, one execution; one record, the swarm's -------------------------------------------


def test_a_call_is_computed_once_then_read_back(folder: Path, executions: Executions) -> None:
    square = Memory(folder, verbose=0).cache(fx.square)
    assert isinstance(square, MemorizedFunc)
    assert square(3) == 9
    assert square(3) == 9
    assert Memory(folder, verbose=0).cache(fx.square)(3) == 9  # another Memory on the folder
    assert executions() == [["square", 3]]


def test_the_record_is_the_swarms_result_at_the_calls_address(folder: Path, executions: Executions) -> None:
    Memory(folder, verbose=0).cache(fx.add)(2, y=5)
    store = LocalFolderStore(folder)
    address = address_of(fx.add, 2, 5)
    assert store.exists(result_key(address))
    assert ResultRecords(store).lookup(address) == 7
    assert list(store.list("")) == [result_key(address)]  # no metadata without a validation callback


def test_positional_keyword_and_default_arguments_are_one_call(folder: Path, executions: Executions) -> None:
    add = Memory(folder, verbose=0).cache(fx.add)
    assert add(2) == 2
    assert add(2, 0) == 2
    assert add(x=2, y=0) == 2
    assert add(y=0, x=2) == 2
    assert add(2, y=1) == 3
    assert executions() == [["add", 2, 0], ["add", 2, 1]]


def test_ignored_parameters_are_left_out_of_the_address(folder: Path, executions: Executions) -> None:
    scaled = Memory(folder, verbose=0).cache(fx.scaled, ignore=["verbose"])
    assert scaled.ignore == ["verbose"]
    assert scaled(2, factor=3, verbose=0) == 6
    assert scaled(2, factor=3, verbose=5) == 6
    assert scaled(2, factor=4, verbose=5) == 8
    assert executions() == [["scaled", 2, 3, 0], ["scaled", 2, 4, 5]]


def test_a_call_that_does_not_fit_the_signature_names_the_function(folder: Path) -> None:
    add = Memory(folder, verbose=0).cache(fx.add)
    expected = r"add\(\) cannot be called so: too many positional arguments; its signature is add\(x"
    with pytest.raises(PurityError, match=expected):
        add(1, 2, 3)
    with pytest.raises(TypeError):
        add(z=1)


def test_location_none_caches_nothing(executions: Executions) -> None:
    memory = Memory(None)
    assert memory.store_backend is None and repr(memory) == "Memory(location=None)"
    square = memory.cache(fx.square)
    assert isinstance(square, NotMemorizedFunc)
    assert square(4) == 16 and square(4) == 16
    shelved = square.call_and_shelve(4)
    assert isinstance(shelved, NotMemorizedResult) and shelved.get() == 16
    shelved.clear()
    with pytest.raises(KeyError):
        shelved.get()
    assert square.call(4) == (16, {})
    assert square.check_call_in_cache(4) is False
    assert memory.eval(fx.square, 4) == 16
    memory.clear()
    memory.reduce_size(items_limit=0)
    assert executions() == [["square", 4]] * 5


def test_decorating_with_options_first(folder: Path, executions: Executions) -> None:
    memory = Memory(folder, verbose=0)

    @memory.cache(ignore=["verbose"], verbose=3, mmap_mode="r")
    def scaled(x: int, factor: int = 1, verbose: int = 0) -> int:
        return fx.scaled(x, factor, verbose)

    assert isinstance(scaled, MemorizedFunc)
    assert (scaled.ignore, scaled._verbose, scaled.mmap_mode) == (["verbose"], 3, "r")
    assert scaled.__name__ == "scaled" and scaled.__wrapped__ is not None
    assert memory.cache(scaled).func is scaled.func  # a memoized function is not memoized twice
    assert memory.eval(fx.square, 5) == 25 and memory.eval(fx.square, 5) == 25
    assert executions() == [["square", 5]]


# -- shelving, forcing, checking -------------------------------------------------------------------


def test_call_and_shelve_reads_the_value_only_when_asked(executions: Executions) -> None:
    store = CountingStore()
    square = Memory(store, verbose=0).cache(fx.square)
    address = address_of(fx.square, 6)
    shelved = square.call_and_shelve(6)  # computed and stored; not read back
    assert isinstance(shelved, MemorizedResult)
    assert store.reads.get(result_key(address), 0) == 0
    again = square.call_and_shelve(6)  # a hit: still not read
    assert store.reads.get(result_key(address), 0) == 0
    assert again.get() == 36 and store.reads[result_key(address)] == 1
    assert (again.func_id, again.args_id) == (address.function, address.arguments)
    assert isinstance(shelved.duration, float) and again.duration is None  # no metadata record kept
    assert repr(again) == f'MemorizedResult(location="{store.location}", func="{address.function}", ' \
                          f'args_id="{address.arguments}")'


def test_a_shelved_result_travels_and_can_be_cleared(folder: Path, executions: Executions) -> None:
    square = Memory(folder, verbose=0).cache(fx.square)
    shelved = square.call_and_shelve(7)
    travelled = pickle.loads(pickle.dumps(shelved))
    assert travelled.get() == 49 and travelled.timestamp is None
    travelled.clear()
    with pytest.raises(KeyError, match="cleared or is corrupted"):
        shelved.get()
    assert square(7) == 49
    assert executions() == [["square", 7], ["square", 7]]


def test_call_computes_whatever_is_stored(folder: Path, executions: Executions) -> None:
    square = Memory(folder, verbose=0).cache(fx.square)
    assert square(8) == 64
    value, metadata = square.call(8)
    assert value == 64 and set(metadata) == {"duration", "time"}
    assert square(8) == 64
    assert executions() == [["square", 8], ["square", 8]]


def test_check_call_in_cache_computes_and_deletes_nothing(folder: Path, executions: Executions) -> None:
    square = Memory(folder, verbose=0).cache(fx.square)
    assert square.check_call_in_cache(9) is False
    square(9)
    assert square.check_call_in_cache(9) is True
    assert square.check_call_in_cache(x=9) is True
    refusing = Memory(folder, verbose=0).cache(fx.square, cache_validation_callback=lambda metadata: False)
    assert refusing.check_call_in_cache(9) is False
    assert square.check_call_in_cache(9) is True  # the refused record is still there
    LocalFolderStore(folder).write(result_key(address_of(fx.square, 9)), b"torn")
    assert square.check_call_in_cache(9) is False
    assert executions() == [["square", 9]]


# -- damaged and unstorable values --------------------------------------------------------------


def test_a_corrupt_record_is_computed_again_and_repaired(folder: Path, executions: Executions) -> None:
    square = Memory(folder, verbose=0).cache(fx.square)
    square(10)
    key = result_key(address_of(fx.square, 10))
    LocalFolderStore(folder).write(key, b"PYTG garbage")
    assert square(10) == 100
    assert square(10) == 100
    assert executions() == [["square", 10], ["square", 10]]


def test_an_unloadable_record_is_computed_again_and_kept(folder: Path, executions: Executions,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    # Another Python's record, which this one cannot load (a class it pickled by reference to a
    # module missing here): computed here at every call, and the record kept for its readers.
    square = Memory(folder, verbose=0).cache(fx.square)
    address = address_of(fx.square, 11)
    ResultRecords(LocalFolderStore(folder)).publish(address, "theirs")
    warned: list[str] = []
    monkeypatch.setattr(square, "warn", warned.append)
    real_lookup = ResultRecords.lookup

    def unloadable(self: ResultRecords, at: CallAddress) -> Any:
        if at == address:
            raise ModuleNotFoundError("No module named 'gone'")  # as if its class were not importable here
        return real_lookup(self, at)

    monkeypatch.setattr(ResultRecords, "lookup", unloadable)
    assert square(11) == 121
    assert len(warned) == 1 and "Exception while loading results for square(11)" in warned[0]
    assert square(11) == 121
    assert executions() == [["square", 11], ["square", 11]]
    assert real_lookup(ResultRecords(LocalFolderStore(folder)), address) == "theirs"


def test_a_value_that_cannot_be_stored_is_returned_with_a_warning(folder: Path,
                                                                  executions: Executions) -> None:
    a_lock = Memory(folder, verbose=0).cache(fx.a_lock)
    with pytest.warns(CacheWarning, match="could not be stored"):
        first = a_lock(1)
    with pytest.warns(CacheWarning):
        shelved = a_lock.call_and_shelve(1)
    assert isinstance(shelved, NotMemorizedResult)
    assert hasattr(first, "acquire") and hasattr(shelved.get(), "acquire")
    assert not LocalFolderStore(folder).exists(result_key(address_of(fx.a_lock, 1)))
    assert executions() == [["a_lock", 1], ["a_lock", 1]]


# -- validation callbacks: metadata, expiry -----------------------------------------------------


def test_the_callback_sees_time_and_duration_and_a_refusal_recomputes(
        executions: Executions, monkeypatch: pytest.MonkeyPatch) -> None:
    clock = Clock()
    store = MemoryStore(clock=clock)
    monkeypatch.setattr(shelf, "time", types.SimpleNamespace(time=clock))  # the reader's clock, too
    seen: list[dict[str, Any]] = []
    verdicts = iter([False, True])

    def callback(metadata: dict[str, Any]) -> bool:
        seen.append(metadata)
        return next(verdicts)

    square = Memory(store, verbose=0).cache(fx.square, cache_validation_callback=callback)
    written = clock.now
    assert square(12) == 144  # nothing stored: the callback is not asked
    clock.now += 30
    assert square(12) == 144  # refused: computed again, record replaced
    assert square(12) == 144  # accepted
    assert executions() == [["square", 12], ["square", 12]]
    # "time" is when the record was written, by the store's clock
    assert [m["time"] for m in seen] == [written, written + 30]
    assert all(sorted(m) == ["duration", "time"] and m["duration"] >= 0 for m in seen)


def test_expires_after_goes_by_the_records_age_in_the_store(executions: Executions) -> None:
    clock = Clock()
    store = MemoryStore(clock=clock)
    square = Memory(store, verbose=0).cache(fx.square, cache_validation_callback=expires_after(minutes=1))
    square(13)
    clock.now += 59
    square(13)
    assert square.check_call_in_cache(13) is True
    clock.now += 2
    assert square.check_call_in_cache(13) is False
    square(13)  # expired: computed again, which makes its record new
    square(13)
    assert executions() == [["square", 13], ["square", 13]]


def test_a_record_of_another_front_end_has_a_time_and_no_duration(folder: Path,
                                                                  executions: Executions) -> None:
    store = LocalFolderStore(folder)
    ResultRecords(store).publish(address_of(fx.square, 14), 196)
    seen: list[dict[str, Any]] = []
    square = Memory(folder, verbose=0).cache(fx.square,
                                             cache_validation_callback=lambda m: seen.append(m) or True)
    assert square(14) == 196
    assert executions() == []
    assert list(seen[0]) == ["time"]


# -- clear and reduce_size ------------------------------------------------------------------------


def test_clear_deletes_every_result_and_only_results(folder: Path, executions: Executions) -> None:
    memory = Memory(folder, verbose=0)
    square, cube = memory.cache(fx.square), memory.cache(fx.cube, cache_validation_callback=lambda m: True)
    square(2), cube(2)
    store = LocalFolderStore(folder)
    assert store.exists(metadata_key(address_of(fx.cube, 2)))
    ResultRecords(store).publish(address_of(fx.add, 1, 1), 2)  # another front-end's result
    swarm_records = ["requests/0/x.y", "claims/x.y", "failures/x/aa/y", "peers/host-1-ab", "functions/x"]
    for key in swarm_records:
        store.write(key, b"not Memory's")
    memory.clear(warn=False)
    assert sorted(store.list("")) == sorted(swarm_records)
    square(2), cube(2)
    assert executions() == [["square", 2], ["cube", 2]] * 2


def test_clearing_a_function_deletes_its_current_version_only(folder: Path, executions: Executions) -> None:
    memory = Memory(folder, verbose=0)
    keep = {"cache_validation_callback": lambda m: True}
    square, cube = memory.cache(fx.square, **keep), memory.cache(fx.cube, **keep)
    square(3), cube(3)
    square.clear(warn=False)
    store = LocalFolderStore(folder)
    cube_address = address_of(fx.cube, 3)
    assert sorted(store.list("")) == sorted([result_key(cube_address), metadata_key(cube_address)])
    square(3), cube(3)
    assert executions() == [["square", 3], ["cube", 3], ["square", 3]]


def _filled(clock: Clock, count: int = 5) -> tuple[Memory, MemorizedFunc, MemoryStore]:
    """A store with ``count`` records of 1 KiB values, written a minute apart, oldest x=0; each
    with a metadata record, since the function has a validation callback."""
    store = MemoryStore(clock=clock)
    memory = Memory(store, verbose=0)
    kilobytes = memory.cache(fx.kilobytes, cache_validation_callback=lambda metadata: True)
    assert isinstance(kilobytes, MemorizedFunc)
    for x in range(count):
        kilobytes(x)
        clock.now += 60
    return memory, kilobytes, store


def _kept(kilobytes: MemorizedFunc, count: int = 5) -> list[int]:
    return [x for x in range(count) if kilobytes.check_call_in_cache(x)]


def test_reduce_size_keeps_the_newest_records_within_items_limit(executions: Executions) -> None:
    memory, kilobytes, _ = _filled(Clock())
    memory.reduce_size()  # no limit: nothing to do
    memory.reduce_size(items_limit=5)
    assert _kept(kilobytes) == [0, 1, 2, 3, 4]
    memory.reduce_size(items_limit=2)
    assert _kept(kilobytes) == [3, 4]
    memory.reduce_size(items_limit=0)
    assert _kept(kilobytes) == []


def test_reduce_size_keeps_the_newest_records_within_bytes_limit(executions: Executions) -> None:
    memory, kilobytes, store = _filled(Clock())
    sizes = [store.size(result_key(address_of(fx.kilobytes, x))) for x in range(5)]
    assert all(size is not None and 1024 < size < 1536 for size in sizes)
    assert all(store.exists(metadata_key(address_of(fx.kilobytes, x))) for x in range(5))
    memory.reduce_size(bytes_limit="1M")
    assert _kept(kilobytes) == [0, 1, 2, 3, 4]
    memory.reduce_size(bytes_limit="4K")  # each record is over 1 KiB
    assert _kept(kilobytes) == [2, 3, 4]
    memory.reduce_size(bytes_limit=3000)
    assert _kept(kilobytes) == [3, 4]
    memory.reduce_size(bytes_limit=100)
    assert _kept(kilobytes) == []
    assert list(store.list("")) == []  # metadata went with its results


def test_reduce_size_deletes_records_older_than_age_limit(executions: Executions) -> None:
    clock = Clock()
    memory, kilobytes, _ = _filled(clock)  # ages now 300, 240, 180, 120 and 60 s
    memory.reduce_size(age_limit=datetime.timedelta(days=1))
    assert _kept(kilobytes) == [0, 1, 2, 3, 4]
    memory.reduce_size(age_limit=datetime.timedelta(minutes=2, seconds=30))
    assert _kept(kilobytes) == [3, 4]
    with pytest.raises(ValueError, match="positive"):
        memory.reduce_size(age_limit=datetime.timedelta(seconds=-1))
    memory.reduce_size(age_limit=datetime.timedelta(0))
    assert _kept(kilobytes) == []


def test_reduce_size_refuses_a_size_it_cannot_read(executions: Executions) -> None:
    memory, _, _ = _filled(Clock(), count=1)
    with pytest.raises(ValueError, match="'10X' is not a size"):
        memory.reduce_size(bytes_limit="10X")


# -- versions ---------------------------------------------------------------------------------------


def _version_one(x: int) -> int:
    return x + 1


def _version_two(x: int) -> int:
    return x + 2


def test_an_edited_function_is_a_new_function_and_the_old_records_stay(folder: Path) -> None:
    def edited(x: int) -> int:
        return x

    memory = Memory(folder, verbose=0)
    cached = memory.cache(edited)
    edited.__code__ = _version_one.__code__  # what IPython's autoreload does to an edited function
    assert cached(1) == 2
    edited.__code__ = _version_two.__code__
    assert cached(1) == 3
    edited.__code__ = _version_one.__code__
    assert cached.check_call_in_cache(1) and cached(1) == 2
    functions = {key.split("/")[1] for key in LocalFolderStore(folder).list("results/")}
    assert len(functions) == 2


# -- the objects: pickling, hashing, repr ---------------------------------------------------------


def test_memory_and_memoized_functions_pickle_as_their_location(folder: Path, executions: Executions) -> None:
    memory = Memory(folder, verbose=0)
    square = memory.cache(fx.square)
    square(15)
    travelled_memory = pickle.loads(pickle.dumps(memory))
    assert travelled_memory.store_backend is not memory.store_backend
    assert travelled_memory.store_backend.location == memory.store_backend.location
    assert travelled_memory.timestamp is None
    travelled = pickle.loads(pickle.dumps(square))
    assert travelled(15) == 225 and travelled.timestamp is None
    assert executions() == [["square", 15]]


def test_the_hash_of_a_memory_depends_on_its_settings_only(folder: Path, tmp_path: Path) -> None:
    # A Pipeline(memory=...) searched by GridSearchCV on the swarm is an argument: its hash must
    # not depend on when its Memory was made or on the store object.
    assert hash_value(Memory(folder, verbose=0)) == hash_value(Memory(folder, verbose=0))
    assert hash_value(Memory(folder, verbose=0)) != hash_value(Memory(tmp_path / "other", verbose=0))
    cached = [Memory(folder, verbose=0).cache(fx.square) for _ in range(2)]
    assert hash_value(cached[0]) == hash_value(cached[1])


def test_reprs(folder: Path) -> None:
    memory = Memory(folder, verbose=0)
    location = str(folder.resolve())
    assert repr(memory) == f"Memory(location={location})"
    assert repr(memory.cache(fx.square)) == f"MemorizedFunc(func={fx.square}, location={location})"


# -- options --------------------------------------------------------------------------------------


def test_verbose_prints_like_joblib(folder: Path, capsys: pytest.CaptureFixture[str],
                                    executions: Executions) -> None:
    square = Memory(folder).cache(fx.square)  # joblib's default verbosity, 1
    square(16)
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "_" * 80
    assert out[1] == "[Memory] Calling _memory_functions.square..."
    assert out[2] == "square(16)"
    assert out[3].endswith("square - 0.0s, 0.0min") and len(out[3]) == 80
    square(16)
    assert capsys.readouterr().out == ""
    Memory(folder, verbose=5).cache(fx.square)(16)
    loaded = capsys.readouterr().out.splitlines()
    assert loaded[0].startswith("[Memory]") and loaded[0].endswith(": Loading square...")
    assert loaded[1].endswith("square cache loaded - 0.0s, 0.0min")
    Memory(folder, verbose=0).cache(fx.square)(17)
    assert capsys.readouterr().out == ""


def test_mmap_mode_is_accepted_and_compress_warns(folder: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        memory = Memory(folder, mmap_mode="r", verbose=0)
    with pytest.warns(UserWarning, match="compress=3 has no effect"):
        Memory(folder, compress=3, verbose=0)
    double = memory.cache(lambda a: a * 2.0)
    array = np.arange(4.0)
    first, second = double(array), double(array)
    assert type(second) is np.ndarray and np.array_equal(second, first)
    second[0] = 7.0  # a loaded array is a writable view of the record read, not a memory map
    assert np.array_equal(double(array), array * 2.0)


def test_backends_and_their_options(folder: Path) -> None:
    assert Memory(folder, backend="pythagoras", verbose=0).store_backend is not None
    with pytest.raises(UnknownBackend, match="Unknown location"):
        Memory(folder, backend="s3")
    with pytest.raises(StoreError, match="takes no storage_options"):
        Memory(folder, backend_options={"anon": True})
    with pytest.raises(StoreError, match="takes no storage_options"):
        Memory(folder, storage_options={"anon": True})
    with pytest.raises(TypeError, match="not both"):
        Memory(folder, backend_options={"a": 1}, storage_options={"a": 1})
    with pytest.raises(ValueError, match="needs to be callable"):
        Memory(folder).cache(fx.square, cache_validation_callback=True)  # type: ignore[arg-type]


def test_a_local_folder_is_kept_out_of_git(folder: Path) -> None:
    Memory(folder, verbose=0)
    gitignore = folder / ".gitignore"
    assert gitignore.read_text().endswith("\n*\n")
    gitignore.write_text("mine\n")
    Memory(folder, verbose=0)
    assert gitignore.read_text() == "mine\n"
    assert list(LocalFolderStore(folder).list("")) == []  # not a record


def test_a_coroutine_function_is_awaited_only_on_a_miss(folder: Path, executions: Executions) -> None:
    memory = Memory(folder, verbose=0)
    slow_double = memory.cache(fx.slow_double)
    assert isinstance(slow_double, AsyncMemorizedFunc)

    async def twice() -> list[Any]:
        return [await slow_double(21), await slow_double(21), (await slow_double.call_and_shelve(21)).get()]

    assert asyncio.run(twice()) == [42, 42, 42]
    assert executions() == [["slow_double", 21]]
    assert asyncio.run(Memory(None).cache(fx.slow_double)(1)) == 2
