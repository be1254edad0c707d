"""What every entry point builds first from the settings: keys, database, secret box.

The server (``app.build_state``) and the operator commands (``eagate clients|devices|keys``)
both start here, so they resolve keys and reach the database in exactly the same way.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from eagate.accounts.security import HashingGate, Passwords
from eagate.db import Database
from eagate.devices.secrets import SecretBox
from eagate.keys import ServerKeys, load_server_keys
from eagate.settings import Settings


@dataclass(frozen=True, repr=False)
class Core:
    settings: Settings
    keys: ServerKeys
    database: Database
    secret_box: SecretBox


def build_core(settings: Settings) -> Core:
    """Resolve the keys (KeyConfigurationError if unusable), then the database and secret box."""
    keys = load_server_keys(settings)
    return Core(
        settings=settings,
        keys=keys,
        database=Database(settings.resolved_database_url),
        secret_box=SecretBox(keys.master_key, keys.previous_master_keys),
    )


# What concurrent password hashes may take together, by default: each takes
# EAGATE_ARGON2_MEMORY_KIB (64 MiB by default), so the default bound is 3 at that cost.
HASHING_MEMORY_BUDGET_KIB = 192 * 1024


def default_hash_concurrency(memory_kib: int) -> int:
    """One hash per core this process may run on (a container's CPU set, not the host's) but
    one, which the event loop keeps, and no more than the memory budget holds; at least one.
    (Measured on 2 cores: with 2 hashes at once an unrelated POST /signals' p99 was 3.3-3.7x
    its quiet figure under 4 sign-in loops, with 1 it was 2.2-2.4x.)"""
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cores = os.cpu_count() or 1
    return max(1, min(cores - 1, HASHING_MEMORY_BUDGET_KIB // memory_kib))


def build_passwords(settings: Settings) -> Passwords:
    return Passwords(
        time_cost=settings.argon2_time_cost,
        memory_kib=settings.argon2_memory_kib,
        gate=HashingGate(
            slots=settings.password_hash_concurrency
            or default_hash_concurrency(settings.argon2_memory_kib),
            queue=settings.password_hash_queue,
            wait_seconds=settings.password_hash_wait_seconds,
        ),
    )
