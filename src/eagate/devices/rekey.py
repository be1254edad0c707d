"""Master-key rotation: re-encrypt every stored device secret under the current master key.

Run by `eagate keys rotate-master` once every instance has the new key as EAGATE_MASTER_KEY
and the old one in EAGATE_PREVIOUS_MASTER_KEYS. Both the current and the rotated-out
(``previous_*``) secret of each device are re-encrypted; the secrets themselves, and so every
HMAC key and fingerprint, stay the same, which is why no running server needs telling.

The work is done in batches, one transaction each, walking the devices by id (keyset), so the
write lock is held briefly and an interrupted run loses at most one batch. Rows already under
the current key are not touched: running it again is harmless and finishes what a previous
run left.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, cast

from sqlalchemy import ColumnElement, Table, and_, bindparam, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from eagate.devices.models import Device
from eagate.devices.secrets import InvalidTag, SealedSecret, SecretBox
from eagate.kit.db import Database

BATCH_SIZE = 500

# (rows handled so far, rows that needed handling when the run began)
Progress = Callable[[int, int], None]


class UnknownMasterKeys(Exception):
    """Some secrets are under master keys this process was not given: nothing was changed."""

    def __init__(self, secrets_by_key_id: dict[str, int]) -> None:
        self.secrets_by_key_id = secrets_by_key_id
        listed = ", ".join(f"{key_id} ({n})" for key_id, n in sorted(secrets_by_key_id.items()))
        super().__init__(f"secrets under unknown master key ids: {listed}")


@dataclass(frozen=True)
class Undecryptable:
    """A secret whose ciphertext fails authentication under its (known) key."""

    device_id: uuid.UUID
    column: str  # "secret" or "previous_secret"
    key_id: str


@dataclass
class RekeyReport:
    current_key_id: str
    dry_run: bool
    devices: int = 0  # rows in the table when the run began
    rows_to_rekey: int = 0  # rows with a secret under another key when the run began
    rows_rekeyed: int = 0
    secrets_rekeyed: int = 0  # current secrets re-encrypted
    previous_secrets_rekeyed: int = 0  # rotated-out secrets re-encrypted
    undecryptable: list[Undecryptable] = field(default_factory=list)
    # Still under another key after the run (written meanwhile by a process whose current
    # key is not ours, or undecryptable): run again once the cause is fixed.
    remaining: int = 0

    @property
    def already_current(self) -> int:
        return self.devices - self.rows_to_rekey

    @property
    def complete(self) -> bool:
        return self.remaining == 0 and not self.undecryptable


def _stale(current_key_id: str) -> ColumnElement[bool]:
    return or_(
        Device.secret_key_id != current_key_id,
        and_(
            Device.previous_secret_key_id.is_not(None),
            Device.previous_secret_key_id != current_key_id,
        ),
    )


async def _survey(database: Database, current_key_id: str) -> tuple[int, int, Counter[str]]:
    """(devices, rows under another key, secrets per key id)."""
    async with database.transaction(read_only=True) as session:
        devices = await session.scalar(select(func.count()).select_from(Device)) or 0
        stale = (
            await session.scalar(
                select(func.count()).select_from(Device).where(_stale(current_key_id))
            )
            or 0
        )
        secrets_by_key: Counter[str] = Counter()
        for column in (Device.secret_key_id, Device.previous_secret_key_id):
            rows = await session.execute(
                select(column, func.count()).where(column.is_not(None)).group_by(column)
            )
            for key_id, count in rows:
                if key_id is not None:
                    secrets_by_key[key_id] += count
    return devices, stale, secrets_by_key


def _reseal(
    box: SecretBox, device_id: uuid.UUID, key_id: str, ciphertext: bytes
) -> SealedSecret | None:
    """The secret sealed under the current key, or None if it does not decrypt."""
    try:
        secret = box.open(device_id=device_id, sealed=SealedSecret(key_id, ciphertext))
    except InvalidTag:
        return None
    return box.seal(device_id=device_id, secret=secret.decode("ascii"))


async def _write(session: AsyncSession, changes: list[dict[str, Any]]) -> None:
    """One executemany per set of re-sealed columns (most batches: one or two)."""
    table = cast(Table, Device.__table__)
    by_columns: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for change in changes:
        columns = tuple(sorted(name for name in change if name != "row_id"))
        # Bound names must differ from column names in an UPDATE's SET clause.
        params = {f"new_{name}": change[name] for name in columns}
        by_columns.setdefault(columns, []).append({"row_id": change["row_id"], **params})
    for columns, rows in by_columns.items():
        statement = (
            update(table)
            .where(table.c.id == bindparam("row_id"))
            .values({name: bindparam(f"new_{name}") for name in columns})
        )
        await session.execute(statement, rows)


async def rekey_device_secrets(
    database: Database,
    secret_box: SecretBox,
    *,
    dry_run: bool = False,
    batch_size: int = BATCH_SIZE,
    progress: Progress | None = None,
) -> RekeyReport:
    """Re-encrypt every device secret not under ``secret_box``'s current key.

    Raises UnknownMasterKeys, before changing anything, if some secret is under a key the box
    does not know (and stops there, keeping the batches already committed, if such a row
    appears during the run). A secret that does not decrypt is left as it is and reported.
    With ``dry_run`` every secret is still decrypted (so the counts are what a real run would
    do) but nothing is written.
    """
    current = secret_box.current_key_id
    report = RekeyReport(current_key_id=current, dry_run=dry_run)
    report.devices, report.rows_to_rekey, secrets_by_key = await _survey(database, current)
    unknown = {k: n for k, n in secrets_by_key.items() if not secret_box.knows(k)}
    if unknown:
        raise UnknownMasterKeys(unknown)
    if progress:
        progress(0, report.rows_to_rekey)

    done = 0
    after: uuid.UUID | None = None
    while True:
        async with database.transaction(read_only=dry_run) as session:
            query = (
                select(
                    Device.id,
                    Device.secret_key_id,
                    Device.secret_ciphertext,
                    Device.previous_secret_key_id,
                    Device.previous_secret_ciphertext,
                )
                .where(_stale(current))
                .order_by(Device.id)
                .limit(batch_size)
            )
            if after is not None:
                query = query.where(Device.id > after)
            if not dry_run:
                # A rotation or revocation of the same row waits for this batch (PostgreSQL;
                # SQLite's BEGIN IMMEDIATE already holds the only write lock).
                query = query.with_for_update()
            rows = (await session.execute(query)).all()
            if not rows:
                break
            changes: list[dict[str, Any]] = []
            for row in rows:
                if not secret_box.knows(row.secret_key_id) or (
                    row.previous_secret_key_id is not None
                    and not secret_box.knows(row.previous_secret_key_id)
                ):
                    # Written under an unknown key since the survey: refuse rather than guess.
                    raise UnknownMasterKeys(
                        {
                            k: 1
                            for k in (row.secret_key_id, row.previous_secret_key_id)
                            if k is not None and not secret_box.knows(k)
                        }
                    )
                change: dict[str, Any] = {"row_id": row.id}
                # The current secret, then the rotated-out one in its grace period.
                for kind in ("secret", "previous_secret"):
                    key_id = getattr(row, f"{kind}_key_id")
                    ciphertext = getattr(row, f"{kind}_ciphertext")
                    if key_id is None or ciphertext is None or key_id == current:
                        continue
                    sealed = _reseal(secret_box, row.id, key_id, ciphertext)
                    if sealed is None:
                        report.undecryptable.append(Undecryptable(row.id, kind, key_id))
                        continue
                    change[f"{kind}_key_id"] = sealed.key_id
                    change[f"{kind}_ciphertext"] = sealed.ciphertext
                    if kind == "secret":
                        report.secrets_rekeyed += 1
                    else:
                        report.previous_secrets_rekeyed += 1
                if len(change) > 1:
                    changes.append(change)
            if not dry_run:
                await _write(session, changes)
            report.rows_rekeyed += len(changes)
            after = rows[-1].id
        done += len(rows)
        if progress:
            progress(done, report.rows_to_rekey)

    if not dry_run:
        _, report.remaining, _ = await _survey(database, current)
    else:
        report.remaining = len({u.device_id for u in report.undecryptable})
    return report


__all__ = [
    "BATCH_SIZE",
    "RekeyReport",
    "Undecryptable",
    "UnknownMasterKeys",
    "rekey_device_secrets",
]
