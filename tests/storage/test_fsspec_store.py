"""FsspecStore: the store contract on ``memory://`` and on S3 (moto on loopback), and what an
fsspec URL adds: options passed through, exclusive create by backend, clocks, clear errors."""

from __future__ import annotations

import subprocess
import sys
import uuid
import warnings
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import fsspec
import pytest
from _store_contract import StoreContract
from fsspec.implementations.memory import MemoryFileSystem
from s3_server import S3Location

from pythagoras.errors import StoreError
from pythagoras.plugins import open_store
from pythagoras.storage.fsspec_store import FsspecStore


def open_fsspec(url: str, options: dict[str, Any] | None = None) -> FsspecStore:
    store = open_store(url, options)
    assert type(store) is FsspecStore
    return store


@pytest.fixture
def memory_url() -> Iterator[str]:
    """A fresh root in fsspec's in-process memory file system, removed afterwards."""
    root = f"/t-{uuid.uuid4().hex}"
    yield f"memory://{root}/store"
    fs = MemoryFileSystem()
    if fs.exists(root):
        fs.rm(root, recursive=True)


class TestMemoryURL(StoreContract):
    @pytest.fixture
    def store(self, memory_url: str) -> FsspecStore:
        return open_fsspec(memory_url)


class TestS3(StoreContract):
    @pytest.fixture
    def store(self, s3: S3Location) -> FsspecStore:
        return open_fsspec(s3.url, s3.storage_options)


# -- what opening a URL gives ----------------------------------------------------------------


def test_memory_url_is_in_process_and_atomic(memory_url: str) -> None:
    store = open_fsspec(memory_url)
    assert store.protocol == "memory"
    assert store.atomic_create is True
    assert store.remote is False
    store.write("a/b", b"v")
    assert MemoryFileSystem().cat_file(memory_url.removeprefix("memory://") + "/a/b") == b"v"


def test_s3_url_reaches_the_bucket_with_the_options_given(s3: S3Location) -> None:
    store = open_fsspec(s3.url, s3.storage_options)
    assert (store.protocol, store.atomic_create, store.remote) == ("s3", True, True)
    store.write("results/f/ab/abcd", b"value")
    # The object sits under the URL's prefix in the bucket, where any S3 client finds it.
    bucket = s3.url.removeprefix("s3://").split("/")[0]
    import boto3

    client = boto3.client("s3", aws_access_key_id="testing", aws_secret_access_key="testing",
                          **s3.storage_options["client_kwargs"])
    body = client.get_object(Bucket=bucket, Key="run/results/f/ab/abcd")["Body"].read()
    assert body == b"value"


def test_the_listings_cache_is_off_whatever_the_options_say(s3: S3Location) -> None:
    # A cached listing would hide requests and results that other peers write.
    options = {**s3.storage_options, "use_listings_cache": True}
    store = open_fsspec(s3.url, options)
    other = open_fsspec(s3.url, s3.storage_options)
    assert list(store.list("requests/")) == []
    other.write("requests/0/k", b"r")
    assert list(store.list("requests/")) == ["requests/0/k"]
    assert store.exists("requests/0/k")


def test_a_missing_bucket_is_a_clear_error_and_nothing_is_created(s3_server: Any) -> None:
    url = f"s3://no-such-{uuid.uuid4().hex[:12]}/run"
    with pytest.raises(StoreError, match="does not exist: create it first"):
        open_store(url, s3_server.storage_options())
    import boto3

    client = boto3.client("s3", aws_access_key_id="testing", aws_secret_access_key="testing",
                          **s3_server.storage_options()["client_kwargs"])
    names = [b["Name"] for b in client.list_buckets()["Buckets"]]
    assert url.split("/")[2] not in names


def test_an_unknown_scheme_names_the_fix() -> None:
    with pytest.raises(StoreError, match="no store plugin serves 'nosuchscheme://x'"):
        open_store("nosuchscheme://x")


