"""The device SDK against the real app (SQLite and PostgreSQL), over its ASGI transport."""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import httpx
import pytest

from eagate.client import (
    AckConflictError,
    DeviceApiError,
    DeviceConnectionError,
    DeviceRevokedError,
    InvalidRequestError,
    InvalidSignatureError,
    RateLimitedError,
    ServerError,
    SignalNotFoundError,
    TimestampOutOfWindowError,
)
from eagate.kit.clock import FrozenClock
from tests.fixtures.api import API
from tests.fixtures.app import AppClientFactory
from tests.fixtures.devices import register_device
from tests.fixtures.owners import Owner, new_owner
from tests.fixtures.sdk import (
    Sleeps,
    WrapperTransport,
    connect_failure,
    read_timeout,
    recompute_signature,
    require_device_api,
    sdk,
    status_failure,
)
from tests.fixtures.signals import create_signal


@dataclass
class Setup:
    http: httpx.AsyncClient
    owner: Owner
    device: dict[str, Any]


@pytest.fixture
async def setup(client: httpx.AsyncClient) -> Setup:
    await require_device_api(client)
    owner = await new_owner(client)
    return Setup(client, owner, await register_device(client, owner))


def _sleeps(device: Any) -> Sleeps:
    sleeps = device._sleep
    assert isinstance(sleeps, Sleeps)
    return sleeps


# -- signing ---------------------------------------------------------------------------------------


async def test_me(setup: Setup) -> None:
    async with sdk(setup.http, setup.device) as device:
        me = await device.me()
    assert str(me.device_id) == setup.device["id"]
    assert me.device_name == setup.device["device_name"]
    assert str(me.client_id) == setup.owner.id
    assert abs(me.server_time - time.time()) < 5


async def test_signature_covers_exactly_the_target_sent(setup: Setup) -> None:
    wrapper = WrapperTransport(setup.http._transport)
    async with sdk(setup.http, setup.device, transport=wrapper) as device:
        await device.me()
        await device.poll(wait=0, limit=7)
        with pytest.raises(SignalNotFoundError):
            await device.ack(uuid.uuid4(), "placed", broker_ticket="1")

    targets = [request.url.raw_path for request in wrapper.requests]
    # An empty query is sent without "?": the server could not tell "/x" from "/x?".
    assert targets == [
        b"/api/v1/device/me",
        b"/api/v1/device/poll?wait=0&limit=7",
        b"/api/v1/device/ack",
    ]
    nonces = {request.headers["X-Nonce"] for request in wrapper.requests}
    assert len(nonces) == 3
    for request in wrapper.requests:
        assert request.headers["X-Signature"] == recompute_signature(
            request, setup.device["secret"]
        )
    ack = wrapper.requests[2]
    assert ack.headers["Content-Type"] == "application/json"
    assert ack.content.startswith(b'{"signal_id":')


async def test_base_url_may_have_a_trailing_slash(setup: Setup) -> None:
    async with sdk(setup.http, setup.device, base_url="http://eagate.test/") as device:
        assert (await device.me()).device_name == setup.device["device_name"]


async def test_base_url_path_prefix_is_kept_and_signed(setup: Setup) -> None:
    # For a server mounted under a prefix (this test app is not, so it answers 404).
    wrapper = WrapperTransport(setup.http._transport)
    async with sdk(
        setup.http, setup.device, transport=wrapper, base_url="http://eagate.test/trading/"
    ) as device:
        with pytest.raises(DeviceApiError) as error:
            await device.me()
    assert (error.value.status, error.value.code) == (404, "not_found")
    (request,) = wrapper.requests
    assert request.url.raw_path == b"/trading/api/v1/device/me"
    assert request.headers["X-Signature"] == recompute_signature(request, setup.device["secret"])


# -- poll and ack ---------------------------------------------------------------------------------


async def test_poll_empty(setup: Setup) -> None:
    async with sdk(setup.http, setup.device) as device:
        result = await device.poll()
    assert result.signals == []
    assert result.next_poll_seconds == 5
    assert abs(result.server_time - time.time()) < 5


