"""SPEC 4: every device request is signed; failures come in a fixed order, each with server_time."""

from __future__ import annotations

import base64
import time

import httpx
import pytest

from eagate.kit.clock import FrozenClock
from tests.fixtures.api import assert_problem
from tests.fixtures.app import AppClientFactory
from tests.fixtures.devices import register_device
from tests.fixtures.owners import new_owner
from tests.fixtures.signing import signed_request


async def test_signed_me_answers_who_the_device_is(client: httpx.AsyncClient) -> None:
    owner = await new_owner(client)
    device = await register_device(client, owner, "Scalper")

    response = await signed_request(client, device, "GET", "/api/v1/device/me")

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["device_id"] == device["id"]
    assert body["device_name"] == "Scalper"
    assert body["client_id"] == owner.id
    assert abs(body["server_time"] - time.time()) < 5
    assert int(response.headers["x-server-time"]) == pytest.approx(time.time(), abs=5)


async def test_replayed_request_is_refused(client: httpx.AsyncClient) -> None:
    owner = await new_owner(client)
    device = await register_device(client, owner)
    now = int(time.time())
    first = await signed_request(
        client, device, "GET", "/api/v1/device/me", timestamp=now, nonce="n" * 20
    )
    again = await signed_request(
        client, device, "GET", "/api/v1/device/me", timestamp=now, nonce="n" * 20
    )
    assert first.status_code == 200
    body = assert_problem(again, 401, "replayed_nonce")
    assert isinstance(body["server_time"], int)


@pytest.mark.parametrize("offset", [-301, 301])
async def test_timestamp_outside_window_is_refused(
    app_client: AppClientFactory, offset: int
) -> None:
    clock = FrozenClock()  # a real clock could tick between signing and checking
    async with app_client(clock=clock) as client:
        owner = await new_owner(client)
        device = await register_device(client, owner)
        clock.advance(600)  # a server up for a while (see the restart test below)
        now = int(clock.time())
        refused = await signed_request(
            client, device, "GET", "/api/v1/device/me", timestamp=now + offset
        )
        at_the_edge = await signed_request(
            client, device, "GET", "/api/v1/device/me", timestamp=now + offset - offset // 301
        )
    body = assert_problem(refused, 401, "timestamp_out_of_window")
    assert body["server_time"] == now
    assert at_the_edge.status_code == 200  # 300 s away is still inside the window


async def test_forged_request_does_not_spend_its_nonce(client: httpx.AsyncClient) -> None:
    owner = await new_owner(client)
    device = await register_device(client, owner)
    now = int(time.time())
    forged = await signed_request(
        client, device, "GET", "/api/v1/device/me", secret="f" * 64, timestamp=now, nonce="k" * 20
    )
    genuine = await signed_request(
        client, device, "GET", "/api/v1/device/me", timestamp=now, nonce="k" * 20
    )
    assert_problem(forged, 401, "invalid_signature")
    assert genuine.status_code == 200


async def test_revoked_device_is_refused_on_its_next_request(client: httpx.AsyncClient) -> None:
    owner = await new_owner(client)
    device = await register_device(client, owner)
    assert (await signed_request(client, device, "GET", "/api/v1/device/me")).status_code == 200
    revoke = await client.post(f"/api/v1/devices/{device['id']}/revoke", headers=owner.headers)
    assert revoke.status_code == 200
    assert_problem(
        await signed_request(client, device, "GET", "/api/v1/device/me"), 401, "device_revoked"
    )


async def test_rotation_old_secret_works_until_new_one_is_used(client: httpx.AsyncClient) -> None:
    owner = await new_owner(client)
    device = await register_device(client, owner)
    rotated = await client.post(
        f"/api/v1/devices/{device['id']}/rotate-secret", headers=owner.headers
    )
    assert rotated.status_code == 200
    new_secret = rotated.json()["secret"]
    assert new_secret != device["secret"]

    assert (await signed_request(client, device, "GET", "/api/v1/device/me")).status_code == 200
    with_new = await signed_request(client, device, "GET", "/api/v1/device/me", secret=new_secret)
    assert with_new.status_code == 200
    old_again = await signed_request(client, device, "GET", "/api/v1/device/me")
    assert_problem(old_again, 401, "invalid_signature")


