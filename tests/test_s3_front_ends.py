"""Every front-end takes an ``s3://`` URL and ``storage_options``, on a real S3 API server.

The swarm's own S3 tests (several processes, claim races, a worker command) are in
``tests/swarm/test_swarm_s3.py``; here each front-end is checked once, in this process, to
read back what another instance stored in the bucket.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import joblib
from s3_server import S3Location

from pythagoras import Memory, PythagorasExecutor, SharedStorage_P2P_Cloud, kw_args
from pythagoras.joblib_backend import shutdown_executors
from pythagoras.storage.plugins import open_store


def logged_square(x: int) -> int:
    import execution_log

    execution_log.record(["square", x])
    return x * x


def test_the_executor_on_s3_memoizes_across_instances(
    s3: S3Location, executions: Callable[[], list[Any]]
) -> None:
    with PythagorasExecutor(s3.url, max_workers=1, storage_options=s3.storage_options) as ex:
        assert list(ex.map(logged_square, [2, 3], timeout=60)) == [4, 9]
    with PythagorasExecutor(s3.url, max_workers=1, storage_options=s3.storage_options) as ex:
        assert list(ex.map(logged_square, [3, 2, 4], timeout=60)) == [9, 4, 16]
    assert sorted(executions()) == [["square", 2], ["square", 3], ["square", 4]]


def test_the_joblib_backend_on_s3(s3: S3Location, executions: Callable[[], list[Any]]) -> None:
    try:
        with joblib.parallel_backend("pythagoras", location=s3.url, max_workers=1,
                                     storage_options=s3.storage_options):
            first = joblib.Parallel(n_jobs=2)(joblib.delayed(logged_square)(x) for x in range(4))
            again = joblib.Parallel(n_jobs=2)(joblib.delayed(logged_square)(x) for x in range(4))
    finally:
        shutdown_executors()  # the warm executor would outlive the bucket and the server
    assert first == again == [0, 1, 4, 9]
    assert sorted(executions()) == [["square", x] for x in range(4)]


def test_memory_on_s3(s3: S3Location, executions: Callable[[], list[Any]]) -> None:
    square = Memory(s3.url, backend_options=s3.storage_options).cache(logged_square)
    assert square(5) == 25
    assert Memory(s3.url, backend_options=s3.storage_options).cache(logged_square)(5) == 25
    assert executions() == [["square", 5]]
    assert any(key.startswith("results/") for key in
               open_store(s3.url, s3.storage_options).list(""))


def product(a: int, b: int) -> int:
    import execution_log

    execution_log.record(["product", a, b])
    return a * b


def test_the_tutorial_cloud_on_s3(s3: S3Location, executions: Callable[[], list[Any]]) -> None:
    cloud = SharedStorage_P2P_Cloud(s3.url, max_workers=1, storage_options=s3.storage_options)
    try:
        mul = cloud.add_pure_function(product)
        assert mul.sync_parallel([kw_args(a=2, b=3), kw_args(a=4, b=5)], timeout=60) == [6, 20]
    finally:
        cloud.close()
    again = SharedStorage_P2P_Cloud(s3.url, max_workers=0, storage_options=s3.storage_options)
    try:
        assert again.add_pure_function(product)(a=4, b=5) == 20
    finally:
        again.close()
    assert sorted(executions()) == [["product", 2, 3], ["product", 4, 5]]  # read back, not rerun