async def test_poll_then_ack(setup: Setup) -> None:
    signal = await create_signal(
        setup.http,
        setup.owner,
        setup.device["id"],
        order_type="limit",
        price=1.08765,
        volume=0.1,
        sl=1.08,
        comment="grid [1/3]",
    )
    async with sdk(setup.http, setup.device) as device:
        result = await device.poll(wait=0)
        assert [str(s.signal_id) for s in result.signals] == [signal["id"]]
        got = result.signals[0]
        assert (got.instrument, got.side, got.order_type) == ("EURUSD", "buy", "limit")
        assert got.volume == Decimal("0.1")  # exact, not 0.1000000000000000055...
        assert got.price == Decimal("1.08765")
        assert got.sl == Decimal("1.08")
        assert got.tp is None
        assert got.comment == "grid [1/3]"
        assert got.attempt == 1

        first = await device.ack(got.signal_id, "placed", broker_ticket="501234567")
        assert (first.status, first.broker_ticket, first.error) == ("placed", "501234567", None)
        again = await device.ack(got.signal_id, "placed", broker_ticket="501234567")
        assert again.recorded_at == first.recorded_at
        with pytest.raises(AckConflictError) as conflict:
            await device.ack(got.signal_id, "failed", error="requote")
        assert conflict.value.status == 409

    owner_view = await setup.http.get(f"{API}/signals/{signal['id']}", headers=setup.owner.headers)
    (delivery,) = owner_view.json()["deliveries"]
    assert (delivery["status"], delivery["broker_ticket"]) == ("placed", "501234567")


async def test_ack_failed_with_non_ascii_error(setup: Setup) -> None:
    signal = await create_signal(setup.http, setup.owner, setup.device["id"])
    async with sdk(setup.http, setup.device) as device:
        (got,) = (await device.poll()).signals
        result = await device.ack(got.signal_id, "failed", error="Requote: prix refusé — 价格")
    assert result.signal_id == uuid.UUID(signal["id"])
    assert result.error == "Requote: prix refusé — 价格"


async def test_redelivery_reaches_the_caller_once(app_client: AppClientFactory) -> None:
    clock = FrozenClock()
    async with app_client(clock=clock) as http:
        await require_device_api(http)
        owner = await new_owner(http)
        device_row = await register_device(http, owner)
        signal = await create_signal(http, owner, device_row["id"])
        wrapper = WrapperTransport(http._transport)
        async with sdk(http, device_row, transport=wrapper) as device:
            first = await device.poll()
            assert [(str(s.signal_id), s.attempt) for s in first.signals] == [(signal["id"], 1)]

            clock.advance(31)  # past EAGATE_DELIVERY_LEASE_SECONDS without an ack
            second = await device.poll()
            raw = wrapper.response(-1).json()["signals"]
            assert [(s["signal_id"], s["attempt"]) for s in raw] == [(signal["id"], 2)]
            assert second.signals == []
            assert second.duplicates_dropped == 1

            # A process that forgot it (e.g. restarted) sees the next redelivery.
            device.forget(signal["id"])
            clock.advance(31)
            third = await device.poll()
            assert [(str(s.signal_id), s.attempt) for s in third.signals] == [(signal["id"], 3)]


# -- retries ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "failure",
    [
        pytest.param(status_failure(503), id="503"),
        pytest.param(status_failure(500, code="internal_error"), id="500"),
        pytest.param(status_failure(502), id="502"),
        pytest.param(connect_failure, id="connect-error"),
        pytest.param(read_timeout, id="read-timeout"),
    ],
)
async def test_retries_then_succeeds(setup: Setup, failure: Any) -> None:
    wrapper = WrapperTransport(setup.http._transport, fail_first=2, failure=failure)
    async with sdk(setup.http, setup.device, transport=wrapper, backoff_base=0.5) as device:
        me = await device.me()
        delays = _sleeps(device).delays
    assert str(me.device_id) == setup.device["id"]
    assert len(wrapper.requests) == 3
    # Every attempt is signed afresh: its own nonce, and a valid signature.
    assert len({r.headers["X-Nonce"] for r in wrapper.requests}) == 3
    for request in wrapper.requests:
        assert request.headers["X-Signature"] == recompute_signature(
            request, setup.device["secret"]
        )
    # Full jitter: uniform in [0, base * 2**retry].
    assert len(delays) == 2
    assert 0 <= delays[0] <= 0.5
    assert 0 <= delays[1] <= 1.0


