"""Device secrets: generation, fingerprint, and encryption at rest under the master key.

The HMAC key is the ASCII of the 64-hex secret itself, so the server must be able to recover
it: it keeps AES-256-GCM ciphertext bound to the device id, under a master key that never
touches the database. A database copy alone therefore cannot forge a request.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import uuid
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

SECRET_HEX_CHARS = 64
_NONCE_BYTES = 12


def generate_secret() -> str:
    """256 bits from the OS CSPRNG, as 64 lowercase hex characters."""
    return secrets.token_hex(SECRET_HEX_CHARS // 2)


def fingerprint_of(secret: str) -> str:
    """First 8 hex chars of SHA-256(secret): lets an owner tell which secret an EA holds."""
    return hashlib.sha256(secret.encode("ascii")).hexdigest()[:8]


def key_id_of(master_key: bytes) -> str:
    """A public label for a master key (a one-way function of 256 random bits)."""
    return hashlib.sha256(b"eagate-master-key-id\x00" + master_key).hexdigest()[:16]


class UnknownMasterKey(LookupError):
    """Ciphertext under a master key this process was not given."""


@dataclass(frozen=True)
class SealedSecret:
    key_id: str
    ciphertext: bytes  # nonce || AES-GCM ciphertext+tag


class SecretBox:
    """Encrypts device secrets under the current master key; decrypts under any known one."""

    def __init__(self, current: bytes, previous: tuple[bytes, ...] = ()) -> None:
        self.current_key_id = key_id_of(current)
        self._ciphers = {key_id_of(key): AESGCM(key) for key in (*previous, current)}

    def __repr__(self) -> str:
        return f"SecretBox(current_key_id={self.current_key_id!r})"

    def seal(self, *, device_id: uuid.UUID, secret: str) -> SealedSecret:
        nonce = os.urandom(_NONCE_BYTES)
        cipher = self._ciphers[self.current_key_id]
        body = cipher.encrypt(nonce, secret.encode("ascii"), device_id.bytes)
        return SealedSecret(self.current_key_id, nonce + body)

    def open(self, *, device_id: uuid.UUID, sealed: SealedSecret) -> bytes:
        """The HMAC key bytes. Raises UnknownMasterKey or InvalidTag (tampered or swapped)."""
        cipher = self._ciphers.get(sealed.key_id)
        if cipher is None:
            raise UnknownMasterKey(sealed.key_id)
        nonce, body = sealed.ciphertext[:_NONCE_BYTES], sealed.ciphertext[_NONCE_BYTES:]
        return cipher.decrypt(nonce, body, device_id.bytes)

    def knows(self, key_id: str) -> bool:
        return key_id in self._ciphers


__all__ = [
    "InvalidTag",
    "SealedSecret",
    "SecretBox",
    "UnknownMasterKey",
    "fingerprint_of",
    "generate_secret",
]
