"""Owners and devices written straight into a server's database, without HTTP.

Registering 10,000 devices through the API costs minutes; the benchmarks need them in
seconds. The rows are made with eagate's own pieces (UUIDv7 ids, the data dir's master key
sealing each secret, the name key of the unique index, one Argon2id hash shared by every
owner), so the server cannot tell them from registered ones. The server keeps nothing in
memory about a device it has never seen, so rows may be inserted before or while it runs.

Two paths: ``provision`` (SQLAlchemy core executemany, SQLite or PostgreSQL, every device's
secret returned for signing) and ``bulk_load`` (PostgreSQL COPY, a million devices, only a
sample of ids kept). What registration also writes and the benchmarks do not need is left
out: audit events and the auth-change outbox row.
"""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
from sqlalchemy import insert

from bench.harness import PASSWORD, asyncpg_dsn
from eagate.accounts.models import Client, OwnerSession
from eagate.accounts.security import Passwords, issue_access_token
from eagate.devices.models import Device
from eagate.devices.names import name_key
from eagate.devices.secrets import SecretBox, fingerprint_of, generate_secret
from eagate.kit.db import Database
from eagate.kit.ids import uuid7
from eagate.kit.keys import load_server_keys
from eagate.settings import Settings

CLIENTS = Client.__table__
SESSIONS = OwnerSession.__table__
DEVICES = Device.__table__
TOKEN_TTL = timedelta(hours=4)


@dataclass(frozen=True)
class Owner:
    id: uuid.UUID
    email: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@dataclass(frozen=True)
class ProvisionedDevice:
    id: uuid.UUID
    client_id: uuid.UUID
    device_name: str
    secret: str

    def as_dict(self) -> dict[str, str]:
        """The shape ``harness.signed_requests`` takes (like the API's registration body)."""
        return {"id": str(self.id), "secret": self.secret, "device_name": self.device_name}


@dataclass
class Provisioned:
    owners: list[Owner]
    devices: list[ProvisionedDevice]
    seconds: float

    def devices_of(self, owner: Owner) -> list[ProvisionedDevice]:
        return [device for device in self.devices if device.client_id == owner.id]


class Provisioner:
    """Rows and tokens valid for the server whose data dir (keys) ``settings`` names."""

    def __init__(self, settings: Settings, password_hash: str) -> None:
        keys = load_server_keys(settings)  # generates the data dir's keys if the server has not
        self.settings = settings
        self.box = SecretBox(keys.master_key, keys.previous_master_keys)
        self._jwt_key = keys.jwt_secret
        self.password_hash = password_hash
        # Each owner's session (tokens are refused without one): client id -> session id.
        self._sessions: dict[uuid.UUID, uuid.UUID] = {}

    @classmethod
    async def create(cls, settings: Settings) -> Provisioner:
        # Cheap parameters: owners are not what is measured; the hash is still a real one.
        passwords = Passwords(time_cost=1, memory_kib=1024)
        return cls(settings, await passwords.hash(PASSWORD))

    def token(self, client_id: uuid.UUID) -> str:
        """A bearer token of the owner's session (``session_row``, inserted with the owner)."""
        return issue_access_token(
            client_id=client_id,
            session_id=self._sessions[client_id],
            key=self._jwt_key,
            now=datetime.now(UTC),
            ttl_seconds=int(TOKEN_TTL.total_seconds()),
        ).token

    def session_row(self, client_id: uuid.UUID, now: datetime) -> dict[str, Any]:
        session_id = self._sessions.setdefault(client_id, uuid7())
        return {
            "id": session_id,
            "client_id": client_id,
            "created_at": now,
            "last_used_at": now,
            "expires_at": now + TOKEN_TTL,
            "revoked_at": None,
            "ip": None,
            "user_agent": None,
        }

    def owner_row(self, now: datetime) -> dict[str, Any]:
        client_id = uuid7()
        return {
            "id": client_id,
            "email": f"owner-{client_id.hex}@bench.example.com",
            "password_hash": self.password_hash,
            "created_at": now,
        }

    def device_row(
        self, client_id: uuid.UUID, device_name: str, now: datetime
    ) -> tuple[dict[str, Any], str]:
        device_id = uuid7()
        secret = generate_secret()
        sealed = self.box.seal(device_id=device_id, secret=secret)
        row = {
            "id": device_id,
            "client_id": client_id,
            "device_name": device_name,
            "name_key": name_key(device_name),
            "is_active": True,
            "created_at": now,
            "updated_at": now,
            "revoked_at": None,
            "revoke_reason": None,
            "last_poll_at": None,
            "last_ack_at": None,
            "last_seen_at": None,
            "secret_fingerprint": fingerprint_of(secret),
            "secret_key_id": sealed.key_id,
            "secret_ciphertext": sealed.ciphertext,
            "previous_secret_key_id": None,
            "previous_secret_ciphertext": None,
            "previous_secret_expires_at": None,
        }
        return row, secret


