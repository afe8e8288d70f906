"""A record's signature: the trailer a signed store adds to every record, and its check.

    record   = body, swarm id (16 bytes), b"PYTGSIG2", HMAC-SHA256(secret, 0x02, swarm id, key, 0, body)

The MAC covers the record's key, so a valid record cannot be replayed under another call's
address, and the swarm id (``swarm_id.py``: written once, when the swarm's first signed peer
opens the location), so a record cannot be replayed into another swarm that uses the same
secret. The id is in the trailer as well, so that a peer that finds the swarm's marker deleted
recovers the id from a record the swarm's members signed, rather than start a new one under
which every record would be refused.

Records signed before swarm ids existed end in ``PYTGSIG1`` and an HMAC-SHA256 of the key, a
zero byte and the body. They are accepted only in a swarm whose marker says it was opened on
such records (``legacy``), never in a swarm created since.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Final

__all__ = ["ID_SIZE", "TRAILER", "Signer", "is_signed"]

_V1: Final = b"PYTGSIG1"
_V2: Final = b"PYTGSIG2"
_MAC: Final = hashlib.sha256().digest_size
ID_SIZE: Final = 16
_V1_TRAILER: Final = len(_V1) + _MAC
TRAILER: Final = ID_SIZE + len(_V2) + _MAC  # what a signed store adds to each record it writes
# Tags that start each MAC's message, so that no MAC of one kind is a MAC of another: a key
# never starts with a control character.
_RECORD: Final = b"\x02"
_CHECK: Final = b"\x03pythagoras swarm\x00"

Data = bytes | bytearray | memoryview


class Signer:
    """Signs and checks records with one secret."""

    __slots__ = ("_key",)

    def __init__(self, key: bytes) -> None:
        self._key = key

    @property
    def key(self) -> bytes:
        return self._key

    def is_key(self, key: bytes) -> bool:
        """True if this signer signs with ``key``."""
        return hmac.compare_digest(self._key, key)

    def sign(self, swarm: bytes, name: str, data: bytes) -> bytes:
        """``data`` stored under ``name`` in the swarm ``swarm``, with its trailer."""
        return b"".join((data, swarm, _V2, self._mac(swarm, name, data)))

    def body(self, name: str, data: Data, swarm: bytes, legacy: bool) -> int | None:
        """The length of the body of ``data`` if it is a record of ``swarm`` under ``name``
        signed with this secret (or, where ``legacy``, an older record signed without a swarm
        id); None if it is not."""
        version, end = _trailer(data)
        with memoryview(data) as view:
            if version == 2:
                return end if (view[end:end + ID_SIZE] == swarm and hmac.compare_digest(
                    view[-_MAC:], self._mac(swarm, name, view[:end]))) else None
            if version == 1 and legacy:
                return end if hmac.compare_digest(view[-_MAC:], self._mac_v1(name, view[:end])) \
                    else None
        return None

    def swarm_of(self, name: str, data: Data) -> bytes | bool | None:
        """What a record found in a location says of its swarm: the id of the swarm it was
        signed for if it carries a valid signature of this secret; True if it is signed, with
        another secret (or altered); False if it carries a valid older signature (no swarm id)
        of this secret; None if it is not signed at all."""
        version, end = _trailer(data)
        with memoryview(data) as view:
            if version == 2:
                swarm = bytes(view[end:end + ID_SIZE])
                ok = hmac.compare_digest(view[-_MAC:], self._mac(swarm, name, view[:end]))
                return swarm if ok else True
            if version == 1:
                return not hmac.compare_digest(view[-_MAC:], self._mac_v1(name, view[:end]))
        return None

    def check_value(self, swarm: bytes, legacy: bool) -> bytes:
        """What the swarm's marker holds to tell a peer, before it touches anything, whether it
        has the swarm's secret. It allows guessing the secret offline, as any signed record
        does: hence secrets of at least 16 bytes (``resolve_secret``)."""
        message = b"".join((_CHECK, swarm, b"\x01" if legacy else b"\x00"))
        return hmac.new(self._key, message, hashlib.sha256).digest()

    def _mac(self, swarm: bytes, name: str, body: Data) -> bytes:
        mac = hmac.new(self._key, _RECORD, hashlib.sha256)
        mac.update(swarm)
        mac.update(name.encode())
        mac.update(b"\0")
        mac.update(body)
        return mac.digest()

    def _mac_v1(self, name: str, body: Data) -> bytes:
        mac = hmac.new(self._key, name.encode(), hashlib.sha256)
        mac.update(b"\0")
        mac.update(body)
        return mac.digest()


def is_signed(data: Data) -> bool:
    """True if ``data`` ends with a signature's trailer (of any secret, valid or not): a
    record of a signed swarm."""
    return _trailer(data)[0] != 0


def _trailer(data: Data) -> tuple[int, int]:
    """The version of the trailer ``data`` ends with (0: none) and where its body ends."""
    size = len(data)
    if size >= TRAILER and bytes(data[-_MAC - len(_V2):-_MAC]) == _V2:
        return 2, size - TRAILER
    if size >= _V1_TRAILER and bytes(data[-_MAC - len(_V1):-_MAC]) == _V1:
        return 1, size - _V1_TRAILER
    return 0, size
