"""No secret or credential is ever written into a location (issue 21).

A signed run of every front-end (``_signed_front_ends.py``: the executor with a script's
function that calls a ``@memory.cache`` function and a shelved result, the joblib backend with
nested Parallel calls, the tutorial's pure function calling another), in a process of its own
whose peer runs the calls in a worker process, on a local folder and on the S3 server with a
fake access key in ``storage_options``. Every record written is checked as it is written
(requests are deleted once done), and every file or object left afterwards too: neither the
secret nor the key nor its secret is found. Before issue 21 the Memory pickled with the
script's function carried ``(location, storage_options, secret)`` into ``functions/``.
"""

from __future__ import annotations

import json
import secrets
import sys
from pathlib import Path
from typing import Any

import boto3
import child_processes
from _journal_store import JOURNAL, PRIVATE, written
from s3_server import MotoServer

HERE = Path(__file__).resolve().parent
SCRIPT = HERE / "_signed_front_ends.py"
DEADLINE = 240.0
EXPECTED = {"executor": [2, 9], "shelved": 64, "nested": [[0, 1], [1, 4]], "tutorial": [1, 3]}


def run_front_ends(tmp_path: Path, location: str, secret: str,
                   options: dict[str, Any] | None, private: list[str]) -> list[tuple[str, str]]:
    """The script's run, checked; every record it wrote (with what private it held)."""
    journal = tmp_path / "journal.txt"
    env = {k: v for k, v in child_processes.environment().items()
           if not k.startswith(("PYTHAGORAS_SECRET", "AWS_"))}
    env.update({PRIVATE: "\n".join(private), JOURNAL: str(journal)})
    done = child_processes.run_command(
        [sys.executable, str(SCRIPT), location, secret, json.dumps(options)], timeout=DEADLINE,
        env=env)
    assert done.returncode == 0, done.stderr[-4000:]
    assert json.loads(done.stdout.strip().splitlines()[-1]) == EXPECTED
    records = written(str(journal))
    kinds = {key.split("/", 1)[0] for key, _ in records}
    assert {"functions", "requests", "results", "claims", "peers", "swarm.json"} <= kinds
    return records


def test_a_signed_run_of_every_front_end_writes_no_secret_into_a_folder(tmp_path: Path) -> None:
    secret = f"the-team-secret-{secrets.token_hex(8)}"
    folder = tmp_path / "swarm"
    records = run_front_ends(tmp_path, str(folder), secret, None, [secret])
    assert [key for key, held in records if held != "-"] == []
    left = [p for p in folder.rglob("*") if p.is_file() and secret.encode() in p.read_bytes()]
    assert left == []
    assert not (folder / "quarantine").exists()


def test_a_signed_run_of_every_front_end_writes_no_credential_into_a_bucket(
    tmp_path: Path, s3_server: MotoServer
) -> None:
    secret = f"the-team-secret-{secrets.token_hex(8)}"
    key, key_secret = f"AKIAFAKE{secrets.token_hex(6).upper()}", f"fake-{secrets.token_hex(12)}"
    bucket = s3_server.new_bucket()
    options = {**s3_server.storage_options(), "key": key, "secret": key_secret}
    records = run_front_ends(tmp_path, f"s3://{bucket}/run", secret, options,
                             [secret, key, key_secret])
    assert [k for k, held in records if held != "-"] == []
    client = boto3.client("s3", endpoint_url=s3_server.endpoint, region_name="us-east-1",
                          aws_access_key_id="testing", aws_secret_access_key="testing")
    objects = client.list_objects_v2(Bucket=bucket).get("Contents", [])
    assert any(o["Key"].startswith("run/results/") for o in objects)
    for found in objects:
        body = client.get_object(Bucket=bucket, Key=found["Key"])["Body"].read()
        assert not [s for s in (secret, key, key_secret) if s.encode() in body], found["Key"]