def test_s3_without_s3fs_names_the_extra_to_install(tmp_path: Any) -> None:
    # A real interpreter in which s3fs cannot be imported, as on a machine without the extra.
    script = (
        "import sys; sys.modules['s3fs'] = None\n"
        "from pythagoras.plugins import open_store\n"
        "try:\n"
        "    open_store('s3://bucket/run')\n"
        "except Exception as e:\n"
        "    print(type(e).__name__, e)\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         timeout=60, check=True).stdout
    assert out.startswith("StoreError ")
    assert "pip install 'pythagoras[s3]'" in out


# -- exclusive create ------------------------------------------------------------------------


class CheckThenWriteFS(MemoryFileSystem):
    """An fsspec backend with no server-side exclusive create, and a clock 5 minutes ahead.

    Its files live in a dict of its own (not the memory:// one), and every date it reports is
    300 s later than this machine's clock, as a server with a skewed clock would report it.
    """

    protocol = "checkthenwrite"
    store: dict[str, Any] = {}
    pseudo_dirs = [""]
    skew = 300.0

    def info(self, path: str, **kwargs: Any) -> dict[str, Any]:
        info = dict(super().info(path, **kwargs))
        if "created" in info:  # a datetime, in this machine's local time
            info["created"] = info["created"] + timedelta(seconds=self.skew)
        return info


@pytest.fixture
def check_then_write() -> Iterator[str]:
    fsspec.register_implementation("checkthenwrite", CheckThenWriteFS, clobber=True)
    CheckThenWriteFS.store.clear()
    yield f"checkthenwrite://t-{uuid.uuid4().hex}"
    CheckThenWriteFS.store.clear()


def test_a_backend_without_exclusive_create_warns_that_claims_are_advisory(
    check_then_write: str,
) -> None:
    with pytest.warns(RuntimeWarning, match="claims are advisory: two peers may run the same call"):
        store = open_fsspec(check_then_write)
    assert store.atomic_create is False
    assert store.remote is True
    # Still a store: a create over an existing key fails when nobody races it.
    assert store.create("k", b"1") is True
    assert store.create("k", b"2") is False
    assert store.read("k") == b"1"


def test_ages_are_corrected_by_the_stores_clock(check_then_write: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        store = open_fsspec(check_then_write)
    store.write("k", b"v")
    age = store.age("k")
    assert age is not None
    # Uncorrected, the object would look 300 s younger than now, so its age would clamp to 0
    # and a lease written 300 s ago would look fresh; corrected, it is about 0 either way.
    assert store._skew == pytest.approx(300.0, abs=5.0)
    assert age < 5.0
    CheckThenWriteFS.skew = -300.0  # now the store's clock is behind: dates look 300 s old
    try:
        store._skew_checked = -float("inf")  # measure again
        assert store.age("k") is not None
        assert store.age("k") < 5.0  # type: ignore[operator]
    finally:
        CheckThenWriteFS.skew = 300.0


def test_the_clock_probe_is_removed_and_never_listed(s3: S3Location) -> None:
    store = open_fsspec(s3.url, s3.storage_options)
    store.write("k", b"v")
    assert store.age("k") is not None  # measures the clock: writes and deletes a probe
    assert list(store.list("")) == ["k"]
    assert store.fs.find(s3.url.removeprefix("s3://")) == [s3.url.removeprefix("s3://") + "/k"]


def test_s3_dates_an_overwrite_afresh(s3: S3Location) -> None:
    store = open_fsspec(s3.url, s3.storage_options)
    store.write("k", b"v")
    first = store.fs.call_s3("head_object", Bucket=s3.url.split("/")[2], Key="run/k")
    store.write("k", b"w")  # a lease renewal is an overwrite: it must move the date
    second = store.fs.call_s3("head_object", Bucket=s3.url.split("/")[2], Key="run/k")
    assert second["ETag"] != first["ETag"]
    assert second["LastModified"] >= first["LastModified"]
    assert isinstance(second["LastModified"], datetime)
    assert second["LastModified"].tzinfo is not None
    assert abs((datetime.now(timezone.utc) - second["LastModified"]).total_seconds()) < 60


def test_sync_debris_beside_objects_is_not_listed(s3: S3Location) -> None:
    store = open_fsspec(s3.url, s3.storage_options)
    root = s3.url.removeprefix("s3://")
    store.write("results/f/ab/abcd", b"v")
    for name in ("abcd (1)", ".abcd.tmp-h-1-ff", "abcd.sync-conflict-1"):
        store.fs.pipe_file(f"{root}/results/f/ab/{name}", b"debris")
    store.fs.pipe_file(root + "-sibling/k", b"outside the prefix")
    assert list(store.list("")) == ["results/f/ab/abcd"]
    assert list(store.list("results/f/ab/abc")) == ["results/f/ab/abcd"]
