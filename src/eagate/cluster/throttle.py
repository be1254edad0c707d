"""Throttling brute force: failed device authentications and failed sign-ins.

Counters are fixed windows kept by the coordination (in memory, or in Redis so every instance
counts together). Past a limit, until the window ends:

- device requests: per client IP, and per (device id, client IP). A blocked address gets 429
  with ``Retry-After`` for every failing request, and for unknown device ids before any
  database lookup; a correctly signed request of a known device is still served, so forged
  traffic from a shared address (a VPS farm, a NAT) cannot lock out the terminals behind it;
- sign-ins: per client IP and per email, refused with 429 before the password is checked.
  Each attempt is counted *before* its password is verified (and given back when it
  succeeds), so guesses sent all at once cannot pass the limit while they are being checked;
- sign-ups: per client IP, counted before the password is hashed.

"Client IP" means ``address_key``: an IPv6 client is counted by its /64, since one subscriber
holds the whole /64 and could otherwise step to a fresh address for every few attempts.

A successful request costs one check of an (almost always empty) dict: no I/O.
"""

from __future__ import annotations

import functools
import ipaddress
from dataclasses import dataclass

from eagate.cluster.coordination import Coordination
from eagate.kit.clock import Clock
from eagate.kit.problems import ProblemError


class RateLimited(ProblemError):
    status, code, title = 429, "rate_limited", "Too many failed attempts; retry later"

    def __init__(self, retry_after: int, **extra: object) -> None:
        super().__init__(
            f"too many failed attempts; retry after {retry_after} s",
            headers={"Retry-After": str(retry_after)},
            **extra,
        )


class SignUpsThrottled(ProblemError):
    status, code, title = 429, "rate_limited", "Too many sign-ups from this address"

    def __init__(self, retry_after: int) -> None:
        super().__init__(
            f"too many sign-ups from this address; retry after {retry_after} s",
            headers={"Retry-After": str(retry_after)},
        )


@functools.lru_cache(maxsize=4096)  # on every device request: parse each address once
def address_key(ip: str) -> str:
    """What an address is counted as: an IPv4 address itself; an IPv6 address by its /64 (a
    subscriber's usual allocation, whose 2^64 addresses they may use freely); an IPv4-mapped
    IPv6 address as the IPv4 address it carries. Text that is no address, as given."""
    try:
        address = ipaddress.ip_address(ip.partition("%")[0])  # without a zone (fe80::1%eth0)
        if isinstance(address, ipaddress.IPv6Address):
            if address.ipv4_mapped is not None:
                return str(address.ipv4_mapped)
            return str(ipaddress.IPv6Network((address.exploded, 64), strict=False))
    except ValueError:
        return ip
    return str(address)


@dataclass(frozen=True)
class Limits:
    device_failures_per_ip: int
    device_failures_per_device: int
    device_window: int
    sign_in_failures_per_ip: int
    sign_in_failures_per_email: int
    sign_in_window: int
    sign_ups_per_ip: int = 20
    sign_up_window: int = 600


class Throttle:
    def __init__(self, coordination: Coordination, clock: Clock, limits: Limits) -> None:
        self._coordination = coordination
        self._clock = clock
        self.limits = limits
        # key -> unix time the block ends; usually empty.
        self._blocked: dict[str, float] = {}

    def retry_after(self, *keys: str) -> int | None:
        """Seconds to wait if any of these keys is blocked now, else None."""
        if not self._blocked:
            return None
        now = self._clock.time()
        for key in keys:
            until = self._blocked.get(key)
            if until is not None:
                if until > now:
                    return max(1, int(until - now + 0.999))
                del self._blocked[key]
        return None

    async def _count(self, key: str, limit: int, window: int) -> int | None:
        if await self._coordination.count(key, window=window) <= limit:
            return None
        self._blocked[key] = self._clock.time() + window
        return window

    # -- devices

    @staticmethod
    def device_keys(ip: str | None, device_id_text: str | None) -> tuple[str, ...]:
        # No address (a Unix socket): no per-address counting, rather than one shared key.
        where = address_key(ip) if ip else None
        keys = [f"dev-ip:{where}"] if where else []
        if device_id_text:
            keys.append(f"dev:{device_id_text.lower()}:{where or '-'}")
        return tuple(keys)

    async def device_failed(self, ip: str | None, device_id_text: str | None) -> int | None:
        """Count a failed device authentication; seconds to wait if a limit is now passed."""
        limits = self.limits
        blocked = None
        for key in self.device_keys(ip, device_id_text):
            limit = (
                limits.device_failures_per_ip
                if key.startswith("dev-ip:")
                else limits.device_failures_per_device
            )
            blocked = await self._count(key, limit, limits.device_window) or blocked
        return blocked

    # -- sign-ins

    @staticmethod
    def sign_in_keys(ip: str | None, email: str, generation: int = 0) -> tuple[str, ...]:
        # ``generation`` (the account's lockout generation) moves on when an operator resets
        # the email's lockout: a fresh counter on every instance, with nothing to delete.
        email_key = f"signin-email:{email}" + (f"#{generation}" if generation else "")
        return (f"signin-ip:{address_key(ip)}", email_key) if ip else (email_key,)

    async def reserve_sign_in(self, keys: tuple[str, ...]) -> None:
        """Count a sign-in attempt before its password is checked; RateLimited (and nothing
        to verify) once a limit is passed. A successful attempt is given back with
        ``release_sign_in``: only failures use up the allowance."""
        retry_after = self.retry_after(*keys)
        if retry_after is not None:
            raise RateLimited(retry_after)
        limits = self.limits
        blocked = None
        for key in keys:
            limit = (
                limits.sign_in_failures_per_ip
                if key.startswith("signin-ip:")
                else limits.sign_in_failures_per_email
            )
            blocked = await self._count(key, limit, limits.sign_in_window) or blocked
        if blocked is not None:
            raise RateLimited(blocked)

    async def release_sign_in(self, keys: tuple[str, ...]) -> None:
        for key in keys:
            await self._coordination.count(key, window=self.limits.sign_in_window, delta=-1)

    async def count_sign_up(self, ip: str | None) -> None:
        """Count a sign-up attempt from this address; SignUpsThrottled past the limit."""
        if not ip:
            return
        key = f"signup-ip:{address_key(ip)}"
        retry_after = self.retry_after(key) or await self._count(
            key, self.limits.sign_ups_per_ip, self.limits.sign_up_window
        )
        if retry_after is not None:
            raise SignUpsThrottled(retry_after)
