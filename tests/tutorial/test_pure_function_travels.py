"""A pure function and its cloud pickle without the secret, and a signed one never reopens
unsigned (issue 21): before, ``PureFunction.__reduce__`` dropped the secret, so a copy made
where no cloud was open reopened the location unsigned.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest

from pythagoras import SharedStorage_P2P_Cloud
from pythagoras.storage import signed
from pythagoras.storage.signed import SecretMismatch, SignedStore
from pythagoras.tutorial import cloud as cloud_module

SECRET = "a-secret-of-the-team-that-never-travels-3b7e"


def cube(*, x: int) -> int:
    return x ** 3


def test_a_signed_pure_function_travels_without_the_secret_and_never_reopens_unsigned(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cloud = SharedStorage_P2P_Cloud(str(tmp_path / "swarm"), max_workers=0, secret=SECRET)
    f = cloud.add_pure_function(cube)
    assert f(x=2) == 8
    for thing in (f, cloud):
        data = pickle.dumps(thing)
        assert SECRET.encode() not in data
    # In another process: no cloud open, no secret known, none in the environment.
    monkeypatch.setattr(signed, "_known", {})
    monkeypatch.setattr(cloud_module, "_OPEN", {})
    monkeypatch.delenv("PYTHAGORAS_SECRET", raising=False)
    monkeypatch.delenv("PYTHAGORAS_SECRET_FILE", raising=False)
    with pytest.raises(SecretMismatch, match="PYTHAGORAS_SECRET"):
        pickle.loads(pickle.dumps(f))
    monkeypatch.setenv("PYTHAGORAS_SECRET", SECRET)
    copy = pickle.loads(pickle.dumps(f))
    assert isinstance(copy.cloud.store, SignedStore) and copy(x=2) == 8
    cloud.close()
