"""The options every front-end opens a swarm with, checked once (:class:`SwarmOptions`).

The executor, the joblib backend, ``Memory`` and the tutorial's cloud each take some of them
as keyword arguments; each builds one ``SwarmOptions`` with :meth:`SwarmOptions.of`, so a bad
value fails in the caller, before anything is written, with the same message whichever
front-end it was given to.

An object that travels to another process (pickled: it may be written into the location, in a
request or a function record) carries its location, the storage options that may travel
(``storage/credentials.py``) and whether it is signed, never the secret nor credentials. Its
copy is made with :meth:`SwarmOptions.arrived`: the secret and options of a store open in the
receiving process on the same location, else its environment's; a signed object whose copy
finds no secret refuses to open (:func:`secret_on_arrival`), rather than reopen unsigned.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import warnings
from collections.abc import Mapping
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Any

from ..storage.credentials import opened_options
from ..storage.location import resolve_location
from ..storage.signed import SECRET_VAR, Secret, SecretMismatch, known_secret, resolve_secret
from .engines import Engine, engine_key

__all__ = ["SwarmOptions", "engine_argument", "same_place", "secret_on_arrival"]


@dataclass(frozen=True)
class SwarmOptions:
    """Where a swarm is and how this process takes part in it.

    ``location`` is as given (None: the embedded default; :attr:`where` resolves it),
    ``secret`` the key's bytes (resolved from a str, bytes, a key file's path or the
    environment), ``max_workers`` this process's workers (None: the CPU count; 0: none),
    ``lease_timeout`` the seconds a claim lasts unrenewed, ``engine`` an executor to run this
    process's share of the calls on instead of a loky pool (``docs/engines.md``), ``cache``
    whether a call stored anywhere in the swarm is answered from the store.
    """

    location: str | os.PathLike[str] | None = None
    storage_options: Mapping[str, object] | None = None
    secret: bytes | None = None
    max_workers: int | None = None
    lease_timeout: float = 30.0
    engine: Executor | None = None
    cache: bool = True

    def __post_init__(self) -> None:
        if self.max_workers is not None and self.max_workers < 0:
            raise ValueError(f"max_workers must be None or >= 0, not {self.max_workers}")
        if not self.lease_timeout > 0:
            raise ValueError(f"lease_timeout must be a positive number of seconds, "
                             f"not {self.lease_timeout}")
        object.__setattr__(self, "lease_timeout", float(self.lease_timeout))
        if self.engine is not None:
            Engine(self.engine, self.max_workers)  # a wrong one fails here, in the caller

    @classmethod
    def of(cls, location: str | os.PathLike[str] | None = None, *,
           storage_options: Mapping[str, object] | None = None, secret: Secret | None = None,
           max_workers: int | None = None, lease_timeout: float = 30.0,
           engine: Executor | None = None, cache: bool = True) -> SwarmOptions:
        """The options checked, with the secret resolved (a bad one raises here)."""
        return cls(location, storage_options, resolve_secret(secret), max_workers, lease_timeout,
                   engine, cache)

    @classmethod
    def arrived(cls, location: str | os.PathLike[str] | None, *, signed: bool,
                storage_options: Mapping[str, object] | None = None, **options: Any,
                ) -> SwarmOptions:
        """The options of an object that arrived in this process (unpickled): its secret and
        storage options taken here (:func:`secret_on_arrival`, the options a store was opened
        with here on the same location, else ``storage_options``, the public ones it
        carried)."""
        where = same_place(resolve_location(location))
        return cls.of(location, storage_options=opened_options(where) or storage_options,
                      secret=secret_on_arrival(where, signed), **options)

    def replace(self, **changes: Any) -> SwarmOptions:
        """These options with some changed (and checked again)."""
        return dataclasses.replace(self, **changes)

    @property
    def where(self) -> str:
        """The location resolved: a folder's absolute path, or a URL."""
        return resolve_location(self.location)

    def key(self) -> tuple[Any, ...]:
        """What tells these options apart where equal options share one peer (the joblib
        backend's warm executors): the secret by its hash, an engine by its identity."""
        storage = self.storage_options
        return (self.where, self.max_workers, self.cache, self.lease_timeout,
                None if storage is None else repr(sorted(storage.items())),
                None if self.secret is None else hashlib.sha256(self.secret).hexdigest(),
                engine_key(self.engine))


def same_place(location: str) -> str:
    """``location`` as a store names it: a folder by its absolute path, a URL as it is."""
    return location if "://" in location else os.path.abspath(os.path.expanduser(location))


def secret_on_arrival(location: str, signed: bool) -> bytes | None:
    """The secret of an object that arrived here on ``location`` (a store's name for it): that
    of a signed store open in this process on it (a peer's, in its worker), else the
    environment's. :class:`SecretMismatch` if the object was ``signed`` and there is none: a
    signed object never reopens unsigned."""
    key = known_secret(location)
    if key is None and signed:
        raise SecretMismatch(
            f"an object of the signed swarm at {location} arrived in this process, which has no "
            f"secret for it: set {SECRET_VAR} (or PYTHAGORAS_SECRET_FILE) to the swarm's secret "
            "here. Secrets never travel with objects (docs/trust.md).")
    return key


def engine_argument(engine: Executor | None, executor: Executor | None, *,
                    stacklevel: int = 3) -> Executor | None:
    """The engine a front-end was given: ``engine=``, or the old spelling ``executor=`` with a
    DeprecationWarning (``stacklevel`` points it at the caller's line)."""
    if executor is None:
        return engine
    if engine is not None:
        raise TypeError("give the engine once: engine= (executor= is its old name), not both")
    warnings.warn("executor= is deprecated: give the engine as engine=", DeprecationWarning,
                  stacklevel=stacklevel)
    return executor
