"""A swarm secret: every record signed, and an unsigned, foreign, replayed or altered record
refused (never loaded, never run), moved to ``quarantine/`` and reported by ``status``.

The attacker here is a process of the swarm's location without the secret (or with another):
it can write any record under any name. Nothing it writes may reach a caller or a worker.
"""

from __future__ import annotations

import logging
import os
import stat
import time
import warnings
from pathlib import Path

import pytest
from _store_contract import StoreContract

from pythagoras import Memory, PythagorasExecutor, SharedStorage_P2P_Cloud, kw_args
from pythagoras.cli.status import status
from pythagoras.identity.address import CallAddress
from pythagoras.records.frames import MISSING, read_record
from pythagoras.storage.local import LocalFolderStore
from pythagoras.storage.memory import MemoryStore
from pythagoras.storage.plugins import open_store
from pythagoras.storage.signatures import TRAILER
from pythagoras.storage.signed import SecretMismatch, SignedStore
from pythagoras.swarm.client import make_call
from pythagoras.swarm.swarm_store import SwarmStore

TIMEOUT = 60.0
SECRET = "correct horse battery staple"


def square(x: int) -> int:
    return x * x


def leave_a_mark(path: str) -> str:
    """What an attacker's request would run: it must never run."""
    with open(path, "w") as f:
        f.write("ran")
    return "pwned"


class TestSignedStore(StoreContract):
    @pytest.fixture
    def store(self) -> SignedStore:
        return SignedStore(MemoryStore(), b"k")


# -- the signed store ------------------------------------------------------------------------


@pytest.fixture
def inner() -> MemoryStore:
    return MemoryStore()


def test_records_carry_a_signature_that_binds_their_key(inner: MemoryStore) -> None:
    signed = SignedStore(inner, b"secret")
    signed.write("results/f/ab/abcd", b"value")
    raw = inner.read("results/f/ab/abcd")
    assert raw is not None and raw.startswith(b"value") and len(raw) == len(b"value") + TRAILER
    assert signed.read("results/f/ab/abcd") == b"value"
    assert signed.size("results/f/ab/abcd") == 5


@pytest.mark.parametrize("forge", ["unsigned", "other-secret", "replayed", "other-swarm", "altered",
                                   "short"])
def test_a_record_not_signed_by_this_secret_is_refused_and_moved_aside(
    inner: MemoryStore, forge: str, caplog: pytest.LogCaptureFixture
) -> None:
    signed = SignedStore(inner, b"secret")
    key = "results/f/ab/abcd"
    if forge == "unsigned":
        inner.write(key, b"a pickle that runs code")
    elif forge == "other-secret":
        SignedStore(inner, b"another secret", swarm=signed.swarm).write(key, b"value")
    elif forge == "other-swarm":  # a valid record of this call, from another swarm's folder
        other = SignedStore(MemoryStore(), b"secret")  # a swarm of its own: another id
        other.write(key, b"value")
        inner.write(key, bytes(other.inner.read(key) or b""))
    elif forge == "replayed":  # a valid record of another call, copied under this one's name
        signed.write("results/f/ab/other", b"value")
        inner.write(key, bytes(inner.read("results/f/ab/other") or b""))
    elif forge == "altered":
        signed.write(key, b"value")
        raw = bytearray(inner.read(key) or b"")
        raw[0] ^= 1
        inner.write(key, bytes(raw))
    else:
        inner.write(key, b"x")
    forged = inner.read(key)
    with caplog.at_level(logging.WARNING, logger="pythagoras"):
        assert signed.read(key) is None
        assert not signed.exists(key)
    assert inner.read(key) is None  # gone from where callers look
    aside = [k for k in inner.list("quarantine/")]
    assert len(aside) == 1 and aside[0].startswith(f"quarantine/{key}.")
    assert inner.read(aside[0]) == forged  # kept, as it was, for a human to look at
    assert signed.refused == 1
    assert "refused the record results/f/ab/abcd" in caplog.text


def test_an_empty_record_is_one_being_written_not_refused(
    inner: MemoryStore, caplog: pytest.LogCaptureFixture
) -> None:
    # A claim is written in place (create_small): a reader may find it empty for a moment.
    # Moving it aside would take the claim from the peer writing it.
    signed = SignedStore(inner, b"secret")
    inner.write("claims/f.a", b"")
    with caplog.at_level(logging.WARNING, logger="pythagoras"):
        assert signed.read("claims/f.a") is None  # as if absent: no result counts as there
        assert not signed.exists("claims/f.a")
        assert read_record(signed, "claims/f.a", b"C") is MISSING
    assert inner.read("claims/f.a") == b"" and list(inner.list("quarantine/")) == []
    assert signed.refused == 0 and caplog.text == ""
    assert signed.create_small("claims/f.a", b"claim") is False
    assert signed.create_small("claims/f.b", b"claim") is True
    assert signed.read("claims/f.b") == b"claim"


def test_a_forged_claim_does_not_block_the_call(inner: MemoryStore) -> None:
    swarm = SwarmStore(SignedStore(inner, b"secret"))
    address = CallAddress("a" * 32, "b" * 32)
    inner.write(f"claims/{address.function}.{address.arguments}", b"forged claim")
    # The forged claim is refused (and moved aside) when the first attempt reads it; the
    # next attempt takes the call.
    assert swarm.claim(address, "vm-1-abc") is None
    claim = swarm.claim(address, "vm-1-abc")
    assert claim is not None and claim.peer == "vm-1-abc"
    assert len(list(inner.list("quarantine/claims/"))) == 1


