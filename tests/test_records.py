"""Frames: intact records round-trip, anything else is CorruptRecord, reported once."""

from __future__ import annotations

import logging

import pytest

from pythagoras.errors import CorruptRecord
from pythagoras.identity.address import CallAddress
from pythagoras.records import HEADER_SIZE, dump_value, frame, load_value, unframe
from pythagoras.results import MISSING, ResultCache
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
    cache = ResultCache(store)
    address = CallAddress("f" * 32, "a" * 32)
    cache.publish(address, 484)
    assert cache.lookup(address) == 484
    store.write(address.result_key, frame(b"R", dump_value(484))[:-3])
    with caplog.at_level(logging.WARNING, logger="pythagoras"):
        assert cache.lookup(address) is MISSING
        assert not cache.contains(address)
        assert cache.lookup(address) is MISSING
    reports = [r for r in caplog.records if "corrupt record" in r.getMessage()]
    assert len(reports) == 1
    assert address.result_key in reports[0].getMessage()
