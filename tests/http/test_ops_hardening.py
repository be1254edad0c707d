"""Issue 10: operator endpoints and edges that said too much. `/metrics` behind
EAGATE_METRICS_TOKEN, `/readyz` without internals, no Host-built redirects."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from pydantic import ValidationError

from eagate.app import create_app
from eagate.http.operations import bearer_token_matches
from tests.fixtures.api import assert_problem
from tests.fixtures.app import AppClientFactory, make_settings
from tests.fixtures.owners import new_owner

TOKEN = "metrics-token-0123456789abcdef"


async def test_metrics_are_open_when_no_token_is_set(client: httpx.AsyncClient) -> None:
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert "eagate" in response.text


async def test_metrics_need_the_token_when_it_is_set(app_client: AppClientFactory) -> None:
    async with app_client(metrics_token=TOKEN) as client:
        for headers in (
            {},
            {"Authorization": "Bearer wrong-token"},
            {"Authorization": f"Bearer {TOKEN}x"},
            {"Authorization": f"Basic {TOKEN}"},
            {"Authorization": TOKEN},
        ):
            refused = await client.get("/metrics", headers=headers)
            assert_problem(refused, 401, "not_authenticated")
            assert refused.headers["www-authenticate"] == "Bearer"
            assert "eagate_" not in refused.text
        allowed = await client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
        assert allowed.status_code == 200
        assert allowed.headers["content-type"].startswith("text/plain")
        # The other operator endpoints stay open (probes carry no token).
        assert (await client.get("/healthz")).status_code == 200


@pytest.mark.parametrize("weak", ["", "short-token"])
def test_an_empty_or_short_metrics_token_is_refused(weak: str, tmp_path: Path) -> None:
    # `EAGATE_METRICS_TOKEN=` set empty would otherwise pass `Authorization: Bearer `.
    with pytest.raises(ValidationError, match="metrics_token"):
        make_settings("sqlite+aiosqlite:///:memory:", tmp_path, metrics_token=weak)


def test_bearer_token_matching() -> None:
    assert bearer_token_matches(authorization=f"Bearer {TOKEN}", token=TOKEN)
    assert bearer_token_matches(authorization=f"bearer {TOKEN}", token=TOKEN)
    assert not bearer_token_matches(authorization=None, token=TOKEN)
    assert not bearer_token_matches(authorization="Bearer ", token=TOKEN)
    assert not bearer_token_matches(authorization=f"Bearer {TOKEN[:-1]}", token=TOKEN)


@pytest.mark.parametrize(
    "path", ["/api/v1/devices/", "/api/v1/device/poll/", "/api/v1/clients/me/", "/healthz/"]
)
async def test_a_trailing_slash_is_a_plain_404_never_a_redirect_to_the_host_header(
    client: httpx.AsyncClient, path: str
) -> None:
    owner = await new_owner(client)
    response = await client.get(
        path, headers={**owner.headers, "Host": "attacker.example"}, follow_redirects=False
    )
    assert_problem(response, 404, "not_found")
    assert "location" not in response.headers
    assert "attacker.example" not in response.text


@pytest.mark.parametrize(
    "unreachable",
    [
        "postgresql+asyncpg://eagate@127.0.0.1:9/unreachable",
        "sqlite+aiosqlite:////nonexistent-eagate-dir/eagate.db",
    ],
)
async def test_readyz_gives_a_plain_reason_without_internals(
    unreachable: str, tmp_path: Path
) -> None:
    app = create_app(make_settings(unreachable, tmp_path))
    async with app.fastapi.router.lifespan_context(app.fastapi):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://eagate.test") as client:
            response = await client.get("/readyz")
    assert response.status_code == 503
    assert response.json() == {"status": "unavailable", "database": "unreachable"}
