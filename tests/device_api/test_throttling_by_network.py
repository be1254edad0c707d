"""Issue 10, defect 8: per-address throttling keyed IPv6 clients by their full address, so one
subscriber could step through their /64 for a fresh allowance. IPv6 counts by /64; IPv4 per
address; an IPv4-mapped IPv6 address as the IPv4 address it carries."""

from __future__ import annotations

import uuid

import httpx
import pytest

from eagate.cluster.throttle import address_key
from eagate.kit.clock import FrozenClock
from tests.fixtures.api import assert_problem
from tests.fixtures.app import AppClientFactory, from_ip
from tests.fixtures.signing import FORGED, signed_request


async def _forge(client: httpx.AsyncClient, ts: int) -> httpx.Response:
    unknown = {"id": str(uuid.uuid4()), "secret": FORGED}
    return await signed_request(client, unknown, "GET", "/api/v1/device/me", timestamp=ts)


@pytest.mark.parametrize(
    ("first", "same", "other"),
    [
        ("2001:db8:1:2::1", "2001:db8:1:2:ffff:ffff:ffff:fffe", "2001:db8:1:3::1"),
        ("::ffff:198.51.100.7", "198.51.100.7", "198.51.100.8"),
    ],
)
async def test_failures_count_per_ipv6_network_and_per_ipv4_address(
    app_client: AppClientFactory, first: str, same: str, other: str
) -> None:
    clock = FrozenClock()
    async with app_client(clock=clock, device_auth_failures_per_ip=3) as client:
        ts = int(clock.time())
        async with from_ip(client, first) as attacker:
            for _ in range(3):
                assert_problem(await _forge(attacker, ts), 401, "invalid_signature")
        # Another address of the same /64 (or the same IPv4, however written) is the same
        # client: it is past the limit.
        async with from_ip(client, same) as next_address:
            assert_problem(await _forge(next_address, ts), 429, "rate_limited")
        async with from_ip(client, other) as neighbour:
            assert_problem(await _forge(neighbour, ts), 401, "invalid_signature")


def test_address_keys() -> None:
    assert address_key("203.0.113.7") == "203.0.113.7"
    assert address_key("::ffff:203.0.113.7") == "203.0.113.7"
    assert address_key("2001:DB8:0:1:abcd::1") == "2001:db8:0:1::/64"
    assert address_key("fe80::1%eth0") == "fe80::/64"
    assert address_key("not-an-address") == "not-an-address"
