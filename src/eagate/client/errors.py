"""Typed errors of the device SDK: one class per stable problem `code` of SPEC 4."""

from __future__ import annotations

from typing import Any


class DeviceClientError(Exception):
    """Anything the device SDK raises on purpose."""


class DeviceConnectionError(DeviceClientError):
    """The server could not be reached (connection error or timeout) after every retry."""


class DeviceApiError(DeviceClientError):
    """The server answered with an error status (RFC 9457 problem details when it could)."""

    def __init__(
        self,
        *,
        status: int,
        code: str,
        detail: str,
        server_time: int | None = None,
        request_id: str | None = None,
        body: dict[str, Any] | None = None,
    ) -> None:
        self.status = status
        self.code = code
        self.detail = detail
        self.server_time = server_time
        self.request_id = request_id
        self.body = body or {}
        super().__init__(f"{status} {code}: {detail}")


class DeviceAuthError(DeviceApiError):
    """401: the server refused the request's signature (see the subclasses)."""


class MalformedSignatureHeadersError(DeviceAuthError):
    """A signing header was missing or malformed (a bug in the signer)."""


class TimestampOutOfWindowError(DeviceAuthError):
    """X-Timestamp was too far from the server's clock, even after one correction."""


class InvalidSignatureError(DeviceAuthError):
    """Unknown device or wrong signature: check the device id and the secret."""


class ReplayedNonceError(DeviceAuthError):
    """The nonce was already used by this device."""


class DeviceRevokedError(DeviceAuthError):
    """The device is revoked: stop polling."""


class SignalNotFoundError(DeviceApiError):
    """404: no such signal for this device."""


class AckConflictError(DeviceApiError):
    """409: the signal was already acknowledged differently."""


class InvalidRequestError(DeviceApiError):
    """422: the request failed validation; `errors` lists field and message."""

    @property
    def errors(self) -> list[dict[str, Any]]:
        errors = self.body.get("errors")
        return errors if isinstance(errors, list) else []


class RateLimitedError(DeviceApiError):
    """429: too many requests, still refused after the retries."""


class ServerError(DeviceApiError):
    """5xx: the server failed, still failing after the retries."""


_BY_CODE: dict[str, type[DeviceApiError]] = {
    "malformed_signature_headers": MalformedSignatureHeadersError,
    "timestamp_out_of_window": TimestampOutOfWindowError,
    "invalid_signature": InvalidSignatureError,
    "replayed_nonce": ReplayedNonceError,
    "device_revoked": DeviceRevokedError,
    "signal_not_found": SignalNotFoundError,
    "ack_conflict": AckConflictError,
    "validation_error": InvalidRequestError,
}


def error_class(status: int, code: str) -> type[DeviceApiError]:
    """The most specific error class for a response's status and problem code."""
    if code in _BY_CODE:
        return _BY_CODE[code]
    if status == 401:
        return DeviceAuthError
    if status == 429:
        return RateLimitedError
    if status >= 500:
        return ServerError
    return DeviceApiError