# -- a swarm with a secret, end to end ---------------------------------------------------------


def test_a_forged_result_is_never_returned_and_status_reports_it(tmp_path: Path) -> None:
    folder = str(tmp_path / "swarm")
    open_store(folder, secret=SECRET)  # the team's swarm, signed from its start
    # An outsider, without the secret, writes a wrong value under square(12)'s address.
    SwarmStore(LocalFolderStore(folder)).finish(None, make_call(square, (12,), {}).address, 145)
    assert len(list(LocalFolderStore(folder).list("results/"))) == 1
    with PythagorasExecutor(folder, max_workers=1, secret=SECRET) as ex:
        assert ex.submit(square, 12).result(timeout=TIMEOUT) == 144  # computed again, signed
        assert ex.submit(square, 12).result(timeout=TIMEOUT) == 144  # now a signed hit
    report = status(open_store(folder, secret=SECRET))
    assert len(report["refused"]) == 1 and report["refused"][0].startswith("results/")
    assert report["calls"]["done"] == 1


def test_a_forged_request_is_never_run(tmp_path: Path) -> None:
    folder = str(tmp_path / "swarm")
    mark = tmp_path / "mark"
    open_store(folder, secret=SECRET)  # the team's swarm, signed from its start
    outsider = SwarmStore(LocalFolderStore(folder))  # no secret: it writes the folder directly
    request = outsider.prepare([make_call(leave_a_mark, (str(mark),), {})], "outsider-1-abc")
    key = outsider.publish(request)
    raw = LocalFolderStore(folder)
    assert raw.exists(key)
    with PythagorasExecutor(folder, max_workers=1, secret=SECRET):
        deadline = time.monotonic() + TIMEOUT
        while raw.exists(key):  # the serving peer lists it, reads it, refuses it
            assert time.monotonic() < deadline, "the forged request was never looked at"
            time.sleep(0.01)
    assert not mark.exists(), "a request without the secret ran"
    assert any(k.startswith("quarantine/requests/") for k in raw.list("quarantine/"))


def test_every_front_end_takes_the_secret_and_they_share_signed_records(tmp_path: Path) -> None:
    folder = str(tmp_path / "swarm")
    cloud = SharedStorage_P2P_Cloud(folder, max_workers=1, secret=SECRET)
    try:
        f = cloud.add_pure_function(lambda_free_square)
        assert f.sync_parallel([kw_args(x=3)], timeout=TIMEOUT, progress=False) == [9]
    finally:
        cloud.close()
    mem = Memory(folder, secret=SECRET, verbose=0)
    assert mem.cache(square)(5) == 25
    assert Memory(folder, secret=SECRET, verbose=0).cache(square).check_call_in_cache(5)
    # Without the secret, the signed swarm is not opened at all (its records are left alone).
    with pytest.raises(SecretMismatch, match="PYTHAGORAS_SECRET"):
        Memory(folder, verbose=0)


def lambda_free_square(*, x: int) -> int:
    return x * x


def test_the_secret_comes_from_the_environment_or_a_key_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = str(tmp_path / "swarm")
    monkeypatch.setenv("PYTHAGORAS_SECRET", SECRET)
    assert isinstance(open_store(folder), SignedStore)
    with PythagorasExecutor(folder, max_workers=1) as ex:
        assert ex.submit(square, 4).result(timeout=TIMEOUT) == 16
    monkeypatch.delenv("PYTHAGORAS_SECRET")
    key_file = tmp_path / "key"
    key_file.write_text(SECRET + "\n")
    monkeypatch.setenv("PYTHAGORAS_SECRET_FILE", str(key_file))
    with PythagorasExecutor(folder, max_workers=0) as ex:  # reads what the first one signed
        assert ex.submit(square, 4).result(timeout=TIMEOUT) == 16
    monkeypatch.delenv("PYTHAGORAS_SECRET_FILE")
    with PythagorasExecutor(folder, max_workers=1, secret=key_file) as ex:  # a path: a key file
        assert ex.submit(square, 4).result(timeout=TIMEOUT) == 16
    assert not list(LocalFolderStore(folder).list("quarantine/"))


@pytest.mark.parametrize("secret, error", [("", ValueError), (b"", ValueError), (42, TypeError)])
def test_a_bad_secret_is_refused_at_the_caller_and_nothing_is_written(
    tmp_path: Path, secret: object, error: type[Exception]
) -> None:
    folder = tmp_path / "swarm"
    with pytest.raises(error):
        PythagorasExecutor(str(folder), max_workers=1, secret=secret)  # type: ignore[arg-type]
    with pytest.raises(error):
        Memory(str(folder), secret=secret)  # type: ignore[arg-type]
    assert not folder.exists()


def test_a_folder_others_may_write_to_draws_one_warning_without_a_secret(tmp_path: Path) -> None:
    folder = tmp_path / "shared"
    folder.mkdir()
    os.chmod(folder, 0o777)
    assert stat.S_IMODE(folder.stat().st_mode) & stat.S_IWOTH
    with pytest.warns(RuntimeWarning, match="other users may write to"):
        open_store(str(folder))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        open_store(str(folder))  # once per folder and process
        open_store(str(folder), secret=SECRET)  # with a secret: nothing to warn about
