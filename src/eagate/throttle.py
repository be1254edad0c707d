"""Throttling brute force: failed device authentications and failed sign-ins.

Counters are fixed windows kept by the coordination (in memory, or in Redis so every instance
counts together). Past a limit, until the window ends:

- device requests: per client IP, and per (device id, client IP). A blocked address gets 429
  with ``Retry-After`` for every failing request, and for unknown device ids before any
  database lookup; a correctly signed request of a known device is still served, so forged
  traffic from a shared address (a VPS farm, a NAT) cannot lock out the terminals behind it;
- sign-ins: per client IP and per email, refused with 429 before the password is checked.

A successful request costs one check of an (almost always empty) dict: no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass

from eagate.clock import Clock
from eagate.coordination import Coordination
from eagate.errors import ProblemError


class RateLimited(ProblemError):
    status, code, title = 429, "rate_limited", "Too many failed attempts; retry later"

    def __init__(self, retry_after: int, **extra: object) -> None:
        super().__init__(
            f"too many failed attempts; retry after {retry_after} s",
            headers={"Retry-After": str(retry_after)},
            **extra,
        )


@dataclass(frozen=True)
class Limits:
    device_failures_per_ip: int
    device_failures_per_device: int
    device_window: int
    sign_in_failures_per_ip: int
    sign_in_failures_per_email: int
    sign_in_window: int


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
        keys = [f"dev-ip:{ip}"] if ip else []
        if device_id_text:
            keys.append(f"dev:{device_id_text.lower()}:{ip or '-'}")
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
    def sign_in_keys(ip: str | None, email: str) -> tuple[str, ...]:
        return (f"signin-ip:{ip}", f"signin-email:{email}") if ip else (f"signin-email:{email}",)

    async def sign_in_failed(self, ip: str | None, email: str) -> int | None:
        limits = self.limits
        by_ip = (
            await self._count(
                f"signin-ip:{ip}", limits.sign_in_failures_per_ip, limits.sign_in_window
            )
            if ip
            else None
        )
        by_email = await self._count(
            f"signin-email:{email}", limits.sign_in_failures_per_email, limits.sign_in_window
        )
        return by_email or by_ip