async def test_ack_whose_response_was_lost_is_retried_safely(setup: Setup) -> None:
    signal = await create_signal(setup.http, setup.owner, setup.device["id"])
    # The first ack reaches the server and is recorded; its response is lost on the way back.
    async with sdk(setup.http, setup.device) as device:
        (got,) = (await device.poll()).signals
    wrapper = WrapperTransport(
        setup.http._transport, fail_first=1, failure=read_timeout, forward_failures=True
    )
    async with sdk(setup.http, setup.device, transport=wrapper) as device:
        result = await device.ack(got.signal_id, "placed", broker_ticket="77")
    assert len(wrapper.requests) == 2  # the lost ack and its retry
    assert (str(result.signal_id), result.status, result.broker_ticket) == (
        signal["id"],
        "placed",
        "77",
    )
    owner_view = await setup.http.get(f"{API}/signals/{signal['id']}", headers=setup.owner.headers)
    (delivery,) = owner_view.json()["deliveries"]
    assert (delivery["status"], delivery["broker_ticket"]) == ("placed", "77")


@pytest.mark.parametrize("status", [429, 503])
async def test_retry_after_is_honoured(setup: Setup, status: int) -> None:
    wrapper = WrapperTransport(
        setup.http._transport,
        fail_first=1,
        failure=status_failure(status, headers={"Retry-After": "7"}),
    )
    async with sdk(setup.http, setup.device, transport=wrapper) as device:
        await device.me()
        assert _sleeps(device).delays == [7.0]
    assert len(wrapper.requests) == 2


async def test_retry_after_beyond_the_cap_is_not_waited_for(setup: Setup) -> None:
    wrapper = WrapperTransport(
        setup.http._transport,
        fail_first=1,
        failure=status_failure(429, headers={"Retry-After": "3600"}),
    )
    async with sdk(setup.http, setup.device, transport=wrapper, retry_after_cap=60) as device:
        with pytest.raises(RateLimitedError):
            await device.me()
        assert _sleeps(device).delays == []
    assert len(wrapper.requests) == 1


async def test_gives_up_after_max_retries(setup: Setup) -> None:
    wrapper = WrapperTransport(setup.http._transport, fail_first=100, failure=status_failure(503))
    async with sdk(setup.http, setup.device, transport=wrapper, max_retries=2) as device:
        with pytest.raises(ServerError) as error:
            await device.me()
    assert error.value.status == 503
    assert len(wrapper.requests) == 3

    wrapper = WrapperTransport(setup.http._transport, fail_first=100, failure=connect_failure)
    async with sdk(setup.http, setup.device, transport=wrapper, max_retries=2) as device:
        with pytest.raises(DeviceConnectionError):
            await device.me()
    assert len(wrapper.requests) == 3


async def test_a_proxy_error_page_becomes_a_typed_error(setup: Setup) -> None:
    def bad_gateway(request: httpx.Request) -> httpx.Response:
        return httpx.Response(502, text="<html>Bad Gateway</html>", request=request)

    wrapper = WrapperTransport(setup.http._transport, fail_first=100, failure=bad_gateway)
    async with sdk(setup.http, setup.device, transport=wrapper, max_retries=1) as device:
        with pytest.raises(ServerError) as error:
            await device.poll()
    assert (error.value.status, error.value.code, error.value.detail) == (
        502,
        "http_502",
        "Bad Gateway",
    )
    assert len(wrapper.requests) == 2


async def test_wrong_secret_is_not_retried(setup: Setup) -> None:
    wrapper = WrapperTransport(setup.http._transport)
    wrong = {**setup.device, "secret": "0" * 64}
    async with sdk(setup.http, wrong, transport=wrapper) as device:
        with pytest.raises(InvalidSignatureError) as error:
            await device.me()
        assert _sleeps(device).delays == []
    assert (error.value.status, error.value.code) == (401, "invalid_signature")
    assert isinstance(error.value.server_time, int)
    assert len(wrapper.requests) == 1


