from __future__ import annotations

import httpx

from tests.fixtures.devices import register_device
from tests.fixtures.owners import new_owner


async def test_register_and_list(client: httpx.AsyncClient) -> None:
    owner = await new_owner(client)
    device = await register_device(client, owner, "first")
    listed = await client.get("/api/v1/devices", headers=owner.headers)
    assert [d["id"] for d in listed.json()] == [device["id"]]
