"""In-memory cache of device signing keys, kept coherent through the auth-change outbox.

The poll path must not touch the database on every request, so each process keeps the
decrypted keys of the devices that talk to it. Changes made in this process invalidate at
commit; changes made anywhere else (another worker or instance, the CLI) arrive through the
``device_auth_changes`` table, which a background task reads every ``watch_interval``.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import uuid
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, select

from eagate.device_api.errors import DeviceKeyUnavailable
from eagate.devices.models import Device, DeviceAuthChange
from eagate.devices.secrets import InvalidTag, SealedSecret, SecretBox, UnknownMasterKey
from eagate.kit.clock import Clock
from eagate.kit.db import Database
from eagate.kit.signing import keyed_mac

log = logging.getLogger("eagate.device_api")

# How far back each watch looks: longer than any transaction that writes a change could take
# between stamping it and committing, and than clock skew between instances.
_WATCH_LOOKBACK = timedelta(seconds=60)
_OUTBOX_RETENTION = timedelta(hours=1)
# Devices loaded by one query at most (bound parameters stay well under SQLite's limit).
_LOAD_BATCH = 500


@dataclass(frozen=True, slots=True)
class DeviceCredentials:
    """A device as the device API knows it; what an authenticated request resolves to."""

    id: uuid.UUID
    key_prefix: str  # str(id), computed once: the device's part of replay-cache keys
    client_id: uuid.UUID
    device_name: str
    is_active: bool
    key: bytes = field(repr=False)
    mac: hmac.HMAC = field(repr=False)  # keyed_mac(key), prepared once
    previous_key: bytes | None = field(repr=False)
    # The stored ciphertext of ``key``: retiring the previous key is conditional on it, so a
    # rotation that lands meanwhile is never undone.
    sealed_key: bytes = field(repr=False)
    previous_expires_at: float | None  # unix seconds
    auth_token: str | None  # the shared freshness token read before loading (Redis only)

    def previous_key_valid(self, now: float) -> bytes | None:
        if self.previous_key is None or self.previous_expires_at is None:
            return None
        return self.previous_key if now < self.previous_expires_at else None


_MISSING = object()


class CredentialCache:
    def __init__(
        self,
        database: Database,
        secret_box: SecretBox,
        clock: Clock,
        *,
        max_entries: int = 200_000,
        watch_interval: float = 0.5,
    ) -> None:
        self._database = database
        self._secret_box = secret_box
        self._clock = clock
        self._max_entries = max_entries
        self.watch_interval = watch_interval
        # Keyed by the id's canonical text (what devices send in X-Device-Id), so the hot path
        # finds a device without parsing a UUID. None caches "no such device", so floods of
        # unknown ids do not reach the database.
        self._entries: dict[str, DeviceCredentials | None] = {}
        self._loading: dict[uuid.UUID, asyncio.Future[DeviceCredentials | None]] = {}
        self._to_load: list[uuid.UUID] = []
        self._loader: asyncio.Task[None] | None = None  # the loop holds tasks weakly
        self._seen_changes: set[int] = set()
        self._generation = 0
        # Where the shared freshness token comes from (set by RedisCoordination).
        self.token_source: Callable[[uuid.UUID], Awaitable[str | None]] | None = None

    def cached(self, device_id_text: str) -> tuple[bool, DeviceCredentials | None]:
        """(True, entry) when known without I/O under this exact id text (the canonical,
        lower-case form); the hot path's way around a UUID parse and an await."""
        entry = self._entries.get(device_id_text, _MISSING)
        return (False, None) if entry is _MISSING else (True, entry)  # type: ignore[return-value]

    async def get(self, device_id: uuid.UUID) -> DeviceCredentials | None:
        try:
            return self._entries[str(device_id)]
        except KeyError:
            pass
        pending = self._loading.get(device_id)
        if pending is None:
            pending = asyncio.get_running_loop().create_future()
            self._loading[device_id] = pending
            self._to_load.append(device_id)
            if self._loader is None or self._loader.done():
                self._loader = asyncio.ensure_future(self._load_queued())
        return await asyncio.shield(pending)

    async def _load_queued(self) -> None:
        """Load the devices asked for, many to a query, one query at a time: a fleet of
        terminals reconnecting at once costs a few queries, not one each."""
        while self._to_load:
            await asyncio.sleep(0)  # let the requests of this event-loop tick join
            batch, self._to_load = self._to_load[:_LOAD_BATCH], self._to_load[_LOAD_BATCH:]
            generation = self._generation
            try:
                loaded = await self._load(batch)
            except Exception as exc:
                for device_id in batch:
                    future = self._loading.pop(device_id)
                    future.set_exception(exc)
                    future.exception()  # mark retrieved: waiters re-raise it themselves
                continue
            except asyncio.CancelledError:
                # Stopping: no device may be left waiting on a load that will never come.
                for device_id in batch + self._to_load:
                    self._loading.pop(device_id).cancel()
                self._to_load = []
                raise
            for device_id in batch:
                credentials = loaded.get(device_id)
                # An invalidation that arrived while we were loading wins over what we read.
                if generation == self._generation and not isinstance(credentials, Exception):
                    self._store(device_id, credentials)
                future = self._loading.pop(device_id)
                if isinstance(credentials, Exception):
                    future.set_exception(credentials)
                    future.exception()
                else:
                    future.set_result(credentials)

    def invalidate(self, device_ids: Iterable[uuid.UUID]) -> None:
        self._generation += 1
        for device_id in device_ids:
            self._entries.pop(str(device_id), None)

    def clear(self) -> None:
        self._generation += 1
        self._entries.clear()

    def _store(self, device_id: uuid.UUID, credentials: DeviceCredentials | None) -> None:
        if len(self._entries) >= self._max_entries:
            # Drop the oldest half (dicts keep insertion order): cheap and good enough.
            for stale in list(self._entries)[: self._max_entries // 2]:
                del self._entries[stale]
        self._entries[str(device_id)] = credentials

    async def _load(
        self, device_ids: list[uuid.UUID]
    ) -> dict[uuid.UUID, DeviceCredentials | Exception]:
        """Each device's credentials (absent: no such device), or the error that keeps its
        key unreadable."""
        # The tokens first: a change committed after this read replaces one, so a stale load
        # is caught on the device's next request.
        source = self.token_source
        tokens = (
            await asyncio.gather(*(source(device_id) for device_id in device_ids))
            if source
            else [None] * len(device_ids)
        )
        async with self._database.transaction(read_only=True) as session:
            rows = (
                await session.execute(
                    select(
                        Device.id,
                        Device.client_id,
                        Device.device_name,
                        Device.is_active,
                        Device.secret_key_id,
                        Device.secret_ciphertext,
                        Device.previous_secret_key_id,
                        Device.previous_secret_ciphertext,
                        Device.previous_secret_expires_at,
                    ).where(Device.id.in_(device_ids))
                )
            ).all()
        token_of = dict(zip(device_ids, tokens, strict=True))
        loaded: dict[uuid.UUID, DeviceCredentials | Exception] = {}
        for row in rows:
            try:
                loaded[row.id] = self._unseal(row.id, row, token_of[row.id])
            except (UnknownMasterKey, InvalidTag) as exc:
                # The operator has not given this process the key the secret is under (or
                # the row was tampered with): refuse the device's requests, say why in the log.
                log.error(
                    "cannot decrypt the secret of device %s (%s): check EAGATE_MASTER_KEY and "
                    "EAGATE_PREVIOUS_MASTER_KEYS",
                    row.id,
                    type(exc).__name__,
                )
                loaded[row.id] = DeviceKeyUnavailable(
                    "this device's key cannot be read by this server; retry later",
                    headers={"Retry-After": "30"},
                )
        return loaded

    def _unseal(self, device_id: uuid.UUID, row: Any, token: str | None) -> DeviceCredentials:
        key = self._secret_box.open(
            device_id=device_id, sealed=SealedSecret(row.secret_key_id, row.secret_ciphertext)
        )
        previous_key = None
        if row.previous_secret_ciphertext is not None and row.previous_secret_key_id is not None:
            previous_key = self._secret_box.open(
                device_id=device_id,
                sealed=SealedSecret(row.previous_secret_key_id, row.previous_secret_ciphertext),
            )
        expires = row.previous_secret_expires_at
        return DeviceCredentials(
            id=device_id,
            key_prefix=str(device_id),
            mac=keyed_mac(key),
            client_id=row.client_id,
            device_name=row.device_name,
            is_active=row.is_active,
            key=key,
            previous_key=previous_key,
            sealed_key=row.secret_ciphertext,
            previous_expires_at=expires.timestamp() if expires else None,
            auth_token=token,
        )

    async def watch_once(self) -> int:
        """Apply changes recorded by any process; returns how many were new to us."""
        since = self._clock.now() - _WATCH_LOOKBACK
        async with self._database.transaction(read_only=True) as session:
            rows = (
                await session.execute(
                    select(DeviceAuthChange.id, DeviceAuthChange.device_id).where(
                        DeviceAuthChange.at > since
                    )
                )
            ).all()
        fresh = [row for row in rows if row.id not in self._seen_changes]
        if fresh:
            self.invalidate(row.device_id for row in fresh)
        self._seen_changes = {row.id for row in rows}
        return len(fresh)

    async def prune_outbox(self) -> None:
        async with self._database.transaction() as session:
            await session.execute(
                delete(DeviceAuthChange).where(
                    DeviceAuthChange.at < self._clock.now() - _OUTBOX_RETENTION
                )
            )
