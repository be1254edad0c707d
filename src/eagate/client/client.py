"""DeviceClient: the async SDK for the signed device API (SPEC 4).

Every request is signed with `eagate.kit.signing` (the one implementation of the protocol) over the
request target exactly as httpx sends it. The client keeps an estimate of the server's clock
from each response's X-Server-Time, so a device whose own clock is wrong still signs with a
timestamp the server accepts.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import re
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from decimal import Decimal
from types import TracebackType
from typing import Any, Self, TypeVar
from urllib.parse import urlencode

import httpx
import pydantic

from eagate.client.dedup import SeenSignals
from eagate.client.errors import (
    DeviceApiError,
    DeviceConnectionError,
    TimestampOutOfWindowError,
    error_class,
)
from eagate.client.models import AckResult, AckStatus, DeviceInfo, PollResult
from eagate.client.retry import full_jitter_delay, is_retryable_status, parse_retry_after
from eagate.kit.signing import signed_headers

log = logging.getLogger("eagate.client")

DEVICE_API_PATH = "/api/v1/device"
USER_AGENT = "eagate-device-sdk/1"

_SECRET_FORM = re.compile(r"[0-9a-f]{64}")
# Failures after which the same request may well succeed. Others (an invalid URL, a local
# protocol error) would fail again the same way.
_TRANSIENT = (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError)

Sleep = Callable[[float], Awaitable[None]]
M = TypeVar("M", bound=pydantic.BaseModel)


class DeviceClient:
    """One device's session with an eagate server. Use as `async with DeviceClient(...)`.

    `base_url` is the server's root (e.g. ``https://eagate.example.com``); a path prefix is
    kept, for servers mounted under one. `clock` returns local unix time in seconds (tests give
    a wrong one); `transport` replaces the network (tests pass the ASGI app's) and, as with
    httpx, is closed with the client.
    """

    def __init__(
        self,
        base_url: str,
        device_id: str | uuid.UUID,
        secret: str,
        *,
        timeout: float = 10.0,
        max_retries: int = 3,
        clock: Callable[[], float] = time.time,
        transport: httpx.AsyncBaseTransport | None = None,
        backoff_base: float = 0.5,
        backoff_cap: float = 30.0,
        retry_after_cap: float = 120.0,
        dedup_capacity: int = 10_000,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        secret = secret.strip()
        if not _SECRET_FORM.fullmatch(secret):
            # Not echoed back: the value may be a real secret with a typo in it.
            raise ValueError("secret must be the 64 lowercase hex characters shown at registration")
        if max_retries < 0:
            raise ValueError("max_retries must be >= 0")
        if timeout <= 0:
            raise ValueError("timeout must be > 0")
        try:
            self._device_id = str(uuid.UUID(str(device_id)))
        except ValueError:
            raise ValueError("device_id must be a UUID (the device's id)") from None
        self._secret = secret
        self._origin, self._prefix = _split_base_url(base_url)
        self._timeout = timeout
        self._max_retries = max_retries
        self._clock = clock
        self._offset = 0.0
        self._backoff_base = backoff_base
        self._backoff_cap = backoff_cap
        self._retry_after_cap = retry_after_cap
        self._sleep = sleep
        self._jitter = random.SystemRandom()
        self._seen = SeenSignals(dedup_capacity)
        self._http = httpx.AsyncClient(
            transport=transport,
            timeout=timeout,
            headers={"User-Agent": USER_AGENT, "Accept": "application/json"},
        )

    def __repr__(self) -> str:
        return f"DeviceClient(base_url={self.base_url!r}, device_id={self._device_id!r})"

    @property
    def device_id(self) -> str:
        return self._device_id

    @property
    def base_url(self) -> str:
        return str(self._origin.copy_with(raw_path=self._prefix.encode("ascii") or b"/"))

    @property
    def clock_offset(self) -> float:
        """Seconds added to the local clock to get the server's (learned from X-Server-Time)."""
        return self._offset

    def server_now(self) -> int:
        """The server's unix time as this client estimates it: what X-Timestamp carries."""
        return int(self._clock() + self._offset)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    # -- the API ---------------------------------------------------------------------------

    async def me(self) -> DeviceInfo:
        """Who the server thinks this device is; also a cheap check of id, secret and clock."""
        data = await self._call("GET", "me")
        return _parse(DeviceInfo, data)

    async def poll(self, wait: int = 0, limit: int = 20) -> PollResult:
        """Signals for this device; with `wait` > 0 (up to 30) the server holds the request
        until one arrives. Signals this client already handed out are dropped (at-least-once
        delivery: a signal not acknowledged within the lease comes again)."""
        wait, limit = int(wait), int(limit)
        data = await self._call("GET", "poll", params={"wait": wait, "limit": limit}, wait=wait)
        result = _parse(PollResult, data)
        fresh = [s for s in result.signals if self._seen.first_sighting(s.signal_id)]
        return result.model_copy(
            update={"signals": fresh, "duplicates_dropped": len(result.signals) - len(fresh)}
        )

    async def ack(
        self,
        signal_id: uuid.UUID | str,
        status: AckStatus,
        broker_ticket: str | None = None,
        error: str | None = None,
        executed_at: datetime | None = None,
    ) -> AckResult:
        """Report what the terminal did with a signal. Repeating the same ack is safe."""
        payload: dict[str, Any] = {"signal_id": str(uuid.UUID(str(signal_id))), "status": status}
        if broker_ticket is not None:
            payload["broker_ticket"] = broker_ticket
        if error is not None:
            payload["error"] = error
        if executed_at is not None:
            if executed_at.tzinfo is None:
                raise ValueError("executed_at must be timezone-aware")
            payload["executed_at"] = executed_at.astimezone(UTC).isoformat().replace("+00:00", "Z")
        data = await self._call("POST", "ack", json_body=payload)
        return _parse(AckResult, data)

    def forget(self, signal_id: uuid.UUID | str) -> None:
        """Let a signal that was handed out come through poll() again (e.g. after a crash in
        the code that was handling it)."""
        self._seen.forget(uuid.UUID(str(signal_id)))

    # -- transport ---------------------------------------------------------------------------

    async def _call(
        self,
        method: str,
        endpoint: str,
        *,
        params: Mapping[str, int] | None = None,
        json_body: Mapping[str, Any] | None = None,
        wait: int = 0,
    ) -> Any:
        target = f"{self._prefix}{DEVICE_API_PATH}/{endpoint}"
        if params:
            # An empty query is never sent as a bare "?": the server could not tell it apart.
            target += "?" + urlencode(params)
        url = self._origin.copy_with(raw_path=target.encode("ascii"))
        body = b""
        if json_body is not None:
            body = json.dumps(json_body, ensure_ascii=False, separators=(",", ":")).encode()
        # A long poll is silent for up to `wait` seconds: the read timeout must outlast it.
        timeout = httpx.Timeout(self._timeout, read=self._timeout + wait)

        retries = 0
        clock_corrected = False
        while True:
            request = self._signed_request(method, url, body, timeout)
            try:
                response = await self._http.send(request)
            except httpx.TransportError as exc:
                if not isinstance(exc, _TRANSIENT) or retries >= self._max_retries:
                    raise DeviceConnectionError(
                        f"{method} {url.path}: {type(exc).__name__}: {exc}"
                    ) from exc
                retries += 1
                await self._pause(method, url, type(exc).__name__, retries, None)
                continue

            self._learn_server_time(response)
            if response.is_success:
                return _json(response)
            error = _error_from(response)
            if isinstance(error, TimestampOutOfWindowError) and not clock_corrected:
                # Once only: if the corrected clock is refused as well, something else is wrong.
                clock_corrected = True
                if error.server_time is not None:
                    self._observe_server_time(error.server_time)
                log.warning(
                    "device clock corrected by the server's: offset now %+.1f s", self._offset
                )
                continue
            if not is_retryable_status(response.status_code) or retries >= self._max_retries:
                raise error
            retry_after = parse_retry_after(
                response.headers.get("Retry-After"), now=self._clock() + self._offset
            )
            if retry_after is not None and retry_after > self._retry_after_cap:
                raise error  # the server asks for longer than we are willing to block
            retries += 1
            await self._pause(method, url, str(response.status_code), retries, retry_after)

    def _signed_request(
        self, method: str, url: httpx.URL, body: bytes, timeout: httpx.Timeout
    ) -> httpx.Request:
        headers = {"Content-Type": "application/json"} if body else {}
        request = self._http.build_request(
            method, url, content=body or None, headers=headers, timeout=timeout
        )
        # Sign exactly the target and bytes this request carries, with a fresh nonce and time.
        request.headers.update(
            signed_headers(
                secret=self._secret,
                device_id=self._device_id,
                method=request.method,
                path_and_query=request.url.raw_path.decode("ascii"),
                body=request.content,
                timestamp=self.server_now(),
            )
        )
        return request

    async def _pause(
        self, method: str, url: httpx.URL, reason: str, retry: int, retry_after: float | None
    ) -> None:
        delay = retry_after
        if delay is None:
            delay = full_jitter_delay(
                retry - 1,
                base=self._backoff_base,
                cap=self._backoff_cap,
                uniform=self._jitter.uniform,
            )
        log.warning(
            "device request %s %s failed (%s); retry %d of %d in %.2f s",
            method,
            url.path,
            reason,
            retry,
            self._max_retries,
            delay,
        )
        await self._sleep(delay)

    def _learn_server_time(self, response: httpx.Response) -> None:
        value = response.headers.get("X-Server-Time", "")
        if value.isdigit():
            self._observe_server_time(int(value))

    def _observe_server_time(self, server_time: int) -> None:
        # X-Server-Time is truncated to the second: +0.5 centres the estimate.
        self._offset = server_time + 0.5 - self._clock()


def _split_base_url(base_url: str) -> tuple[httpx.URL, str]:
    """(origin, path prefix without trailing slash) of the server's root URL."""
    url = httpx.URL(base_url)
    if url.scheme not in ("http", "https") or not url.host:
        raise ValueError("base_url must be an http:// or https:// URL")
    if url.query or url.fragment:
        raise ValueError("base_url must not carry a query or a fragment")
    prefix = url.raw_path.decode("ascii").rstrip("/")
    return url.copy_with(raw_path=b"/"), prefix


def _json(response: httpx.Response) -> Any:
    try:
        # Decimal keeps prices exact: 0.1 stays 0.1, as the server stored it.
        return json.loads(response.content, parse_float=Decimal)
    except ValueError as exc:
        raise _unexpected(response, "the response body is not JSON") from exc


def _parse(model: type[M], data: Any) -> M:
    try:
        return model.model_validate(data)
    except pydantic.ValidationError as exc:
        raise DeviceApiError(
            status=200,
            code="unexpected_response",
            detail=f"the response is not a valid {model.__name__}: {exc.error_count()} error(s)",
            body=data if isinstance(data, dict) else None,
        ) from exc


def _unexpected(response: httpx.Response, detail: str) -> DeviceApiError:
    return DeviceApiError(
        status=response.status_code,
        code="unexpected_response",
        detail=detail,
        request_id=response.headers.get("X-Request-Id"),
    )


def _error_from(response: httpx.Response) -> DeviceApiError:
    """The typed error for a non-2xx response (problem+json, or whatever a proxy sent)."""
    body: dict[str, Any] = {}
    try:
        parsed = json.loads(response.content)
    except ValueError:
        parsed = None
    if isinstance(parsed, dict):
        body = parsed
    status = response.status_code
    code = body.get("code")
    detail = body.get("detail")
    server_time = body.get("server_time")
    header_time = response.headers.get("X-Server-Time", "")
    if not isinstance(server_time, int) or isinstance(server_time, bool):
        server_time = int(header_time) if header_time.isdigit() else None
    return error_class(status, code if isinstance(code, str) else "")(
        status=status,
        code=code if isinstance(code, str) else f"http_{status}",
        detail=detail if isinstance(detail, str) else response.reason_phrase,
        server_time=server_time,
        request_id=response.headers.get("X-Request-Id"),
        body=body,
    )
