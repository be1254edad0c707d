"""The device API's 401 answers, in the order SPEC 4 checks them (their bodies get server_time
from the problem renderer, like every device-API body)."""

from __future__ import annotations

from typing import Any

from eagate.kit.problems import ProblemError


class DeviceAuthError(ProblemError):
    status = 401

    def __init__(self, detail: str | None = None, *, device: Any = None) -> None:
        super().__init__(detail)
        # The device the failure concerns, when known (for the audit trail; never rendered).
        self.device = device


class MalformedSignatureHeaders(DeviceAuthError):
    code, title = "malformed_signature_headers", "Signature headers missing or malformed"


class TimestampOutOfWindow(DeviceAuthError):
    code, title = "timestamp_out_of_window", "X-Timestamp is outside the accepted window"


class InvalidSignature(DeviceAuthError):
    code, title = "invalid_signature", "Invalid signature"


class ReplayedNonce(DeviceAuthError):
    code, title = "replayed_nonce", "This nonce was already used"


class DeviceRevokedAuth(DeviceAuthError):
    code, title = "device_revoked", "The device is revoked"


class DeviceKeyUnavailable(ProblemError):
    status, code, title = 503, "device_key_unavailable", "The device's key cannot be read"
