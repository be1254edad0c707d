"""Typed settings, read once from the environment (prefix ``EAGATE_``) and passed down."""

from __future__ import annotations

from enum import StrEnum
from functools import cached_property
from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Environment(StrEnum):
    DEVELOPMENT = "development"
    PRODUCTION = "production"
    TEST = "test"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="EAGATE_", extra="ignore")

    env: Environment = Environment.DEVELOPMENT
    data_dir: Path = Path("./var")
    database_url: str | None = None
    redis_url: str | None = None
    master_key: SecretStr | None = None
    # Retired master keys (comma-separated base64), still able to decrypt until re-encrypted.
    previous_master_keys: SecretStr | None = None
    jwt_secret: SecretStr | None = None

    signature_window_seconds: int = Field(300, ge=1, le=3600)
    delivery_lease_seconds: int = Field(30, ge=1, le=3600)
    secret_grace_seconds: int = Field(86400, ge=0)
    access_token_ttl_seconds: int = Field(3600, ge=60)
    next_poll_seconds: int = Field(5, ge=1, le=3600)
    # How often coalesced device activity (last_poll_at, ...) is written to the database.
    activity_flush_seconds: float = Field(1.0, gt=0, le=5)
    # Argon2id cost (defaults: argon2-cffi's RFC 9106 low-memory profile). Production refuses
    # anything below OWASP's minimum (19 MiB, 2 passes).
    argon2_time_cost: int = Field(3, ge=1)
    argon2_memory_kib: int = Field(65536, ge=8)
    # Password hashes running at once (unset: one per core but the event loop's, at most 192 MiB
    # of Argon2 memory together: core.default_hash_concurrency), and callers that may wait (up to
    # password_hash_wait_seconds) for a free slot; past that, 503 password_hashing_busy.
    password_hash_concurrency: int | None = Field(None, ge=1)
    password_hash_queue: int = Field(4, ge=0)
    password_hash_wait_seconds: float = Field(2.0, gt=0, le=30)
    # Sign-up attempts per client IP per window before 429.
    sign_ups_per_ip: int = Field(20, ge=1)
    sign_up_window_seconds: int = Field(600, ge=1)
    # Throttling (see throttle.py): failures allowed per window before 429.
    device_auth_failures_per_ip: int = Field(300, ge=1)
    device_auth_failures_per_device: int = Field(30, ge=1)
    device_auth_window_seconds: int = Field(60, ge=1)
    sign_in_failures_per_ip: int = Field(100, ge=1)
    sign_in_failures_per_email: int = Field(10, ge=1)
    sign_in_window_seconds: int = Field(900, ge=1)
    long_polls_per_device: int = Field(2, ge=1)
    max_body_bytes: int = Field(64 * 1024, ge=1024)
    log_level: str = "INFO"
    # When set, GET /metrics requires `Authorization: Bearer <token>` (SPEC 7). At least 16
    # characters: an empty one (`EAGATE_METRICS_TOKEN=`) would let `Bearer ` through, and
    # failed guesses at /metrics are not throttled.
    metrics_token: SecretStr | None = Field(None, min_length=16)
    # How often `eagate serve` checks that it still holds its instance lease (lease.py).
    instance_lease_check_seconds: float = Field(5.0, gt=0, le=60)

    @cached_property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'eagate.db').resolve()}"

    @property
    def is_sqlite(self) -> bool:
        return self.resolved_database_url.startswith("sqlite")
