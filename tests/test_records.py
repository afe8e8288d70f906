"""Frames: intact records round-trip, anything else is CorruptRecord, reported once."""

from __future__ import annotations

import logging

import pytest

from pythagoras.errors import CorruptRecord
from pythagoras.identity.address import CallAddress
from pythagoras.records.frames import HEADER_SIZE, dump_value, frame, load_value, unframe
from pythagoras.records.results import MISSING, ResultCache
from pythagoras.storage.memory import MemoryStore
from pythagoras.records.keys import result_key

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
    cache = ResultCache(store)
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
