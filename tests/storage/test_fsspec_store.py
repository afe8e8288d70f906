"""FsspecStore: the store contract on ``memory://`` and on S3 (moto on loopback), and what an
fsspec URL adds: options passed through, exclusive create by backend, clocks, clear errors."""

from __future__ import annotations

import os
import uuid
import warnings
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import child_processes
import fsspec
import pytest
from _store_contract import StoreContract
from fsspec.implementations.memory import MemoryFileSystem
from s3_server import S3Location

from pythagoras.errors import StoreError
from pythagoras.storage.fsspec_store import FsspecStore
from pythagoras.storage.plugins import open_store


def open_fsspec(url: str, options: dict[str, Any] | None = None) -> FsspecStore:
    store = open_store(url, options, cache_dir=False)  # the store itself, without its tier
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
        "from pythagoras.storage.plugins import open_store\n"
        "try:\n"
        "    open_store('s3://bucket/run')\n"
        "except Exception as e:\n"
        "    print(type(e).__name__, e)\n"
    )
    done = child_processes.run(["-c", script], env=dict(os.environ), timeout=60)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert out.startswith("StoreError ")
    assert "pip install 'pythagoras-swarm[s3]'" in out


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


# -- what S3 and its client do under contention and failure -----------------------------------


def s3_error(code: str, status: int, condition: str | None = None) -> OSError:
    """The exception s3fs raises for an S3 error answer, made by s3fs's own translation."""
    from botocore.exceptions import ClientError
    from s3fs.errors import translate_boto_error

    error: dict[str, str] = {"Code": code, "Message": f"{code} (injected)"}
    if condition:
        error["Condition"] = condition
    translated = translate_boto_error(ClientError(
        {"Error": error, "ResponseMetadata": {"HTTPStatusCode": status}}, "PutObject"))
    assert isinstance(translated, OSError)
    return translated


class FlakyCreates:
    """Stands in front of the store's file system's ``pipe_file`` for creates: raises the
    queued errors first (after doing the real PUT where told to), then passes through."""

    def __init__(self, store: FsspecStore) -> None:
        self.real = store.fs.pipe_file
        self.queue: list[tuple[bool, OSError]] = []  # (put for real first?, then raise)
        self.calls = 0
        store.fs.pipe_file = self  # in place of the instance's own (the fixture puts it back)

    def __call__(self, path: str, data: bytes, **kwargs: Any) -> None:
        if kwargs.get("mode") == "create":
            self.calls += 1
            if self.queue:
                put_first, error = self.queue.pop(0)
                if put_first:
                    self.real(path, data, **kwargs)
                raise error
        self.real(path, data, **kwargs)


@pytest.fixture
def flaky(s3: S3Location) -> Iterator[tuple[FsspecStore, FlakyCreates]]:
    store = open_fsspec(s3.url, s3.storage_options)
    flaky = FlakyCreates(store)
    yield store, flaky
    # Put back what was there: fsspec makes the sync methods attributes of each instance (and
    # shares the instance between stores of one URL); with it deleted, pipe_file is the
    # generic one, which ignores mode="create", and every later create on S3 would win.
    store.fs.pipe_file = flaky.real


def test_a_409_conditional_conflict_is_tried_again(flaky: tuple[FsspecStore, FlakyCreates]) -> None:
    store, creates = flaky
    creates.queue = [(False, s3_error("ConditionalRequestConflict", 409))] * 2
    assert store.create("claims/c", b"mine") is True
    assert creates.calls == 3
    assert store.read("claims/c") == b"mine"


def test_a_412_without_its_condition_is_a_lost_create_not_an_error(
    flaky: tuple[FsspecStore, FlakyCreates],
) -> None:
    store, creates = flaky
    store.write("claims/c", b"theirs")
    creates.queue = [(False, s3_error("PreconditionFailed", 412))]  # no Condition element
    assert store.create("claims/c", b"mine") is False
    assert store.read("claims/c") == b"theirs"


def test_a_create_whose_answer_was_lost_and_retried_is_still_won(
    flaky: tuple[FsspecStore, FlakyCreates],
) -> None:
    # The first PUT lands, its answer is lost, the client retries and S3 refuses: the object
    # holds exactly our bytes, so we created it.
    store, creates = flaky
    creates.queue = [(True, s3_error("PreconditionFailed", 412, "If-None-Match"))]
    assert store.create("claims/c", b"claim with a nonce 1f3e") is True
    # Someone else's bytes under the key: lost.
    creates.queue = [(False, s3_error("PreconditionFailed", 412, "If-None-Match"))]
    assert store.create("claims/c", b"claim with a nonce 9a9a") is False


def test_other_s3_errors_are_raised_as_os_errors(flaky: tuple[FsspecStore, FlakyCreates]) -> None:
    store, creates = flaky
    creates.queue = [(False, s3_error("InternalError", 500))]
    with pytest.raises(OSError):
        store.create("claims/c", b"mine")


def test_an_unreachable_endpoint_is_a_store_error_not_a_botocore_one(s3: S3Location) -> None:
    import socket
    from concurrent.futures import BrokenExecutor

    from pythagoras import PythagorasExecutor

    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}"
    options = {**s3.storage_options,
               "client_kwargs": {"endpoint_url": dead, "region_name": "us-east-1"},
               "config_kwargs": {"retries": {"max_attempts": 1}, "connect_timeout": 2}}
    with pytest.raises(StoreError, match="EndpointConnectionError"):
        open_store(s3.url, options)
    with pytest.raises(BrokenExecutor):
        PythagorasExecutor(s3.url, max_workers=0, storage_options=options)
    # A store already open when its server goes away: every operation raises an OSError.
    fs, root = fsspec.core.url_to_fs(s3.url, **options, use_listings_cache=False)
    store = FsspecStore(s3.url, fs, root)
    for operation in (lambda: store.read("k"), lambda: store.exists("k"),
                      lambda: store.create("k", b"v"), lambda: list(store.list("")),
                      lambda: store.discard("k"), lambda: store.write("k", b"v")):
        with pytest.raises(OSError):
            operation()
