"""The tutorial's entry point: a cloud is a store that pure functions are registered with."""

from __future__ import annotations

import os
import threading
import weakref
from collections.abc import Callable, Mapping
from concurrent.futures import Executor
from typing import Any, overload

from ..records import portable
from ..storage.base import Store
from ..storage.plugins import open_store
from ..storage.signed import Secret, SignedStore
from ..swarm.client import SwarmClient
from ..swarm.lending import LendingPeer
from ..swarm.options import SwarmOptions, engine_argument
from ..swarm.peer import Peer
from ..swarm.worker import worker_store
from .pure_function import PureFunction

__all__ = ["SharedStorage_P2P_Cloud"]

# The clouds open in this process, by location: a pure function that arrives by value (called
# inside another's call) reaches its swarm through the one open here.
_OPEN: weakref.WeakValueDictionary[str, SharedStorage_P2P_Cloud] = weakref.WeakValueDictionary()
_OPEN_LOCK = threading.Lock()


class SharedStorage_P2P_Cloud:  # noqa: N801 -- the tutorial's spelling
    """A swarm on a shared folder: every process that opens the same folder is a peer.

    ``shared_dir_name`` is a folder path (relative paths are taken from the current directory,
    as ``open()`` takes them) or a URL; None means the embedded default location.
    ``engine`` runs this process's share of the calls instead of a loky pool: any
    ``concurrent.futures.Executor``, such as a dask client's ``get_executor()``
    (``docs/engines.md``); the cloud never shuts it down. ``executor`` is its old name,
    deprecated.
    """

    def __init__(
        self,
        shared_dir_name: str | os.PathLike[str] | None = "my_project",
        *,
        max_workers: int | None = None,
        lease_timeout: float = 30.0,
        storage_options: Mapping[str, object] | None = None,
        secret: Secret | None = None,
        engine: Executor | None = None,
        executor: Executor | None = None,
    ) -> None:
        options = SwarmOptions.of(shared_dir_name, storage_options=storage_options,
                                  secret=secret, max_workers=max_workers,
                                  lease_timeout=lease_timeout,
                                  engine=engine_argument(engine, executor))
        self.store: Store = open_store(options.where, storage_options, secret=options.secret)
        self.engine = options.engine
        self.max_workers = options.max_workers
        self.lease_timeout = options.lease_timeout
        self._peer: Peer | None = None
        self._client: SwarmClient | None = None
        self._peer_lock = threading.RLock()
        with _OPEN_LOCK:
            _OPEN.setdefault(self.store.location, self)

    @property
    def signed(self) -> bool:
        """True if this cloud's records are signed (it has the swarm's secret)."""
        return isinstance(self.store, SignedStore)

    def __reduce__(self) -> tuple[Any, ...]:
        """Travel as the location and whether it is signed, never with the secret or storage
        options (``reopened``, where it lands)."""
        return SharedStorage_P2P_Cloud.reopened, (self.store.location, self.signed)

    @classmethod
    def reopened(cls, location: str, signed: bool = False) -> SharedStorage_P2P_Cloud:
        """The cloud a pure function that arrives by value uses: the one this process has on
        ``location`` (with its options and secret); in a worker of a peer on it, one on the
        worker's lending peer (``Peer.lending``); else a new one that runs nothing itself, with
        the secret this process has (``signed``: :class:`SecretMismatch` if it has none)."""
        with _OPEN_LOCK:
            cloud = _OPEN.get(location)
        if cloud is not None and (cloud.signed or not signed):
            return cloud
        store = worker_store(location)
        if store is None or (signed and not isinstance(store, SignedStore)):
            options = SwarmOptions.arrived(location, signed=signed, max_workers=0)
            return cls(location, max_workers=0, secret=options.secret,
                       storage_options=options.storage_options)
        cloud = cls.__new__(cls)
        cloud.store, cloud.engine, cloud.max_workers = store, None, 0
        cloud._peer = LendingPeer.of(store)
        cloud.lease_timeout = cloud._peer.lease_timeout
        cloud._client = None
        cloud._peer_lock = threading.RLock()
        with _OPEN_LOCK:
            return _OPEN.setdefault(location, cloud)

    @property
    def peer(self) -> Peer:
        """This process's peer on the store, made at first use (its threads start when needed)."""
        with self._peer_lock:
            if self._peer is None:
                self._peer = Peer(self.store, max_workers=self.max_workers,
                                  lease_timeout=self.lease_timeout, executor=self.engine)
            return self._peer

    @property
    def client(self) -> SwarmClient:
        """The swarm client that ``sync_parallel`` and ``async_parallel`` submit through, on
        :attr:`peer` (which serves only while it waits; :meth:`close` stops it)."""
        with self._peer_lock:
            if self._client is None:
                self._client = SwarmClient(self.peer, owns_peer=False)
            return self._client

    def close(self) -> None:
        """Leave the swarm: finish running calls and stop this process's peer."""
        with self._peer_lock:
            peer, self._peer, self._client = self._peer, None, None
        if peer is not None and not peer.lends:  # a lending peer is the worker process's
            peer.close()

    @overload
    def add_pure_function(self, func: Callable[..., Any], /) -> PureFunction: ...

    @overload
    def add_pure_function(
        self, func: None = None, /, *, version: str | None = None
    ) -> Callable[[Callable[..., Any]], PureFunction]: ...

    def add_pure_function(self, func: Callable[..., Any] | None = None, /, *,
                          version: str | None = None) -> Any:
        """Register a pure function: use as ``@cloud.add_pure_function`` or with ``(version="2")``.

        ``version`` replaces the source-derived identity: calls keep their results across edits
        until the version changes.
        """
        if func is None:
            return lambda f: PureFunction(f, self, version=version)
        return PureFunction(func, self, version=version)

    def __repr__(self) -> str:
        return f"SharedStorage_P2P_Cloud({self.store.location!r})"

    @staticmethod
    def reopen_function(func: Callable[..., Any], location: str, version: str | None,
                        identity: bytes | None = None, signed: bool = False) -> PureFunction:
        """What a pure function's pickle calls: :func:`reopen` (see ``PureFunction.__reduce__``)."""
        return reopen(func, location, version, identity, signed)


def reopen(func: Callable[..., Any], location: str, version: str | None,
           identity: bytes | None = None, signed: bool = False) -> PureFunction:
    """A pure function's copy where it arrives (unpickled, or rebuilt from source), on the
    cloud this process has at ``location`` (:meth:`SharedStorage_P2P_Cloud.reopened`); a
    signed one never on an unsigned cloud."""
    return PureFunction(func, SharedStorage_P2P_Cloud.reopened(location, signed),
                        version=version, identity=identity)


portable.reopen_pure_functions_with(reopen)  # for functions rebuilt from source
