"""Pieces of the device SDK that need no server: dedup memory, backoff, input checks."""

from __future__ import annotations

import email.utils
import uuid
from datetime import datetime

import pytest

from eagate.client import (
    AckConflictError,
    DeviceAuthError,
    DeviceClient,
    DeviceRevokedError,
    InvalidRequestError,
    RateLimitedError,
    ServerError,
)
from eagate.client.dedup import SeenSignals
from eagate.client.errors import DeviceApiError, error_class
from eagate.client.retry import full_jitter_delay, is_retryable_status, parse_retry_after

SECRET = "ab" * 32
DEVICE = "0193a8f2-7c4e-7b21-9f3d-2a6c8e1b5d40"


def test_seen_signals_reports_each_id_once() -> None:
    seen = SeenSignals(capacity=10)
    a, b = uuid.uuid4(), uuid.uuid4()
    assert seen.first_sighting(a)
    assert not seen.first_sighting(a)
    assert seen.first_sighting(b)
    assert not seen.first_sighting(a)
    assert len(seen) == 2


def test_seen_signals_is_bounded_and_evicts_the_least_recently_seen() -> None:
    seen = SeenSignals(capacity=3)
    a, b, c, d = (uuid.uuid4() for _ in range(4))
    for signal_id in (a, b, c):
        seen.first_sighting(signal_id)
    assert not seen.first_sighting(a)  # redelivered: now the most recent
    assert seen.first_sighting(d)  # evicts b, the least recently seen
    assert len(seen) == 3
    assert a in seen
    assert b not in seen
    assert seen.first_sighting(b)  # forgotten, so it would be handed out again


def test_seen_signals_forget() -> None:
    seen = SeenSignals()
    a = uuid.uuid4()
    seen.first_sighting(a)
    seen.forget(a)
    seen.forget(uuid.uuid4())  # unknown ids are fine
    assert seen.first_sighting(a)


def test_seen_signals_capacity_must_be_positive() -> None:
    with pytest.raises(ValueError, match="capacity"):
        SeenSignals(capacity=0)


@pytest.mark.parametrize("retry", range(8))
def test_full_jitter_stays_within_the_exponential_envelope(retry: int) -> None:
    envelope = min(30.0, 0.5 * 2**retry)
    assert full_jitter_delay(retry, base=0.5, cap=30.0, uniform=lambda lo, hi: hi) == envelope
    assert full_jitter_delay(retry, base=0.5, cap=30.0, uniform=lambda lo, hi: lo) == 0.0


def test_retry_after_forms() -> None:
    now = 1_795_773_600.0
    assert parse_retry_after(None, now=now) is None
    assert parse_retry_after("7", now=now) == 7.0
    assert parse_retry_after(" 0 ", now=now) == 0.0
    http_date = email.utils.formatdate(now + 30, usegmt=True)
    assert parse_retry_after(http_date, now=now) == pytest.approx(30.0)
    past = email.utils.formatdate(now - 30, usegmt=True)
    assert parse_retry_after(past, now=now) == 0.0
    assert parse_retry_after("soon", now=now) is None
    assert parse_retry_after("-5", now=now) is None


@pytest.mark.parametrize(
    ("status", "retryable"),
    [
        *[(status, True) for status in (500, 502, 503, 504, 429)],
        *[(status, False) for status in (400, 401, 404, 409, 413, 422)],
    ],
)
def test_only_5xx_and_429_are_retryable(status: int, retryable: bool) -> None:
    assert is_retryable_status(status) is retryable


@pytest.mark.parametrize(
    ("status", "code", "expected"),
    [
        (401, "device_revoked", DeviceRevokedError),
        (401, "something_new", DeviceAuthError),
        (409, "ack_conflict", AckConflictError),
        (422, "validation_error", InvalidRequestError),
        (429, "", RateLimitedError),
        (502, "", ServerError),
        (418, "", DeviceApiError),
    ],
)
def test_error_class_by_code_then_status(
    status: int, code: str, expected: type[DeviceApiError]
) -> None:
    assert error_class(status, code) is expected


@pytest.mark.parametrize(
    "secret",
    [
        "",
        "ab" * 31,
        "ab" * 33,
        "AB" * 32,  # the key is the text exactly as shown: lowercase
        "zz" * 32,
    ],
)
def test_secret_must_be_64_lowercase_hex(secret: str) -> None:
    with pytest.raises(ValueError, match="64 lowercase hex") as error:
        DeviceClient("http://eagate.test", DEVICE, secret)
    assert secret not in str(error.value) or not secret


def test_secret_whitespace_from_a_paste_is_ignored() -> None:
    DeviceClient("http://eagate.test", DEVICE, f"  {SECRET}\n")


@pytest.mark.parametrize(
    "base_url", ["eagate.test", "ftp://eagate.test", "http://eagate.test/?x=1", "http://"]
)
def test_base_url_must_be_an_http_root(base_url: str) -> None:
    with pytest.raises(ValueError, match="base_url"):
        DeviceClient(base_url, DEVICE, SECRET)


def test_device_id_must_be_a_uuid() -> None:
    with pytest.raises(ValueError, match="device_id must be a UUID"):
        DeviceClient("http://eagate.test", "device-1", SECRET)


def test_repr_and_base_url() -> None:
    device = DeviceClient("https://eagate.example.com/trading/", DEVICE.upper(), SECRET)
    assert device.device_id == DEVICE  # normalised: what X-Device-Id carries and is signed
    assert device.base_url == "https://eagate.example.com/trading"
    assert SECRET not in repr(device)
    assert DEVICE in repr(device)


async def test_naive_executed_at_is_refused() -> None:
    async with DeviceClient("http://eagate.test", DEVICE, SECRET) as device:
        with pytest.raises(ValueError, match="timezone-aware"):
            await device.ack(uuid.uuid4(), "placed", broker_ticket="1", executed_at=datetime.now())
