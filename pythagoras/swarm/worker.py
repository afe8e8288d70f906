"""What runs inside a peer's worker process: one task per claimed request.

The peer hands its pool the request's calls pickled by itself (:func:`pack`), not as objects
for the pool to pickle, so that everything that can go wrong inside the worker is the call's
own failure, reported with its exception and traceback, never a crash of the pool:

- a function or an argument that cannot be loaded here (a batch that cannot be loaded as a
  whole is sent back to be split, so that one bad call fails alone);
- the exception the call raises;
- a value that cannot be pickled (a lock, a generator).

Values come back pickled (:func:`~pythagoras.records.frames.dump_value`), ready to be stored as they
are, each with the seconds its call took here (running it and pickling its value): what the
caller's ``map`` sizes its chunks by, free of the queues and the pool's start-up around it.

Only a worker process that really dies (a segfault, ``os._exit``, the OOM killer) breaks
the pool. To tell the call that killed it from those that were running beside it in the same
pool (loky then kills them all), each run leaves a *start mark* while it runs: a file named for
the run in a folder of the peer's own (never in the store), holding the worker's pid. After a
crash the peer charges an attempt only to runs whose mark names a worker that is dead.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import cloudpickle  # type: ignore[import-untyped]

from ..errors import RemoteError
from ..records.frames import dump_value
from ..records.tracebacks import Origins, format_exception
from ..storage.unique import unique_hex

if TYPE_CHECKING:
    from ..identity.address import CallAddress
    from ..storage.base import Store

__all__ = ["SPLIT", "Outcome", "StartMarks", "enter_worker", "pack", "run_packed", "worker_store"]

#: (True, pickled value, "", seconds) or (False, exception, traceback text, seconds): the
#: seconds the call took in the worker.
Outcome = tuple[bool, Any, str, float]

#: What :func:`run_packed` returns for a batch that cannot be loaded as a whole.
SPLIT = "split"


def pack(calls: Sequence[tuple[Any, tuple[Any, ...], dict[str, Any]]]) -> bytes:
    """The calls (function, args, kwargs) as one task's payload."""
    return bytes(cloudpickle.dumps(list(calls)))


def run_packed(payload: bytes, count: int, mark: str | None, origins: Origins | None = None,
               started: tuple[str, bytes] | None = None,
               home: tuple[Store | None, float, int] | None = None) -> list[Outcome] | str:
    """Run the ``count`` calls of ``payload`` (see :func:`pack`), each to its own outcome; or
    :data:`SPLIT` if a batch cannot be loaded. ``mark``: the path of this run's start mark.
    ``started``: the key and record of the run's claim marked started, written to the peer's
    store before the calls run, where the peer could not tell that they would start at once
    (a pool still starting): a call that then kills the whole peer is charged for it.
    ``home``: on an engine's worker (a dask worker), the peer's store, lease and pid, for the
    calls' own calls, as a pool's initializer gives them (not in the peer's own process)."""
    if home is not None:
        _adopt(*home)
    if origins is not None:
        origins = _remember(origins)
    if mark is not None:
        _leave_mark(mark)
    if started is not None and _worker_store is not None:
        try:
            _worker_store.write(*started)
        except OSError:  # the heartbeat renews it; at worst a death is not charged
            pass
    try:
        try:
            calls = cloudpickle.loads(payload)
        except BaseException as error:  # noqa: BLE001 -- a load error is the call's outcome
            if count > 1:
                return SPLIT
            return [(*_failed(error, origins, "cannot load the call in the worker process"), 0.0)]
        return [_run_one(func, args, kwargs, origins) for func, args, kwargs in calls]
    finally:
        if mark is not None:
            _erase_mark(mark)


def _run_one(func: Any, args: tuple[Any, ...], kwargs: dict[str, Any],
             origins: Origins | None) -> Outcome:
    began = time.perf_counter()
    ok, value, text = _outcome(func, args, kwargs, origins)
    return ok, value, text, time.perf_counter() - began


def _outcome(func: Any, args: tuple[Any, ...], kwargs: dict[str, Any],
             origins: Origins | None) -> tuple[bool, Any, str]:
    context = context_of(args)
    try:
        if context is None:
            value = func(*args, **kwargs)
        else:
            with context:
                value = func(*args[1:], **kwargs)
    except BaseException as error:  # noqa: BLE001 -- every failure must reach the swarm
        if error.__traceback__ is not None:  # from the call's own frame on, as a caller sees it
            error.__traceback__ = error.__traceback__.tb_next
        return _failed(error, origins)
    try:
        return True, dump_value(value), ""
    except BaseException as error:  # noqa: BLE001
        error.__traceback__ = None  # pickle's frames, not the call's
        return _failed(error, origins, f"{_name(func)} returned a {type(value).__qualname__}, "
                                       "which cannot be pickled: return plain data (not a lock, "
                                       "a file, a generator or a connection)")


def context_of(args: tuple[Any, ...]) -> Any:
    """The context a call runs in, given as its first argument by a front-end (the joblib
    backend's nested config), or None: an object whose type has ``__pythagoras_context__``
    is not passed to the function; the call runs inside the context manager it returns. The
    function's record stays the function itself, the same for every front-end."""
    if args and hasattr(type(args[0]), "__pythagoras_context__"):
        return args[0].__pythagoras_context__()
    return None


def _name(func: Any) -> str:
    return str(getattr(func, "__qualname__", None) or type(func).__qualname__)


def _failed(error: BaseException, origins: Origins | None,
            context: str = "") -> tuple[bool, Any, str]:
    """The failure outcome of ``error``, raised in this process; picklable whatever it was."""
    text = format_exception(error, origins)
    if context:
        text = f"{text}\n({context})\n"
    try:
        dump_value(error)
    except Exception:
        error = RemoteError(f"{type(error).__qualname__}: {error}"
                            + (f" ({context})" if context else ""))
    return False, error, text