def _chunks(rows: list[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    for start in range(0, len(rows), size):
        yield rows[start : start + size]


async def provision(
    settings: Settings, *, owners: int, devices_per_owner: int | list[int]
) -> Provisioned:
    """``owners`` owners with their devices (a count for all, or one count per owner),
    inserted with executemany into ``settings``' database (migrated already)."""
    started = time.perf_counter()
    provisioner = await Provisioner.create(settings)
    counts = devices_per_owner if isinstance(devices_per_owner, list) else [devices_per_owner]
    if len(counts) == 1:
        counts = counts * owners
    now = datetime.now(UTC)
    owner_rows = [provisioner.owner_row(now) for _ in range(owners)]
    device_rows: list[dict[str, Any]] = []
    devices: list[ProvisionedDevice] = []
    for owner_row, count in zip(owner_rows, counts, strict=True):
        for index in range(count):
            name = f"ea-{index + 1}"
            row, secret = provisioner.device_row(owner_row["id"], name, now)
            device_rows.append(row)
            devices.append(ProvisionedDevice(row["id"], owner_row["id"], name, secret))
    database = Database(settings.resolved_database_url)
    try:
        async with database.engine.begin() as connection:
            for chunk in _chunks(owner_rows, 5000):
                await connection.execute(insert(CLIENTS), chunk)
                await connection.execute(
                    insert(SESSIONS), [provisioner.session_row(row["id"], now) for row in chunk]
                )
            for chunk in _chunks(device_rows, 5000):
                await connection.execute(insert(DEVICES), chunk)
    finally:
        await database.dispose()
    return Provisioned(
        owners=[Owner(row["id"], row["email"], provisioner.token(row["id"])) for row in owner_rows],
        devices=devices,
        seconds=round(time.perf_counter() - started, 2),
    )


@dataclass
class BulkLoad:
    """What the registry benchmark needs of a million devices: the owners, one device id of
    each (to GET), and the big owner."""

    provisioner: Provisioner
    owner_ids: list[uuid.UUID]
    big_owner_id: uuid.UUID
    device_counts: dict[uuid.UUID, int]
    one_device_of: dict[uuid.UUID, uuid.UUID]
    timings: dict[str, float] = field(default_factory=dict)

    def token(self, client_id: uuid.UUID) -> str:
        return self.provisioner.token(client_id)


async def bulk_load(
    settings: Settings,
    *,
    owners: int,
    devices: int,
    big_owner_devices: int,
    chunk: int = 50_000,
    seed: int = 7,
) -> BulkLoad:
    """``devices`` devices over ``owners`` owners into a PostgreSQL database (migrated, empty)
    with COPY. One owner (the big one) has exactly ``big_owner_devices``; every other device
    goes to an owner drawn at random. Ids are made in time order, so each owner's devices are
    scattered through the table as if registered over time, not stored side by side."""
    rng = random.Random(seed)
    provisioner = await Provisioner.create(settings)
    timings: dict[str, float] = {}
    now = datetime.now(UTC)

    started = time.perf_counter()
    owner_rows = [provisioner.owner_row(now) for _ in range(owners)]
    owner_ids = [row["id"] for row in owner_rows]
    big_owner_id = owner_ids[0]
    assignment = [0] * big_owner_devices + [
        rng.randrange(1, owners) for _ in range(devices - big_owner_devices)
    ]
    rng.shuffle(assignment)
    timings["plan_seconds"] = round(time.perf_counter() - started, 2)

    client_columns = [column.name for column in CLIENTS.columns]
    device_columns = [column.name for column in DEVICES.columns]
    counts = [0] * owners
    one_device_of: dict[uuid.UUID, uuid.UUID] = {}
    generate_seconds = 0.0
    copy_seconds = 0.0
    connection = await asyncpg.connect(asyncpg_dsn(settings.resolved_database_url))
    try:
        started = time.perf_counter()
        await connection.copy_records_to_table(
            CLIENTS.name,
            records=[tuple(row[c] for c in client_columns) for row in owner_rows],
            columns=client_columns,
        )
        session_columns = [column.name for column in SESSIONS.columns]
        await connection.copy_records_to_table(
            SESSIONS.name,
            records=[
                tuple(provisioner.session_row(client_id, now)[c] for c in session_columns)
                for client_id in owner_ids
            ],
            columns=session_columns,
        )
        copy_seconds += time.perf_counter() - started
        for start in range(0, devices, chunk):
            started = time.perf_counter()
            records = []
            for owner_index in assignment[start : start + chunk]:
                counts[owner_index] += 1
                client_id = owner_ids[owner_index]
                row, _secret = provisioner.device_row(client_id, f"ea-{counts[owner_index]}", now)
                # The last of an owner's devices: a random one, as good as any to GET.
                one_device_of[client_id] = row["id"]
                records.append(tuple(row[c] for c in device_columns))
            generate_seconds += time.perf_counter() - started
            started = time.perf_counter()
            await connection.copy_records_to_table(
                DEVICES.name, records=records, columns=device_columns
            )
            copy_seconds += time.perf_counter() - started
        # VACUUM as well as ANALYZE: the steady state of a table loaded long ago (hint bits
        # set, visibility map built), so autovacuum does not start on it during measurements.
        started = time.perf_counter()
        await connection.execute(f"VACUUM (ANALYZE) {CLIENTS.name}, {DEVICES.name}")
        timings["vacuum_analyze_seconds"] = round(time.perf_counter() - started, 2)
    finally:
        await connection.close()
    timings["generate_seconds"] = round(generate_seconds, 2)
    timings["copy_seconds"] = round(copy_seconds, 2)
    return BulkLoad(
        provisioner=provisioner,
        owner_ids=owner_ids,
        big_owner_id=big_owner_id,
        device_counts={owner_ids[i]: counts[i] for i in range(owners)},
        one_device_of=one_device_of,
        timings=timings,
    )