async def test_validation_error_is_not_retried(setup: Setup) -> None:
    wrapper = WrapperTransport(setup.http._transport)
    async with sdk(setup.http, setup.device, transport=wrapper) as device:
        with pytest.raises(InvalidRequestError) as error:
            await device.poll(wait=31)
        with pytest.raises(SignalNotFoundError):
            await device.ack(uuid.uuid4(), "placed", broker_ticket="1")
    assert error.value.status == 422
    assert error.value.errors
    assert len(wrapper.requests) == 2


async def test_revoked_device_is_told_so(setup: Setup) -> None:
    revoked = await setup.http.post(
        f"{API}/devices/{setup.device['id']}/revoke", headers=setup.owner.headers
    )
    assert revoked.status_code == 200
    wrapper = WrapperTransport(setup.http._transport)
    async with sdk(setup.http, setup.device, transport=wrapper) as device:
        with pytest.raises(DeviceRevokedError):
            await device.poll()
    assert len(wrapper.requests) == 1


# -- clock -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("skew", [-400, 400])
async def test_clock_offset_is_corrected_from_the_server(setup: Setup, skew: int) -> None:
    wrapper = WrapperTransport(setup.http._transport)
    async with sdk(
        setup.http, setup.device, transport=wrapper, clock=lambda: time.time() + skew
    ) as device:
        me = await device.me()
        assert str(me.device_id) == setup.device["id"]
        assert len(wrapper.requests) == 2
        refused = wrapper.response(0)
        assert refused.status_code == 401
        assert refused.json()["code"] == "timestamp_out_of_window"
        first, second = wrapper.requests
        assert abs(int(first.headers["X-Timestamp"]) - time.time()) > 390
        assert abs(int(second.headers["X-Timestamp"]) - time.time()) < 3
        assert first.headers["X-Nonce"] != second.headers["X-Nonce"]
        assert abs(device.clock_offset + skew) < 3
        assert _sleeps(device).delays == []  # a clock correction is not a backoff

        await device.poll()  # the offset sticks: no more refusals
        assert len(wrapper.requests) == 3


async def test_clock_is_corrected_once_only(setup: Setup) -> None:
    wrapper = WrapperTransport(
        setup.http._transport,
        fail_first=100,
        failure=status_failure(401, code="timestamp_out_of_window"),
    )
    async with sdk(setup.http, setup.device, transport=wrapper) as device:
        with pytest.raises(TimestampOutOfWindowError):
            await device.me()
    assert len(wrapper.requests) == 2


async def test_offset_is_learned_from_every_response(app_client: AppClientFactory) -> None:
    # Inside the window, but two minutes behind. (Not ahead: PyJWT's own wall-clock `iat`
    # check would refuse the owner's token issued "in the future".)
    server_clock = FrozenClock(time.time() - 120)
    async with app_client(clock=server_clock) as http:
        await require_device_api(http)
        owner = await new_owner(http)
        device_row = await register_device(http, owner)
        async with sdk(http, device_row) as device:
            assert device.clock_offset == 0
            await device.me()
            assert abs(device.clock_offset + 120) < 3
            server_clock.advance(100)
            await device.poll()
            assert abs(device.clock_offset + 20) < 3


# -- secrets stay secret ---------------------------------------------------------------------------


async def test_secret_and_signatures_are_never_logged(
    setup: Setup, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    wrapper = WrapperTransport(setup.http._transport, fail_first=1, failure=status_failure(503))
    async with sdk(
        setup.http, setup.device, transport=wrapper, clock=lambda: time.time() - 400
    ) as device:
        await device.me()
        await device.poll()
        assert setup.device["secret"] not in repr(device)
    assert "retry" in caplog.text  # the retry was logged...
    assert setup.device["secret"] not in caplog.text  # ...without the secret
    for request in wrapper.requests:
        assert request.headers["X-Signature"] not in caplog.text
