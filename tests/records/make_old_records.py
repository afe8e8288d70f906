"""Write ``tests/records/old_records/``: a swarm folder's records as a release of pythagoras
wrote them, for ``test_old_records.py`` to load with the code of today.

Records name the classes they hold by module path (a claim was a ``pythagoras.protocol.Claim``
to pickle, and is a ``pythagoras.swarm.protocol.Claim`` now), so a module that moves must leave
its old records loadable. The fixtures were made
once, on the layout of before the layer folders (commit "tests: records of the flat layout"),
by the real front-ends: an executor on a local folder (a result, a failure with its traceback,
a request with a large argument and its claim while it runs, the peer's record, a batch from
``map``, a ``Memory`` record) and the tutorial's cloud on ``memory://`` (a pure function that
calls another, whose function record holds the other by reference, and its pending request).
The imports below are today's names of the same front-ends. Running it again would replace
the old records with records of the code of the day, which is not what the test is about: to
keep records of a later layout too, write them to another folder beside this one.

    python tests/records/make_old_records.py
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

import fsspec

import pythagoras
from pythagoras import Memory, PythagorasExecutor, SharedStorage_P2P_Cloud, kw_args

HERE = Path(__file__).resolve().parent
OUT = HERE / "old_records"
MEMORY_LOCATION = "memory://pythagoras-old-records"


def square(x):
    return x * x


def fail(x):
    raise ValueError(f"no value for {x}")


def hold(release, blob):
    """Run until the file ``release`` exists (a minute at most), then return the blob's size."""
    deadline = time.monotonic() + 60
    while not Path(release).exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    return len(blob)


def inner(x):
    return x + 1


def outer(x):
    return inner(x=x) * 2  # the pure function inner, once cloud_records has made it one


def _copy(folder: Path, into: Path) -> None:
    for path in folder.rglob("*"):
        if path.is_file() and not path.name.startswith("."):
            target = into / path.relative_to(folder)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target)


def _wait_for(folder: Path, pattern: str) -> None:
    deadline = time.monotonic() + 60
    while not any(folder.glob(pattern)):
        if time.monotonic() > deadline:
            raise TimeoutError(f"nothing matched {pattern} in {folder}")
        time.sleep(0.01)


def executor_records(work: Path, manifest: dict[str, object]) -> None:
    swarm = work / "swarm"
    release = work / "release"
    with PythagorasExecutor(swarm, max_workers=1) as ex:
        assert ex.submit(square, 3).result(timeout=60) == 9
        try:
            ex.submit(fail, 1).result(timeout=60)
        except ValueError:
            pass
        assert list(ex.map(square, range(4), chunksize=2)) == [0, 1, 4, 9]
        # Submitted by a peer that runs nothing, so that its request, function and large
        # argument (over 64 KiB: under values/) are written for the serving peer to claim.
        with PythagorasExecutor(swarm, max_workers=0) as submitter:
            held = submitter.submit(hold, str(release), bytes(70_000))
            _wait_for(swarm, "claims/*")
            _wait_for(swarm, "peers/*")
            _copy(swarm, OUT)  # the request, its claim and the peers' records, mid-call
            release.touch()
            assert held.result(timeout=60) == 70_000
        manifest["square"] = str(ex.client.call(square, (3,), {}).address)
        manifest["fail"] = str(ex.client.call(fail, (1,), {}).address)
        manifest["hold"] = str(ex.client.call(hold, (str(release), bytes(70_000)), {}).address)
    memory = Memory(swarm, verbose=0)
    assert memory.cache(square)(5) == 25
    _copy(swarm, OUT)


def cloud_records(manifest: dict[str, object]) -> None:
    cloud = SharedStorage_P2P_Cloud(MEMORY_LOCATION, max_workers=0)

    pure_inner = globals()["inner"] = cloud.add_pure_function(inner)
    pure_outer = globals()["outer"] = cloud.add_pure_function(outer)
    assert pure_inner(x=1) == 2  # computed here, its result stored
    pure_outer.async_parallel([kw_args(x=1)])  # no peer runs it: its request stays
    manifest["inner"] = str(pure_inner.address(x=1))
    manifest["outer"] = str(pure_outer.address(x=1))
    fs = fsspec.filesystem("memory")
    root = MEMORY_LOCATION.removeprefix("memory:/")
    for path in fs.find(root):
        target = OUT / path[len(root) + 1 :]
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(fs.cat_file(path))
    cloud.close()


def main() -> None:
    if OUT.exists():
        shutil.rmtree(OUT)
    OUT.mkdir()
    manifest: dict[str, object] = {"pythagoras": pythagoras.__version__,
                                   "python": f"{sys.version_info.major}.{sys.version_info.minor}"}
    with tempfile.TemporaryDirectory() as work:
        executor_records(Path(work), manifest)
    cloud_records(manifest)
    (OUT / "manifest.json").write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")
    print(f"wrote {sum(1 for p in OUT.rglob('*') if p.is_file())} files to {OUT}")


if __name__ == "__main__":
    main()
