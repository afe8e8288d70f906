"""Read buffers: a large record is read into memory that is not zeroed first (numpy's, where
numpy is loaded), and what is loaded from it is a writable view of it, as of a bytearray; a
record that shrinks while it is read comes back short (its frame then says it is torn)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from pythagoras.records.frames import dump_value, frame, load_value, read_record, unframe
from pythagoras.storage import local
from pythagoras.storage.buffers import UNZEROED, read_buffer
from pythagoras.storage.local import LocalFolderStore
from pythagoras.storage.plugins import open_store

KEY = "results/f/aa/arguments"


def test_a_large_buffer_is_numpy_s_memory_a_small_one_a_bytearray() -> None:
    large = read_buffer(UNZEROED)
    assert isinstance(large, memoryview) and isinstance(large.obj, np.ndarray)
    assert not large.readonly and large.nbytes == UNZEROED
    assert type(read_buffer(UNZEROED - 1)) is bytearray


def test_without_numpy_loaded_every_buffer_is_a_bytearray(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "numpy", None)  # as in a process that never imported it
    assert type(read_buffer(4 * UNZEROED)) is bytearray


def test_an_array_read_from_a_folder_is_a_writable_view_of_the_buffer_read(tmp_path: Path) -> None:
    store = LocalFolderStore(tmp_path)
    array = np.arange(1 << 17, dtype=np.float64)  # 1 MiB
    store.write(KEY, frame(b"R", dump_value({"a": array})))
    data = store.read(KEY)
    assert isinstance(data, memoryview)
    loaded = load_value(unframe(data, b"R"))["a"]
    assert np.array_equal(loaded, array)
    assert np.shares_memory(loaded, np.asarray(data.obj))  # no copy was made
    loaded[0] = -1.0  # writable, as a bytearray's view is
    value = read_record(store, KEY, b"R")["a"]
    assert value[0] == 0.0 and value.flags.writeable and not value.flags.owndata


def test_a_signed_large_record_reads_back_without_its_signature(tmp_path: Path) -> None:
    store = open_store(str(tmp_path), None, secret=b"s" * 32)
    array = np.ones(1 << 17)
    store.write(KEY, frame(b"R", dump_value(array)))
    assert np.array_equal(read_record(store, KEY, b"R"), array)


@pytest.mark.parametrize("size", [100, 4 * UNZEROED])
def test_a_record_that_shrinks_while_it_is_read_comes_back_short(
        tmp_path: Path, size: int, monkeypatch: pytest.MonkeyPatch) -> None:
    store = LocalFolderStore(tmp_path)
    store.write(KEY, bytes(range(256)) * (size // 256) + b"x" * (size % 256))
    reads = iter([size // 2, 0])  # half, then the end of a file cut short meanwhile

    def short(fd: int, buffer: bytearray | memoryview) -> int:
        got = next(reads)
        buffer[:got] = b"\1" * got
        return got

    monkeypatch.setattr(local, "_readinto", short)
    data = store.read(KEY)
    assert data is not None and bytes(data) == b"\1" * (size // 2)
