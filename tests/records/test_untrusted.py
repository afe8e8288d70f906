"""The allow-list unpickler (``pythagoras/records/untrusted.py``) finds only what it allows.

Each way a pickle can name a callable (``GLOBAL`` of protocol 0, ``STACK_GLOBAL``, ``INST``,
the extension registry, a value of code holding another pickle) is tried with a callable that
would leave a mark; none may run, with or without stand-ins.
"""

from __future__ import annotations

import copyreg
import os
import pickle
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from pythagoras.errors import PeersDied
from pythagoras.identity.address import CallAddress
from pythagoras.records.frames import dump_value, load_code_of
from pythagoras.records.untrusted import RecordUnpickler, RefusedRecord, StandIn, load_untrusted
from pythagoras.swarm.protocol import Claim

STRICT = RecordUnpickler.allowing({("pythagoras.swarm.protocol", "Claim"): Claim}, stand_ins=False)
LENIENT = RecordUnpickler.allowing({}, stand_ins=True)


class Mark:
    """Pickles as a call of ``os.mkdir(path)``: loading it leaves a folder."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self) -> tuple[Any, tuple[str]]:
        return os.mkdir, (str(self.path),)


def raw(stream: bytes) -> bytes:
    """``dump_value``'s layout around a pickle stream: no buffers, the stream's length."""
    return (0).to_bytes(4, "little") + len(stream).to_bytes(8, "little") + stream


def payload(value: Any, protocol: int = 5) -> bytes:
    return raw(pickle.dumps(value, protocol=protocol))


@pytest.mark.parametrize("unpickler", [STRICT, LENIENT])
@pytest.mark.parametrize("protocol", [0, 2, 5])
def test_a_named_callable_never_runs(tmp_path: Path, unpickler: type[RecordUnpickler],
                                     protocol: int) -> None:
    mark = tmp_path / "mark"
    try:
        value = load_untrusted(payload([Mark(mark)], protocol), unpickler)
    except RefusedRecord:
        assert not unpickler.stand_ins
    else:
        assert unpickler.stand_ins and isinstance(value[0], StandIn)
    assert not mark.exists()


def test_inst_and_the_extension_registry_pass_the_same_gate(tmp_path: Path) -> None:
    mark = tmp_path / "mark"
    inst = f"(S'{mark}'\nios\nmkdir\n.".encode()  # protocol 0's INST: os.mkdir(mark)
    code = 0x7FFF_FF00
    text = str(mark).encode()
    # EXT4 <code> ("os", "mkdir" in the registry), then (mark,) and REDUCE.
    extension = (b"\x80\x02\x84" + code.to_bytes(4, "little") + b"X"
                 + len(text).to_bytes(4, "little") + text + b"\x85R.")
    copyreg.add_extension("os", "mkdir", code)
    try:
        for stream in (inst, extension):
            with pytest.raises(RefusedRecord):
                load_untrusted(raw(stream), STRICT)
            load_untrusted(raw(stream), LENIENT)
    finally:
        copyreg.remove_extension("os", "mkdir", code)
    assert not mark.exists()


class CodeOf:
    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def __reduce__(self) -> tuple[Any, tuple[str, bytes]]:
        return load_code_of, ("3.0", pickle.dumps(self.inner, protocol=5))


def test_a_value_of_code_is_read_inside_by_the_same_rules(tmp_path: Path) -> None:
    mark = tmp_path / "mark"
    with pytest.raises(RefusedRecord):
        load_untrusted(payload(CodeOf(Mark(mark))), STRICT)
    assert isinstance(load_untrusted(payload(CodeOf(Mark(mark))), LENIENT), StandIn)
    assert load_untrusted(payload(CodeOf(("plain", 1))), STRICT) == ("plain", 1)
    assert not mark.exists()


@pytest.mark.parametrize("name", ["eval", "exec", "getattr", "__import__", "open", "setattr",
                                  "compile", "breakpoint", "type", "object", "range"])
def test_builtins_allowed_are_exceptions_and_data_only(name: str) -> None:
    # STACK_GLOBAL of builtins.<name>
    data = raw(b"\x80\x04\x8c\x08builtins\x94\x8c" + bytes([len(name)]) + name.encode()
               + b"\x94\x93\x94.")
    with pytest.raises(RefusedRecord):
        load_untrusted(data, STRICT)
    assert isinstance(load_untrusted(data, LENIENT), type) and \
        issubclass(load_untrusted(data, LENIENT), StandIn)


def test_records_and_errors_load_as_themselves() -> None:
    claim = Claim(CallAddress("a" * 32, "b" * 32), "host-1-abcdef", attempt=2)
    assert load_untrusted(dump_value(claim, plain=True), STRICT) == claim
    errors = [ValueError("x"), OSError(13, "Permission denied"), PeersDied("died 3 times"),
              {1, 2}, frozenset({3}), complex(1, 2)]
    loaded = load_untrusted(dump_value(errors), STRICT)
    assert [type(e) for e in loaded] == [type(e) for e in errors]
    assert loaded[1].errno == 13 and str(loaded[2]) == "died 3 times"


def test_an_old_module_name_is_allowed_where_it_moved() -> None:
    claim = Claim(CallAddress("a" * 32, "b" * 32), "host-1-abcdef")
    stream = pickle.dumps(claim, protocol=2).replace(b"pythagoras.swarm.protocol",
                                                     b"pythagoras.protocol")
    assert load_untrusted(raw(stream), STRICT) == claim


class SetOf:
    """Pickles as ``kind(range(stop))``: a set built from a range costs memory for each of its
    items, and a 64-byte record can name a range of 2**62."""

    def __init__(self, kind: type, stop: int) -> None:
        self.kind, self.stop = kind, stop

    def __reduce__(self) -> tuple[Any, tuple[range]]:
        return self.kind, (range(self.stop),)


@pytest.mark.parametrize("kind", [set, frozenset])
def test_no_record_builds_a_set_of_a_range(kind: type) -> None:
    """A range is not loaded (no record holds one), so no set can be made as large as an
    attacker names: ``status`` ran out of memory on a 99-byte claim of ``set(range(2**40))``."""
    with pytest.raises(RefusedRecord, match=r"\.range"):
        load_untrusted(payload(SetOf(kind, 3)), STRICT)
    with pytest.raises(TypeError, match="not iterable"):  # a stand-in holds no items
        load_untrusted(payload(SetOf(kind, 2**62)), LENIENT)


TBLIB_PICKLER = """
import pickle, sys
import tblib.pickling_support
tblib.pickling_support.install()
class Kept(ValueError):
    def __init__(self, message):
        super().__init__(message)
        self.detail = "kept"
try:
    try:
        1 / 0
    except ZeroDivisionError as cause:
        raise ValueError("bad value") from cause
except ValueError as e:
    first = e
second = Kept("with attributes")
sys.stdout.buffer.write(pickle.dumps([first, second]))
"""


def test_exceptions_pickled_by_tblib_load_without_it(tmp_path: Path) -> None:
    # dask's distributed installs tblib's pickling support in every process that imports it:
    # a failure written there names tblib's functions, which status must read all the same.
    pytest.importorskip("tblib")
    done = subprocess.run([sys.executable, "-c", TBLIB_PICKLER], capture_output=True,
                          timeout=60, check=True)
    assert b"tblib" in done.stdout
    first, second = load_untrusted(raw(done.stdout), LENIENT)
    assert type(first) is ValueError and str(first) == "bad value"
    assert isinstance(second, StandIn) and second.detail == "kept"
    with pytest.raises(RefusedRecord):  # classes no record of its kind holds (Frame, Kept)
        load_untrusted(raw(done.stdout), STRICT)
