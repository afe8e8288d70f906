"""A real S3 API server on loopback: moto's standalone server, started and stopped here.

``moto_server -H 127.0.0.1 -p PORT`` serves the S3 API (conditional writes included: a PUT
with ``If-None-Match: *`` over an existing object gets 412). Tests get it from the
``s3_server`` fixture in ``conftest.py``; ``benchmarks/stores.py`` starts one the same way.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

START_TIMEOUT = 60.0  # seconds for the server to answer; it imports Flask and all of moto


@dataclass(frozen=True)
class S3Location:
    """A fresh bucket's URL and the options that reach it, as a user would pass them."""

    url: str
    storage_options: dict[str, Any]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _moto_command() -> list[str]:
    beside = Path(sys.executable).with_name("moto_server")
    found = str(beside) if beside.exists() else shutil.which("moto_server")
    if found is None:
        raise RuntimeError("moto_server is not installed: pip install -e '.[test]' installs it")
    return [found]


class MotoServer:
    """One moto server process; :meth:`new_bucket` gives each test a bucket of its own."""

    def __init__(self, log: Path) -> None:
        self.log = log
        self.proc: subprocess.Popen[bytes] | None = None
        self.port = 0

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        for _ in range(3):  # another process may take the free port before the server binds it
            self.port = _free_port()
            with open(self.log, "ab") as out:
                self.proc = subprocess.Popen(
                    [*_moto_command(), "-H", "127.0.0.1", "-p", str(self.port)],
                    stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
                    env={**os.environ, "MOTO_ALLOW_NONEXISTENT_REGION": "true"},
                )
            if self._wait_until_up():
                return
            self.stop()
        raise RuntimeError(f"moto_server did not start; its log:\n{self.log.read_text()[-3000:]}")

    def _wait_until_up(self) -> bool:
        assert self.proc is not None
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            try:
                with urllib.request.urlopen(f"{self.endpoint}/moto-api/", timeout=2):
                    return True
            except OSError:
                time.sleep(0.05)  # polling a server that is starting: nothing to wait on instead
        return False

    def stop(self) -> None:
        if self.proc is None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(timeout=10)
        except ProcessLookupError:
            pass
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        self.proc = None

    def storage_options(self) -> dict[str, Any]:
        """What a user passes to reach this server: fsspec's s3fs options."""
        return {
            "key": "testing",
            "secret": "testing",
            "client_kwargs": {"endpoint_url": self.endpoint, "region_name": "us-east-1"},
        }

    def new_bucket(self) -> str:
        """Create a bucket with a fresh name, and return its name."""
        import boto3

        name = f"t-{uuid.uuid4().hex[:20]}"
        client = boto3.client("s3", endpoint_url=self.endpoint, region_name="us-east-1",
                              aws_access_key_id="testing", aws_secret_access_key="testing")
        client.create_bucket(Bucket=name)
        return name
