"""A signed swarm's id and marker, and the secret's hygiene (issue 21).

The attacker here can write the location (not read the members' homes): it copies a record
signed for another swarm with the same secret, deletes or replaces the marker. A member with no
secret or a mistyped one must find out when it opens the location, and touch nothing. Every
test runs on a real folder, and checks the files left in it byte for byte.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from pathlib import Path

import pytest

from pythagoras.errors import StoreError
from pythagoras.storage.local import LocalFolderStore
from pythagoras.storage.memory import MemoryStore
from pythagoras.storage.plugins import open_store
from pythagoras.storage.signed import SecretMismatch, SignedStore, resolve_secret
from pythagoras.storage.swarm_id import MARKER

SECRET = b"the team's secret, 32 bytes long"
TYPO = b"the team's secret, 32 bytes lonk"
KEY = "results/f/ab/abcd"


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` with its bytes (a huge one by its size), links not followed."""
    return {str(p.relative_to(folder)): p.read_bytes() if p.stat().st_size < 1 << 20
            else str(p.stat().st_size).encode()
            for p in folder.rglob("*") if p.is_file() and not p.is_symlink()}


def team_folder(tmp_path: Path) -> tuple[str, SignedStore]:
    folder = str(tmp_path / "swarm")
    team = open_store(folder, secret=SECRET)
    assert isinstance(team, SignedStore)
    team.write(KEY, b"the team's value")
    return folder, team


# -- no replay across swarms -------------------------------------------------------------------


def test_a_record_copied_from_another_swarm_with_the_same_secret_is_refused(tmp_path: Path) -> None:
    folder_a, _ = team_folder(tmp_path / "a")
    folder_b = str(tmp_path / "b")
    b = open_store(folder_b, secret=SECRET)
    copied = Path(folder_a, KEY).read_bytes()
    LocalFolderStore(folder_b).write(KEY, copied)  # the attacker writes B; it read A
    assert b.read(KEY) is None
    assert open_store(folder_a, secret=SECRET).read(KEY) == b"the team's value"


def test_two_peers_opening_a_new_location_at_once_share_one_id(tmp_path: Path) -> None:
    folder = str(tmp_path / "swarm")
    second: list[SignedStore] = []

    class Racing(LocalFolderStore):
        """Lets another peer open the location between this one's look and its create."""

        def create(self, key: str, data: bytes) -> bool:
            if key == MARKER and not second:
                second.append(SignedStore(LocalFolderStore(folder), SECRET))
            return super().create(key, data)

    first = SignedStore(Racing(folder), SECRET)
    assert first.swarm == second[0].swarm  # the loser of the create adopted the winner's id
    first.write(KEY, b"value")
    assert second[0].read(KEY) == b"value"


def test_a_deleted_marker_is_written_again_with_the_swarms_id(tmp_path: Path) -> None:
    folder, team = team_folder(tmp_path)
    os.unlink(os.path.join(folder, MARKER))  # the attacker deletes it
    again = open_store(folder, secret=SECRET)
    assert isinstance(again, SignedStore) and again.swarm == team.swarm
    assert again.read(KEY) == b"the team's value"
    assert json.loads(Path(folder, MARKER).read_bytes())["id"] == team.swarm.id.hex()


def v1_record(key: str, body: bytes, secret: bytes) -> bytes:
    """A record as a signed store wrote it before swarm ids existed."""
    mac = hmac.new(secret, key.encode() + b"\0" + body, hashlib.sha256).digest()
    return body + b"PYTGSIG1" + mac


def test_records_signed_before_swarm_ids_stay_readable_only_in_their_swarm(tmp_path: Path) -> None:
    old = tmp_path / "old"
    LocalFolderStore(str(old)).write(KEY, v1_record(KEY, b"an old value", SECRET))
    store = open_store(str(old), secret=SECRET)  # the first signed peer since the upgrade
    assert isinstance(store, SignedStore) and store.swarm.legacy
    assert store.read(KEY) == b"an old value"
    # A swarm made since refuses such a record: it may come from any swarm with the secret.
    new = open_store(str(tmp_path / "new"), secret=SECRET)
    LocalFolderStore(str(tmp_path / "new")).write(KEY, v1_record(KEY, b"replayed", SECRET))
    assert isinstance(new, SignedStore) and not new.swarm.legacy
    assert new.read(KEY) is None


# -- a member without the right secret touches nothing --------------------------------------------


