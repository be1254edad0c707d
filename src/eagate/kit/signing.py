"""The device request-signing protocol (SPEC 4) as pure functions.

Both the server and the client SDK import this module: there is one implementation.

Canonical string, six lines joined by ``\\n`` with no trailing newline::

    METHOD            upper case
    PATH_AND_QUERY    the request target exactly as sent
    DEVICE_ID         as in X-Device-Id
    TIMESTAMP         as in X-Timestamp (unix seconds)
    NONCE             as in X-Nonce
    BODY_SHA256       lowercase hex SHA-256 of the raw body (of b"" when there is none)

Signature: standard padded base64 of HMAC-SHA256(key, canonical), where the key is the ASCII
bytes of the device secret exactly as shown to the owner.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import secrets
import uuid
from collections.abc import Mapping
from typing import NamedTuple

HEADER_DEVICE_ID = "X-Device-Id"
HEADER_TIMESTAMP = "X-Timestamp"
HEADER_NONCE = "X-Nonce"
HEADER_SIGNATURE = "X-Signature"

NONCE_PATTERN = re.compile(r"[A-Za-z0-9_-]{16,64}")
_TIMESTAMP_PATTERN = re.compile(r"[0-9]{1,12}")
_SIGNATURE_LENGTH = 44  # base64 of 32 bytes, padded

EMPTY_BODY_SHA256 = hashlib.sha256(b"").hexdigest()


def body_sha256(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest() if body else EMPTY_BODY_SHA256


def canonical_string(
    *,
    method: str,
    path_and_query: str,
    device_id: str,
    timestamp: int | str,
    nonce: str,
    body_hash: str,
) -> str:
    return "\n".join((method.upper(), path_and_query, device_id, str(timestamp), nonce, body_hash))


def key_from_secret(secret: str) -> bytes:
    """The HMAC key: the secret's ASCII bytes exactly as shown (64 lowercase hex chars)."""
    return secret.encode("ascii")


def sign(*, key: bytes, canonical: str) -> str:
    digest = hmac.new(key, canonical.encode("utf-8"), hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def keyed_mac(key: bytes) -> hmac.HMAC:
    """HMAC-SHA256 with the key already absorbed: copying it skips two SHA-256 blocks of key
    set-up on every request (``signature_matches(mac=...)``)."""
    return hmac.new(key, digestmod=hashlib.sha256)


def signature_matches(
    *, key: bytes | None = None, mac: hmac.HMAC | None = None, canonical: str, signature: bytes
) -> bool:
    """Constant-time comparison of the raw 32-byte signature."""
    if mac is not None:
        keyed = mac.copy()
        keyed.update(canonical.encode("utf-8"))
        return hmac.compare_digest(keyed.digest(), signature)
    assert key is not None
    return hmac.compare_digest(hmac.digest(key, canonical.encode("utf-8"), "sha256"), signature)


def new_nonce() -> str:
    """32 characters of [A-Za-z0-9_-] from the OS CSPRNG."""
    return secrets.token_urlsafe(24)


def signed_headers(
    *,
    secret: str,
    device_id: str,
    method: str,
    path_and_query: str,
    body: bytes = b"",
    timestamp: int,
    nonce: str | None = None,
) -> dict[str, str]:
    """The four headers a device sends with one request."""
    nonce = nonce or new_nonce()
    canonical = canonical_string(
        method=method,
        path_and_query=path_and_query,
        device_id=device_id,
        timestamp=timestamp,
        nonce=nonce,
        body_hash=body_sha256(body),
    )
    return {
        HEADER_DEVICE_ID: device_id,
        HEADER_TIMESTAMP: str(timestamp),
        HEADER_NONCE: nonce,
        HEADER_SIGNATURE: sign(key=key_from_secret(secret), canonical=canonical),
    }


class MalformedSignatureHeaders(ValueError):
    """A signing header is missing or not of its documented form."""


class SignatureHeaders(NamedTuple):  # a NamedTuple: built on every device request, cheaply
    device_id_text: str  # exactly as sent: it is part of the canonical string
    timestamp: int
    timestamp_text: str
    nonce: str
    signature: bytes


def parse_device_id(text: str) -> uuid.UUID:
    try:
        return uuid.UUID(text)
    except ValueError:
        raise MalformedSignatureHeaders(f"{HEADER_DEVICE_ID} is not a UUID") from None


def parse_signature_headers(headers: Mapping[str, str]) -> SignatureHeaders:
    """Validate the four headers' presence and form (not the signature itself).

    ``headers`` is looked up by lower-case name (HTTP header names are case-insensitive). The
    device id's UUID form is checked by ``parse_device_id``: the server skips that for ids it
    already knows.
    """
    device_id_text = headers.get("x-device-id")
    timestamp_text = headers.get("x-timestamp")
    nonce = headers.get("x-nonce")
    signature_text = headers.get("x-signature")
    if device_id_text is None or timestamp_text is None or nonce is None or signature_text is None:
        missing = [
            name
            for name in (HEADER_DEVICE_ID, HEADER_TIMESTAMP, HEADER_NONCE, HEADER_SIGNATURE)
            if headers.get(name.lower()) is None
        ]
        raise MalformedSignatureHeaders("missing " + ", ".join(missing))
    if not _TIMESTAMP_PATTERN.fullmatch(timestamp_text):
        raise MalformedSignatureHeaders(f"{HEADER_TIMESTAMP} must be unix seconds")
    if not NONCE_PATTERN.fullmatch(nonce):
        raise MalformedSignatureHeaders(f"{HEADER_NONCE} must be 16-64 chars of [A-Za-z0-9_-]")
    if len(signature_text) != _SIGNATURE_LENGTH:
        raise MalformedSignatureHeaders(f"{HEADER_SIGNATURE} must be base64 of 32 bytes")
    try:
        # strict_mode: standard alphabet and padding only, nothing skipped (what
        # b64decode(validate=True) checks, without its Python-level wrapper).
        signature = binascii.a2b_base64(signature_text, strict_mode=True)
    except (binascii.Error, ValueError):
        raise MalformedSignatureHeaders(f"{HEADER_SIGNATURE} is not standard base64") from None
    if len(signature) != 32:  # 44 characters can also decode to 31 or 33 bytes
        raise MalformedSignatureHeaders(f"{HEADER_SIGNATURE} must be base64 of 32 bytes")
    return SignatureHeaders(
        device_id_text=device_id_text,
        timestamp=int(timestamp_text),
        timestamp_text=timestamp_text,
        nonce=nonce,
        signature=signature,
    )