def _leave_mark(path: str) -> None:
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, str(os.getpid()).encode())
        finally:
            os.close(fd)
    except OSError:  # the peer's folder is gone: the run is counted as started
        pass


def _erase_mark(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


def marked_pid(path: str) -> int | None:
    """The pid a start mark names; None if the run never started (or the mark is unreadable)."""
    try:
        with open(path, "rb") as mark:
            text = mark.read(32)
    except OSError:
        return None
    return int(text) if text.isdigit() else None


class StartMarks:
    """The start marks of one peer's runs, and the ready marks of its pool's workers, in a
    private folder of its own (on ``/dev/shm`` where there is one: a mark costs a create and an
    unlink, in memory)."""

    def __init__(self) -> None:
        self.marks: dict[CallAddress, str] = {}  # by the address of the request running
        self._folder: str | None = None
        self._ready = 0  # workers of the current pool known to have started

    @property
    def folder(self) -> str:
        if self._folder is None:
            shm = "/dev/shm"
            where = shm if os.path.isdir(shm) and os.access(shm, os.W_OK) else None
            self._folder = tempfile.mkdtemp(prefix="pythagoras-runs-", dir=where)
        return self._folder

    def new_mark(self) -> str:
        """The path of a new run's mark (the worker creates it as the run starts)."""
        return os.path.join(self.folder, unique_hex())

    def ready_beyond(self, busy: int) -> bool:
        """True if more workers of the current pool have started than ``busy`` runs occupy: a
        run handed to the pool now starts at once. The folder is listed only until they have
        (loky starts its workers as calls come)."""
        if self._ready <= busy:
            try:
                self._ready = sum(1 for name in os.listdir(self.folder) if name.startswith(_READY))
            except OSError:
                return False
        return self._ready > busy

    def new_pool(self) -> None:
        """The pool is replaced: its workers are not ready until they say so."""
        self._ready = 0
        for name in os.listdir(self.folder):
            if name.startswith(_READY):
                _erase_mark(os.path.join(self.folder, name))

    @staticmethod
    def started(mark: str) -> bool:
        return os.path.exists(mark)

    def died_running(self, mark: str) -> bool:
        """True if the run of ``mark`` started in a worker that is dead now: that run killed
        its worker. A worker still alive (loky kills the others of a broken pool only after it
        has failed their calls) was an innocent neighbour; one that died while it ran a call
        nested in this run (lent its slot, :func:`lent_run`) was killed by that call, which is
        charged on its own claim. The mark is spent."""
        pid = marked_pid(mark)
        _erase_mark(mark)
        if pid is None or not process_is_gone(pid):
            return False
        nested = [name for name in os.listdir(self.folder) if name.startswith(f"{_LENT}{pid}-")]
        for name in nested:
            _erase_mark(os.path.join(self.folder, name))
        return not nested

    def close(self) -> None:
        if self._folder is not None:
            shutil.rmtree(self._folder, ignore_errors=True)


_READY = "ready-"
_LENT = "lent-"
_worker_folder: str | None = None


@contextmanager
def lent_run() -> Iterator[None]:
    """Mark, in the peer's folder of marks, that a call nested in this worker's run runs here
    (in a lent slot): should the worker die now, the nested call killed it."""
    if _worker_folder is None:
        yield
        return
    path = os.path.join(_worker_folder, f"{_LENT}{os.getpid()}-{unique_hex()}")
    _leave_mark(path)
    try:
        yield
    finally:
        _erase_mark(path)


def process_is_gone(pid: int) -> bool:
    """True if no process ``pid`` runs here any more (it exited, or waits to be reaped)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:  # it exists, owned by someone else
        return False
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            fields = stat.read().rpartition(b")")[2].split()  # the name may hold spaces
    except OSError:
        return False
    return bool(fields) and fields[0] in (b"Z", b"X")


_worker_store: Store | None = None
_worker_lease = 30.0


def enter_worker(store: Store | None, folder: str, lease_timeout: float = 30.0) -> None:
    """The initializer of a peer's worker processes: calls that run here and open the same
    location reach the swarm through this store (its options and secret travel to the worker
    through the pool's pipe, never through the location), with the peer's lease. The worker
    says it is ready in the peer's ``folder`` of marks."""
    global _worker_store, _worker_lease, _worker_folder
    _worker_store, _worker_lease, _worker_folder = store, lease_timeout, folder
    _leave_mark(os.path.join(folder, f"{_READY}{os.getpid()}"))


def _adopt(store: Store | None, lease_timeout: float, pid: int) -> None:
    """An engine's worker process serves the swarm of the peer that sent it a call (the first
    such peer), unless it is that peer's own process (a thread pool's threads)."""
    global _worker_store, _worker_lease
    if _worker_store is None and store is not None and os.getpid() != pid:
        _worker_store, _worker_lease = store, lease_timeout


_received: Origins | None = None  # every origin this process was sent: for nested calls too


def _remember(origins: Origins) -> Origins:
    """The origins of the calls of this run and of every run before in this process: a call
    nested in a run (lent, in another thread) has none of its own where it was submitted here."""
    global _received
    if _received is None or not origins.codes.keys() <= _received.codes.keys():
        _received = origins if _received is None else _received.merge(origins)
    return _received


def worker_lease() -> float:
    """The lease of the peer whose worker this process is (the swarm's default elsewhere)."""
    return _worker_lease


def worker_store(location: str) -> Store | None:
    """The store of the peer whose worker this process is, if it serves ``location``."""
    store = _worker_store
    return store if store is not None and store.location == location else None
