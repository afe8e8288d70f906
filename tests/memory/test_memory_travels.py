"""A Memory, a memoized function and a shelved result pickle without the secret or credentials
(issue 21): a script's function that calls a ``@memory.cache`` function carries its Memory
into the swarm's records. The copy takes the secret of a store open in its process on the same
location, else its environment's, and a signed one refuses to open without one.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest

from pythagoras import Memory
from pythagoras.storage import signed
from pythagoras.storage.credentials import public_options
from pythagoras.storage.signed import SecretMismatch, SignedStore

SECRET = "a-secret-of-the-team-that-never-travels-91c3"


def square(x: int) -> int:
    return x * x


@pytest.fixture
def another_process(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """As a process that has opened no store: no secret known, none in the environment."""
    monkeypatch.setattr(signed, "_known", {})
    monkeypatch.delenv("PYTHAGORAS_SECRET", raising=False)
    monkeypatch.delenv("PYTHAGORAS_SECRET_FILE", raising=False)
    return monkeypatch


def test_a_memory_and_what_it_makes_travel_without_the_secret(tmp_path: Path) -> None:
    memory = Memory(str(tmp_path / "swarm"), secret=SECRET, verbose=0)
    cached = memory.cache(square)
    shelved = cached.call_and_shelve(3)
    for thing in (memory, cached, shelved):
        data = pickle.dumps(thing)
        assert SECRET.encode() not in data
        copy = pickle.loads(data)  # here, the secret of the store open on the location
        assert isinstance(copy.store_backend, SignedStore)
    assert pickle.loads(pickle.dumps(shelved)).get() == 9


def test_a_signed_memory_never_reopens_unsigned(tmp_path: Path,
                                                another_process: pytest.MonkeyPatch) -> None:
    data = pickle.dumps(Memory(str(tmp_path / "swarm"), secret=SECRET, verbose=0).cache(square))
    signed._known.clear()
    with pytest.raises(SecretMismatch, match="PYTHAGORAS_SECRET"):
        pickle.loads(data)
    another_process.setenv("PYTHAGORAS_SECRET", SECRET)
    assert isinstance(pickle.loads(data).store_backend, SignedStore)


def test_only_harmless_storage_options_travel() -> None:
    options = {"key": "AKIA-FAKE", "secret": "s3-secret", "token": "t", "password": "p",
               "anon": False, "endpoint_url": "http://127.0.0.1:9000",
               "client_kwargs": {"endpoint_url": "http://x", "region_name": "eu-west-1",
                                 "aws_secret_access_key": "k"},
               "sas_token": "azure", "account_key": "azure-key"}
    assert public_options(options) == {
        "anon": False, "endpoint_url": "http://127.0.0.1:9000",
        "client_kwargs": {"endpoint_url": "http://x", "region_name": "eu-west-1"}}
    assert public_options({"key": "k"}) is None
    # A profile names credentials the receiver keeps in its own ~/.aws: it may travel.
    assert public_options({"profile": "team", "key": "k"}) == {"profile": "team"}


def test_a_memorys_storage_options_travel_as_the_harmless_ones() -> None:
    memory = Memory(None, storage_options={"key": "AKIA-FAKE", "endpoint_url": "http://e"})
    copy = pickle.loads(pickle.dumps(memory))
    assert copy.backend_options == {"endpoint_url": "http://e"}
    assert b"AKIA-FAKE" not in pickle.dumps(memory)
