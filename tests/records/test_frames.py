"""Frames: intact records round-trip, anything else is CorruptRecord, reported once."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from pythagoras.errors import CorruptRecord, ForeignCode
from pythagoras.identity.address import CallAddress
from pythagoras.records import frames
from pythagoras.records.frames import HEADER_SIZE, dump_value, frame, load_value, unframe
from pythagoras.records.keys import result_key
from pythagoras.records.results import MISSING, ResultRecords
from pythagoras.storage.memory import MemoryStore

PAYLOAD = dump_value({"answer": 42, "list": list(range(100))})


def test_round_trip() -> None:
    assert load_value(unframe(frame(b"R", PAYLOAD), b"R")) == {"answer": 42, "list": list(range(100))}


def test_empty_payload_round_trips() -> None:
    assert bytes(unframe(frame(b"R", b""), b"R")) == b""


@pytest.mark.parametrize("cut", [0, 1, HEADER_SIZE - 1, HEADER_SIZE, HEADER_SIZE + 5, -1])
def test_truncated_frame_is_corrupt(cut: int) -> None:
    data = frame(b"R", PAYLOAD)
    with pytest.raises(CorruptRecord):
        unframe(data[:cut], b"R")


def test_appended_bytes_are_corrupt() -> None:
    with pytest.raises(CorruptRecord):
        unframe(frame(b"R", PAYLOAD) + b"\0", b"R")


@pytest.mark.parametrize("offset", [0, 4, HEADER_SIZE + 3, -1])
def test_flipped_byte_is_corrupt(offset: int) -> None:
    data = bytearray(frame(b"R", PAYLOAD))
    data[offset] ^= 0x01
    with pytest.raises(CorruptRecord):
        unframe(bytes(data), b"R")


def test_other_kind_is_refused() -> None:
    with pytest.raises(CorruptRecord, match="kind"):
        unframe(frame(b"Q", PAYLOAD), b"R")


def test_garbage_is_corrupt() -> None:
    with pytest.raises(CorruptRecord):
        unframe(b"this is not a pythagoras record at all", b"R")


def test_corrupt_result_reads_as_missing_and_is_reported_once(caplog: pytest.LogCaptureFixture) -> None:
    store = MemoryStore("reported-once")
    cache = ResultRecords(store)
    address = CallAddress("f" * 32, "a" * 32)
    cache.publish(address, 484)
    assert cache.lookup(address) == 484
    store.write(result_key(address), frame(b"R", dump_value(484))[:-3])
    with caplog.at_level(logging.WARNING, logger="pythagoras"):
        assert cache.lookup(address) is MISSING
        assert not cache.contains(address)
        assert cache.lookup(address) is MISSING
    reports = [r for r in caplog.records if "corrupt record" in r.getMessage()]
    assert len(reports) == 1
    assert result_key(address) in reports[0].getMessage()


def test_arrays_travel_out_of_band_and_load_writable_without_a_copy() -> None:
    np = pytest.importorskip("numpy")
    value = {
        "c": np.arange(1000, dtype=np.float64),
        "f": np.asfortranarray(np.arange(12, dtype=np.int32).reshape(3, 4)),
        "strided": np.arange(20)[::3],
        "text": "not an array",
    }
    record = bytearray(frame(b"R", dump_value(value)))
    loaded = load_value(unframe(record, b"R"))
    assert loaded.keys() == value.keys() and loaded["text"] == "not an array"
    for name in ("c", "f", "strided"):
        assert loaded[name].dtype == value[name].dtype
        np.testing.assert_array_equal(loaded[name], value[name])
    assert loaded["f"].flags.f_contiguous
    offset = _offset_of(record, value["c"])
    assert offset % 64 == 0  # aligned from the start of the record
    loaded["c"][0] = -1.0  # writable, and a view into the record's bytearray: no copy was made
    assert np.frombuffer(record, dtype=np.float64, count=1, offset=offset)[0] == -1.0


def _offset_of(record: bytearray, array: object) -> int:
    """Where an array's bytes start inside a record (they are laid out verbatim)."""
    return bytes(record).index(memoryview(array).tobytes())  # type: ignore[arg-type]


def test_value_layout_that_overruns_its_payload_is_corrupt() -> None:
    with pytest.raises(CorruptRecord):
        load_value(dump_value(list(range(10)))[:-1])
    with pytest.raises(CorruptRecord):
        load_value(b"\x01")


# -- values that hold code by value ----------------------------------------------------------

def _by_value_class() -> type:
    class Point:  # a local class: cloudpickle pickles it by value, with its methods' bytecode
        def __init__(self, x: int) -> None:
            self.x = x

        def twice(self) -> int:
            return 2 * self.x

    return Point


def test_a_value_holding_code_loads_under_the_python_that_pickled_it() -> None:
    point = load_value(dump_value(_by_value_class()(21)))
    assert point.twice() == 42
    assert load_value(dump_value(lambda x: x + 1))(1) == 2


@pytest.mark.parametrize("value", [lambda x: x + 1, [1, {"p": None}], "code"],
                         ids=["lambda", "nested", "str"])
def test_another_pythons_code_is_refused_never_run(value: object, monkeypatch: pytest.MonkeyPatch) -> None:
    # As a record pickled by Python 3.99 reads here: bytecode of another version may load and
    # then give a wrong value, a SystemError or a crash when it runs.
    if isinstance(value, list):
        value[1]["p"] = _by_value_class()(1)
    monkeypatch.setattr(frames, "PYTHON", "3.99")
    data = dump_value(value)
    monkeypatch.undo()
    if value == "code":  # no code in it: every Python loads it
        assert load_value(data) == "code"
        return
    with pytest.raises(ForeignCode, match="code pickled by Python 3.99") as refused:
        load_value(data)
    assert isinstance(refused.value, LookupError) and refused.value.python == "3.99"


def test_values_without_code_are_not_wrapped(monkeypatch: pytest.MonkeyPatch) -> None:
    array = np.arange(6.0)
    monkeypatch.setattr(frames, "PYTHON", "3.99")
    data = dump_value({"a": array, "f": np.sqrt})  # a function of an installed module: by name
    monkeypatch.undo()
    loaded = load_value(bytearray(data))
    assert (loaded["a"] == array).all() and loaded["f"] is np.sqrt
    assert b"load_code_of" not in data and loaded["a"].flags.writeable  # out of band, as ever


def test_a_value_holding_code_and_arrays_loads_whole(monkeypatch: pytest.MonkeyPatch) -> None:
    value = {"f": lambda x: x * 2, "a": np.arange(4.0)}
    loaded = load_value(dump_value(value))
    assert loaded["f"](3) == 6 and (loaded["a"] == value["a"]).all()
    monkeypatch.setattr(frames, "PYTHON", "3.99")
    data = dump_value(value)
    monkeypatch.undo()
    with pytest.raises(ForeignCode):
        load_value(data)
