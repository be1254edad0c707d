"""The device SDK: an async client for the signed device API (SPEC 4)."""

from eagate.client.client import DeviceClient
from eagate.client.errors import (
    AckConflictError,
    DeviceApiError,
    DeviceAuthError,
    DeviceClientError,
    DeviceConnectionError,
    DeviceRevokedError,
    InvalidRequestError,
    InvalidSignatureError,
    MalformedSignatureHeadersError,
    RateLimitedError,
    ReplayedNonceError,
    ServerError,
    SignalNotFoundError,
    TimestampOutOfWindowError,
)
from eagate.client.models import AckResult, AckStatus, DeviceInfo, DeviceSignal, PollResult

__all__ = [
    "AckConflictError",
    "AckResult",
    "AckStatus",
    "DeviceApiError",
    "DeviceAuthError",
    "DeviceClient",
    "DeviceClientError",
    "DeviceConnectionError",
    "DeviceInfo",
    "DeviceRevokedError",
    "DeviceSignal",
    "InvalidRequestError",
    "InvalidSignatureError",
    "MalformedSignatureHeadersError",
    "PollResult",
    "RateLimitedError",
    "ReplayedNonceError",
    "ServerError",
    "SignalNotFoundError",
    "TimestampOutOfWindowError",
]
