"""Verifying a signed device request (SPEC 4), independent of the web framework."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import update

from eagate.cluster.coordination import Coordination
from eagate.cluster.throttle import RateLimited, Throttle
from eagate.device_api.credentials import CredentialCache, DeviceCredentials
from eagate.device_api.errors import (
    DeviceAuthError,
    DeviceRevokedAuth,
    InvalidSignature,
    MalformedSignatureHeaders,
    ReplayedNonce,
    TimestampOutOfWindow,
)
from eagate.device_api.failures import AuthFailureLog
from eagate.devices.changes import record_auth_change
from eagate.devices.models import Device
from eagate.kit.clock import Clock
from eagate.kit.db import Database
from eagate.kit.metrics import Metrics
from eagate.kit.signing import (
    HEADER_DEVICE_ID,
    HEADER_NONCE,
    HEADER_SIGNATURE,
    HEADER_TIMESTAMP,
    body_sha256,
    canonical_string,
    parse_device_id,
    parse_signature_headers,
    signature_matches,
)
from eagate.kit.signing import MalformedSignatureHeaders as MalformedHeaders

log = logging.getLogger("eagate.device_api")

# Verified against when the device is unknown, so that path costs the same HMAC.
_UNKNOWN_DEVICE_KEY = b"0" * 64


_SIGNING_HEADERS = {
    name.lower().encode(): name
    for name in (HEADER_DEVICE_ID, HEADER_TIMESTAMP, HEADER_NONCE, HEADER_SIGNATURE)
}


def read_signing_headers(
    raw: Iterable[tuple[bytes, bytes]],
) -> tuple[dict[str, str], str | None]:
    """The signing headers of a request (ASGI form: lower-case names) by name, and the name of
    one sent more than once (None if none was).

    The one reading of them for every signed route: a header sent twice must not be read as
    its first value by one route and its last by another.
    """
    found: dict[str, str] = {}
    repeated = None
    for name, value in raw:
        if name in _SIGNING_HEADERS:
            text = name.decode("latin-1")
            if text in found:
                repeated = _SIGNING_HEADERS[name]
            else:
                found[text] = value.decode("latin-1")
    return found, repeated


# What a verified request resolves to: the cached credentials themselves (no copy per request;
# the key fields are left out of its repr).
AuthenticatedDevice = DeviceCredentials


def _verify(
    credentials: DeviceCredentials | None, canonical: str, signature: bytes, now: int
) -> bool:
    """Whether the current key signed it (else the rotated-out one did); InvalidSignature if
    neither, or the device is unknown (same answer, same HMAC cost)."""
    if credentials is None:
        signature_matches(key=_UNKNOWN_DEVICE_KEY, canonical=canonical, signature=signature)
        raise InvalidSignature()
    if signature_matches(mac=credentials.mac, canonical=canonical, signature=signature):
        return True
    previous = credentials.previous_key_valid(now)
    if previous is not None and signature_matches(
        key=previous, canonical=canonical, signature=signature
    ):
        return False
    raise InvalidSignature(device=credentials)


class DeviceAuthenticator:
    def __init__(
        self,
        *,
        credentials: CredentialCache,
        coordination: Coordination,
        database: Database,
        clock: Clock,
        window_seconds: int,
        throttle: Throttle,
        failures: AuthFailureLog,
        metrics: Metrics,
    ) -> None:
        self._credentials = credentials
        self._coordination = coordination
        self._database = database
        self._clock = clock
        self._window = window_seconds
        self._throttle = throttle
        self._failures = failures
        self._metrics = metrics
        self._retiring: set[uuid.UUID] = set()

    async def authenticate_scope(
        self, scope: Mapping[str, Any], body: bytes
    ) -> AuthenticatedDevice:
        """``authenticate`` for an ASGI request: the method, the target exactly as the client
        sent it (what the device signed), the raw headers and the client's address."""
        raw_path: bytes = scope.get("raw_path") or scope["path"].encode()
        query: bytes = scope.get("query_string", b"")
        target = (raw_path + b"?" + query if query else raw_path).decode("latin-1")
        client = scope.get("client")
        return await self.authenticate(
            method=scope["method"],
            target=target,
            headers=scope["headers"],
            body=body,
            ip=client[0] if client else None,
        )

    async def authenticate(
        self,
        *,
        method: str,
        target: str,
        headers: Iterable[tuple[bytes, bytes]],
        body: bytes,
        ip: str | None,
    ) -> AuthenticatedDevice:
        """The device that signed this request, or a DeviceAuthError in SPEC 4's order; 429
        instead once this client has failed too often (throttle.py). ``headers``: the raw
        (ASGI) request headers."""
        signing, repeated = read_signing_headers(headers)
        device_text = signing.get("x-device-id")
        blocked = self._throttle.retry_after(*Throttle.device_keys(ip, device_text))
        if blocked is not None and not self._credentials.cached(device_text or "")[0]:
            # Past its limit, this address gets no database lookup for ids we do not know.
            self._metrics.auth_failure(RateLimited.code)
            raise RateLimited(blocked)
        try:
            # Even past the limit a correctly signed request from a known device is served:
            # forged requests from a shared address (a VPS farm, a NAT) must not lock out the
            # terminals behind it, and a 256-bit key cannot be guessed anyway.
            return await self._verify_request(method, target, signing, repeated, body)
        except DeviceAuthError as failure:
            self._metrics.auth_failure(failure.code)
            if failure.device is not None:
                self._failures.record(
                    device_id=failure.device.id,
                    client_id=failure.device.client_id,
                    ip=ip,
                    code=failure.code,
                )
            retry_after = blocked or await self._throttle.device_failed(ip, device_text)
            if retry_after is not None:
                raise RateLimited(retry_after) from None
            raise

    async def _verify_request(
        self,
        method: str,
        target: str,
        headers: Mapping[str, str],
        repeated: str | None,
        body: bytes,
    ) -> AuthenticatedDevice:
        now = int(self._clock.time())
        if repeated is not None:
            raise MalformedSignatureHeaders(f"{repeated} sent more than once")
        try:
            signed = parse_signature_headers(headers)
            known, credentials = self._credentials.cached(signed.device_id_text)
            device_id = credentials.id if credentials else parse_device_id(signed.device_id_text)
        except MalformedHeaders as exc:
            raise MalformedSignatureHeaders(str(exc)) from None
        if abs(now - signed.timestamp) > self._window:
            raise TimestampOutOfWindow(
                f"|server_time - X-Timestamp| must be at most {self._window} s; "
                "correct the device clock from server_time",
            )
        if signed.timestamp < self._coordination.remembers_nonces_since:
            # Nonces used before this replay cache existed are unknown to it (a restart of a
            # single process): only requests signed since can be checked for replay.
            raise TimestampOutOfWindow(
                "signed before the server restarted; correct the device clock from server_time",
            )
        canonical = canonical_string(
            method=method,
            path_and_query=target,
            device_id=signed.device_id_text,
            timestamp=signed.timestamp_text,
            nonce=signed.nonce,
            body_hash=body_sha256(body),
        )
        if not known:
            credentials = await self._credentials.get(device_id)
        used_current = _verify(credentials, canonical, signed.signature, now)
        assert credentials is not None
        # Only now, with the signature proven, may the nonce be spent.
        until = signed.timestamp + self._window + 1
        claim = self._coordination.claim_now(
            credentials.key_prefix, signed.nonce, until=until, now=now
        ) or await self._coordination.claim(
            credentials.key_prefix, signed.nonce, until=until, now=now
        )
        if claim.auth_token != credentials.auth_token:
            # Changed on another instance since we cached it: judge by the current state.
            self._credentials.invalidate([device_id])
            credentials = await self._credentials.get(device_id)
            used_current = _verify(credentials, canonical, signed.signature, now)
            assert credentials is not None
        if not claim.fresh:
            raise ReplayedNonce("use a fresh X-Nonce for every request", device=credentials)
        if not credentials.is_active:
            raise DeviceRevokedAuth(device=credentials)
        if used_current and credentials.previous_key is not None:
            await self._retire_previous_key(credentials)
        return credentials

    async def _retire_previous_key(self, credentials: DeviceCredentials) -> None:
        """The device has the new secret: the rotated-out one stops working now (unless the
        secret was rotated again meanwhile: then the new grace period stands)."""
        device_id = credentials.id
        if device_id in self._retiring:
            return
        self._retiring.add(device_id)
        try:
            async with self._database.transaction() as session:
                await session.execute(
                    update(Device)
                    .where(
                        Device.id == device_id,
                        Device.previous_secret_ciphertext.is_not(None),
                        Device.secret_ciphertext == credentials.sealed_key,
                    )
                    .values(
                        previous_secret_ciphertext=None,
                        previous_secret_key_id=None,
                        previous_secret_expires_at=None,
                    )
                )
                record_auth_change(session, [device_id], at=self._clock.now())
        finally:
            self._retiring.discard(device_id)
