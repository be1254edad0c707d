"""A full device flow at DEBUG must leave no secret, signature, password or token in the logs,
and no plaintext secret in the database."""

from __future__ import annotations

import base64
import json
import logging
from pathlib import Path

import httpx
import pytest
from sqlalchemy import MetaData, select, text
from sqlalchemy.ext.asyncio import create_async_engine

from tests.fixtures.app import AppClientFactory
from tests.fixtures.devices import register_device
from tests.fixtures.owners import PASSWORD, new_owner
from tests.fixtures.signing import signed_request


async def dump_database(url: str) -> str:
    """Every row of every table, as text."""
    engine = create_async_engine(url)
    try:
        async with engine.connect() as connection:
            metadata = MetaData()
            await connection.run_sync(metadata.reflect)
            rows = []
            for table in metadata.sorted_tables:
                for row in await connection.execute(select(table)):
                    rows.append(repr(tuple(row)))
            if engine.dialect.name == "postgresql":
                # Text rendering of every row, including bytea as hex.
                for table in metadata.sorted_tables:
                    result = await connection.execute(text(f'SELECT t::text FROM "{table.name}" t'))
                    rows.extend(value for (value,) in result)
            return "\n".join(rows)
    finally:
        await engine.dispose()


def forms_of(secret: str) -> list[str]:
    raw = bytes.fromhex(secret)
    return [
        secret,
        secret.upper(),
        base64.b64encode(secret.encode()).decode(),
        base64.b64encode(raw).decode(),
        raw.hex(),
    ]


async def test_full_flow_leaves_no_secret_in_logs_or_database(
    app_client: AppClientFactory,
    database_url: str,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level(logging.DEBUG)
    async with app_client() as client:
        owner = await new_owner(client)
        device = await register_device(client, owner)
        signatures = []
        for target in ("/api/v1/device/me", "/api/v1/device/poll?wait=0&limit=5"):
            response = await signed_request(client, device, "GET", target)
            assert response.status_code == 200
            signatures.append(response.request.headers["X-Signature"])
        rotated = await client.post(
            f"/api/v1/devices/{device['id']}/rotate-secret", headers=owner.headers
        )
        new_secret = rotated.json()["secret"]
        response = await signed_request(
            client, device, "GET", "/api/v1/device/me", secret=new_secret
        )
        assert response.status_code == 200
        signatures.append(response.request.headers["X-Signature"])
        revoked = await client.post(f"/api/v1/devices/{device['id']}/revoke", headers=owner.headers)
        assert revoked.status_code == 200
        refused = await signed_request(
            client, device, "GET", "/api/v1/device/me", secret=new_secret
        )
        assert refused.status_code == 401
        signatures.append(refused.request.headers["X-Signature"])

    logs = "\n".join(
        record.getMessage() + json.dumps(getattr(record, "fields", {}), default=str)
        for record in caplog.records
    )
    access_log = capsys.readouterr().err  # flushed when the app shut down
    assert '"route":"/api/v1/device/poll"' in access_log  # the access log did run
    assert '"route":"/api/v1/devices/{device_id}/rotate-secret"' in access_log
    logs += access_log
    forbidden = [*forms_of(device["secret"]), *forms_of(new_secret), *signatures, PASSWORD]
    forbidden.append(owner.token)
    for value in forbidden:
        assert value not in logs

    dump = await dump_database(database_url)
    assert device["id"].replace("-", "") in dump.replace("-", "")  # the dump did see the device
    for value in [*forms_of(device["secret"]), *forms_of(new_secret), PASSWORD]:
        assert value not in dump


async def test_graceful_shutdown_flushes_activity(
    app_client: AppClientFactory, tmp_path: Path
) -> None:
    # A flush interval far longer than the test: only the shutdown flush can write it.
    async with app_client(activity_flush_seconds=5) as client:
        owner = await new_owner(client)
        device = await register_device(client, owner)
        response = await signed_request(client, device, "GET", "/api/v1/device/poll")
        assert response.status_code == 200
    async with app_client() as client:
        seen = (await client.get(f"/api/v1/devices/{device['id']}", headers=owner.headers)).json()
    assert seen["last_poll_at"] is not None
    assert seen["last_seen_at"] is not None


async def test_forged_requests_do_not_count_as_activity(client: httpx.AsyncClient) -> None:
    owner = await new_owner(client)
    device = await register_device(client, owner)
    forged = await signed_request(client, device, "GET", "/api/v1/device/poll", secret="0" * 64)
    assert forged.status_code == 401
    await client.app.state.runtime.activity.flush()  # type: ignore[attr-defined]
    seen = (await client.get(f"/api/v1/devices/{device['id']}", headers=owner.headers)).json()
    assert seen["last_seen_at"] is None
