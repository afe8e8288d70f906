"""A store that checks every record written to it for private strings, for the tests that
prove no secret or credential is ever written into a location (requests and claims are deleted
once their call is done, so looking at the location afterwards is not enough).

Importable by the worker processes (``tests/`` is on their path): a peer's store travels to
them through the pool, wrapper included, and what they write is checked too. The private
strings and the journal (a file, shared by every process) are named by environment variables.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator

from pythagoras import hookimpl
from pythagoras.storage.base import Store, StoredKey

PRIVATE = "PYTHAGORAS_TEST_PRIVATE"  # the strings, separated by newlines
JOURNAL = "PYTHAGORAS_TEST_JOURNAL"  # one line per record written: "<key> <private?>"


class JournalStore(Store):
    """``inner``, with every record written checked and noted in the journal."""

    def __init__(self, inner: Store) -> None:
        super().__init__(inner.location)
        self.inner = inner
        self.atomic_create = inner.atomic_create
        self.remote = inner.remote

    def _note(self, key: str, data: bytes) -> None:
        private = [s for s in os.environ[PRIVATE].split("\n") if s and s.encode() in data]
        with open(os.environ[JOURNAL], "a") as journal:
            journal.write(f"{key} {' '.join(private) or '-'}\n")

    def read(self, key: str) -> bytes | bytearray | None:
        return self.inner.read(key)

    def write(self, key: str, data: bytes) -> None:
        self._note(key, data)
        self.inner.write(key, data)

    def create(self, key: str, data: bytes) -> bool:
        self._note(key, data)
        return self.inner.create(key, data)

    def create_small(self, key: str, data: bytes) -> bool:
        self._note(key, data)
        return self.inner.create_small(key, data)

    def delete(self, key: str) -> bool:
        return self.inner.delete(key)

    def discard(self, key: str) -> None:
        self.inner.discard(key)

    def delete_many(self, keys: Iterable[str]) -> None:
        self.inner.delete_many(keys)

    def list(self, prefix: str = "") -> Iterator[str]:
        return self.inner.list(prefix)

    def age(self, key: str) -> float | None:
        return self.inner.age(key)

    def scan(self, prefix: str = "") -> Iterator[StoredKey]:
        return self.inner.scan(prefix)

    def size(self, key: str) -> int | None:
        return self.inner.size(key)

    @property
    def backing(self) -> Store:
        return self.inner.backing


class Journal:
    """A plugin that opens ``location`` as a JournalStore (asked before the built-ins)."""

    def __init__(self, location: str) -> None:
        self.location = location

    @hookimpl
    def pythagoras_open_store(self, location: str,
                              storage_options: dict[str, object]) -> Store | None:
        if location != self.location:
            return None
        if "://" in location:
            from pythagoras.storage.fsspec_store import open_fsspec_store

            return JournalStore(open_fsspec_store(location, storage_options))
        from pythagoras.storage.local import LocalFolderStore

        return JournalStore(LocalFolderStore(location))


def written(journal: str) -> list[tuple[str, str]]:
    """Every record noted: (key, the private strings it held, or "-")."""
    with open(journal) as lines:
        return [tuple(line.rstrip("\n").split(" ", 1)) for line in lines]  # type: ignore[misc]