@pytest.mark.parametrize("secret", [None, TYPO])
def test_a_member_without_the_secret_refuses_to_open_and_touches_nothing(
    tmp_path: Path, secret: bytes | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PYTHAGORAS_SECRET", raising=False)
    monkeypatch.delenv("PYTHAGORAS_SECRET_FILE", raising=False)
    folder, _ = team_folder(tmp_path)
    before = snapshot(Path(folder))
    with pytest.raises(SecretMismatch, match="PYTHAGORAS_SECRET") as refused:
        open_store(folder, secret=secret)
    assert ("has no secret" if secret is None else "another secret") in str(refused.value)
    assert snapshot(Path(folder)) == before


def test_records_of_another_secret_without_a_marker_are_not_taken_over(tmp_path: Path) -> None:
    folder, _ = team_folder(tmp_path)
    os.unlink(os.path.join(folder, MARKER))  # a swarm signed before markers, or one deleted
    before = snapshot(Path(folder))
    with pytest.raises(SecretMismatch, match="signed with another secret"):
        open_store(folder, secret=TYPO)
    assert snapshot(Path(folder)) == before  # no marker of the typo's written


def test_a_member_with_a_secret_does_not_take_over_an_unsigned_swarm(tmp_path: Path) -> None:
    folder = str(tmp_path / "swarm")
    open_store(folder).write(KEY, b"the team's unsigned value")  # a team without a secret
    before = snapshot(Path(folder))
    with pytest.raises(SecretMismatch, match="is not signed.*unset PYTHAGORAS_SECRET"):
        open_store(folder, secret=SECRET)
    assert snapshot(Path(folder)) == before  # nothing quarantined, no marker written
    assert open_store(folder).read(KEY) == b"the team's unsigned value"


def test_a_damaged_marker_is_an_error_that_says_what_to_do(tmp_path: Path) -> None:
    folder, _ = team_folder(tmp_path)
    Path(folder, MARKER).write_bytes(b"{not json")
    for secret in (SECRET, None):
        with pytest.raises(StoreError, match="delete it and open the swarm with its secret"):
            open_store(folder, secret=secret)


def test_the_marker_holds_no_secret_and_is_not_listed(tmp_path: Path) -> None:
    folder, team = team_folder(tmp_path)
    marker = Path(folder, MARKER).read_bytes()
    assert SECRET not in marker and json.loads(marker)["signed"] is True
    assert MARKER not in list(team.list("")) and all(k != MARKER for k, _, _ in team.scan(""))


# -- the secret's hygiene ----------------------------------------------------------------------


def test_a_short_secret_is_refused_with_how_to_make_one() -> None:
    with pytest.raises(ValueError, match=r"15 bytes long .*secrets.token_hex\(32\)"):
        resolve_secret("x" * 15)
    with pytest.raises(ValueError, match="empty"):
        resolve_secret(b"")
    assert resolve_secret("x" * 16) == b"x" * 16


def test_a_string_that_names_a_file_is_refused(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    key_file = tmp_path / "swarm.key"
    key_file.write_text("a key of the team, long enough\n")
    with pytest.raises(ValueError, match=r"names a file.*give Path\(\.\.\.\) of it"):
        resolve_secret(str(key_file))
    monkeypatch.setenv("HOME", str(tmp_path))
    with pytest.raises(ValueError, match="names a file"):
        resolve_secret("~/swarm.key")
    monkeypatch.setenv("PYTHAGORAS_SECRET", str(key_file))
    with pytest.raises(ValueError, match="PYTHAGORAS_SECRET_FILE"):
        resolve_secret(None)


def test_a_path_is_expanded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "swarm.key").write_text("a key of the team, long enough\n")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert resolve_secret(Path("~/swarm.key")) == b"a key of the team, long enough"


def test_a_signed_store_over_memory_has_its_own_marker() -> None:
    inner = MemoryStore()
    SignedStore(inner, SECRET)
    with pytest.raises(SecretMismatch):
        SignedStore(inner, TYPO)


# -- the marker gone, or something else in its place -------------------------------------------


def replace_marker(folder: str, what: str, outside: Path) -> None:
    """What an attacker without the secret (or a sync service that has not yet brought the
    marker to a new machine) leaves at ``swarm.json``."""
    marker = Path(folder, MARKER)
    marker.unlink()
    if what == "link":
        outside.write_bytes(marker_of_another_swarm())
        marker.symlink_to(outside)
    elif what == "folder":
        marker.mkdir()
    elif what == "fifo":
        os.mkfifo(marker)
    elif what == "huge":
        with open(marker, "wb") as sparse:
            sparse.truncate(1 << 30)  # free to make: a read of it would cost a GiB


def marker_of_another_swarm() -> bytes:
    return json.dumps({"pythagoras": "swarm", "signed": True, "id": "00" * 16,
                       "legacy": False, "check": "00" * 32}).encode()


@pytest.mark.parametrize("what", ["deleted", "link", "folder", "fifo", "huge"])
def test_a_member_without_the_secret_refuses_a_signed_swarm_whose_marker_is_gone(
    tmp_path: Path, what: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The team's records say the swarm is signed: a member without the secret refuses to
    open it, rather than read them as corrupt and overwrite them unsigned (before: it did)."""
    monkeypatch.delenv("PYTHAGORAS_SECRET", raising=False)
    monkeypatch.delenv("PYTHAGORAS_SECRET_FILE", raising=False)
    folder, _ = team_folder(tmp_path)
    replace_marker(folder, what, tmp_path / "outside.json")
    before = snapshot(Path(folder))
    with pytest.raises(SecretMismatch, match="records .* are signed.*PYTHAGORAS_SECRET"):
        open_store(folder)
    assert snapshot(Path(folder)) == before


def test_an_unsigned_swarm_opens_without_a_secret(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PYTHAGORAS_SECRET", raising=False)
    monkeypatch.delenv("PYTHAGORAS_SECRET_FILE", raising=False)
    folder = str(tmp_path / "swarm")
    open_store(folder).write(KEY, b"an unsigned value")
    assert open_store(folder).read(KEY) == b"an unsigned value"


@pytest.mark.parametrize("what", ["link", "folder", "fifo", "huge"])
def test_the_team_refuses_what_is_not_a_marker_at_its_name_and_says_what_to_do(
    tmp_path: Path, what: str
) -> None:
    """Something that no peer wrote at ``swarm.json`` is neither followed nor read whole (a
    link, a pipe, a 1 GiB sparse file): the team is told to delete it (before: a sparse one
    cost each peer 2 GiB of memory, the others "vanished while it was opened")."""
    folder, _ = team_folder(tmp_path)
    outside = tmp_path / "outside.json"
    replace_marker(folder, what, outside)
    before = snapshot(Path(folder))
    with pytest.raises(StoreError, match=f"{MARKER} .*not a file a peer wrote.*delete it"):
        open_store(folder, secret=SECRET)
    assert snapshot(Path(folder)) == before
    if what == "link":
        assert outside.read_bytes() == marker_of_another_swarm()