async def test_rotation_grace_period_ends(app_client: AppClientFactory) -> None:
    clock = FrozenClock()
    async with app_client(clock=clock, secret_grace_seconds=600) as client:
        owner = await new_owner(client)
        device = await register_device(client, owner)
        rotated = await client.post(
            f"/api/v1/devices/{device['id']}/rotate-secret", headers=owner.headers
        )
        clock.advance(599)
        ok = await signed_request(
            client, device, "GET", "/api/v1/device/me", timestamp=int(clock.time())
        )
        assert ok.status_code == 200
        clock.advance(2)
        late = await signed_request(
            client, device, "GET", "/api/v1/device/me", timestamp=int(clock.time())
        )
        assert_problem(late, 401, "invalid_signature")
        new = await signed_request(
            client,
            device,
            "GET",
            "/api/v1/device/me",
            secret=rotated.json()["secret"],
            timestamp=int(clock.time()),
        )
        assert new.status_code == 200


async def test_activity_is_visible_to_the_owner(client: httpx.AsyncClient) -> None:
    owner = await new_owner(client)
    device = await register_device(client, owner)
    poll = await signed_request(client, device, "GET", "/api/v1/device/poll?limit=10")
    assert poll.status_code == 200, poll.text
    assert poll.json()["signals"] == []
    await client.app.state.runtime.activity.flush()  # type: ignore[attr-defined]
    seen = (await client.get(f"/api/v1/devices/{device['id']}", headers=owner.headers)).json()
    assert seen["last_poll_at"] is not None
    assert seen["last_seen_at"] is not None
    assert seen["last_ack_at"] is None


async def test_a_request_signed_before_a_restart_cannot_be_replayed_after_it(
    app_client: AppClientFactory,
) -> None:
    # The replay cache of a single process lives in its memory: after a restart it cannot
    # know which nonces were used, so it refuses anything signed before it started.
    clock = FrozenClock()
    async with app_client(clock=clock) as client:
        owner = await new_owner(client)
        device = await register_device(client, owner)
        clock.advance(10)
        signed_at = int(clock.time())
        first = await signed_request(
            client, device, "GET", "/api/v1/device/me", timestamp=signed_at, nonce="n" * 24
        )
        assert first.status_code == 200
    clock.advance(5)
    async with app_client(clock=clock) as restarted:
        replayed = await signed_request(
            restarted, device, "GET", "/api/v1/device/me", timestamp=signed_at, nonce="n" * 24
        )
        fresh = await signed_request(
            restarted, device, "GET", "/api/v1/device/me", timestamp=int(clock.time())
        )
    body = assert_problem(replayed, 401, "timestamp_out_of_window")
    assert body["server_time"] == int(clock.time())
    assert fresh.status_code == 200


async def test_a_secret_under_an_unknown_master_key_is_a_503_not_a_crash(
    app_client: AppClientFactory,
) -> None:
    old_key, new_key = base64.b64encode(b"o" * 32).decode(), base64.b64encode(b"n" * 32).decode()
    async with app_client(master_key=old_key) as client:
        owner = await new_owner(client)
        device = await register_device(client, owner)
    # The operator forgot EAGATE_PREVIOUS_MASTER_KEYS when deploying the new key.
    async with app_client(master_key=new_key) as client:
        refused = await signed_request(client, device, "GET", "/api/v1/device/me")
    body = assert_problem(refused, 503, "device_key_unavailable")
    assert refused.headers["retry-after"]
    assert body["server_time"] > 0
    async with app_client(master_key=new_key, previous_master_keys=old_key) as client:
        assert (await signed_request(client, device, "GET", "/api/v1/device/me")).status_code == 200


async def test_a_revoked_device_on_its_grace_secret_hears_device_revoked(
    client: httpx.AsyncClient,
) -> None:
    """Issue 10, defect 7: rotate, then revoke; the EA still on the previous secret is told
    the real reason, while a wrong key is still only an invalid signature."""
    owner = await new_owner(client)
    device = await register_device(client, owner)
    rotated = await client.post(
        f"/api/v1/devices/{device['id']}/rotate-secret", headers=owner.headers
    )
    assert rotated.status_code == 200
    revoked = await client.post(f"/api/v1/devices/{device['id']}/revoke", headers=owner.headers)
    assert revoked.status_code == 200

    for target in ("/api/v1/device/me", "/api/v1/device/poll"):
        on_previous = await signed_request(client, device, "GET", target)
        assert_problem(on_previous, 401, "device_revoked")
        on_new = await signed_request(
            client, device, "GET", target, secret=rotated.json()["secret"]
        )
        assert_problem(on_new, 401, "device_revoked")
        wrong = await signed_request(client, device, "GET", target, secret="f" * 64)
        assert_problem(wrong, 401, "invalid_signature")
