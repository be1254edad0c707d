"""Password hashing (Argon2id) and access tokens (JWT, HS256)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

import anyio.to_thread
import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError


class Passwords:
    """Argon2id hashing, run in a worker thread (~0.2 s of CPU at the default cost)."""

    def __init__(self, *, time_cost: int, memory_kib: int) -> None:
        self._hasher = PasswordHasher(time_cost=time_cost, memory_cost=memory_kib)
        # Verified against when the email is unknown, so both paths cost one verification.
        self._dummy_hash = self._hasher.hash("eagate-dummy-password-for-equal-timing")

    async def hash(self, password: str) -> str:
        return await anyio.to_thread.run_sync(self._hasher.hash, password)

    async def verify(self, password_hash: str | None, password: str) -> bool:
        def verify() -> bool:
            try:
                self._hasher.verify(password_hash or self._dummy_hash, password)
            except (VerificationError, InvalidHashError):
                return False
            return password_hash is not None

        return await anyio.to_thread.run_sync(verify)


JWT_ALGORITHM = "HS256"
JWT_AUDIENCE = "eagate-owner"


@dataclass(frozen=True)
class AccessToken:
    token: str
    expires_in: int


def issue_access_token(
    *, client_id: uuid.UUID, key: bytes, now: datetime, ttl_seconds: int
) -> AccessToken:
    claims = {
        "sub": str(client_id),
        "aud": JWT_AUDIENCE,
        "iat": int(now.timestamp()),
        "exp": int((now + timedelta(seconds=ttl_seconds)).timestamp()),
    }
    return AccessToken(jwt.encode(claims, key, algorithm=JWT_ALGORITHM), ttl_seconds)


def read_access_token(*, token: str, key: bytes, now: datetime) -> uuid.UUID | None:
    """The client id the token was issued to, or None if it is invalid or expired."""
    try:
        claims = jwt.decode(
            token,
            key,
            algorithms=[JWT_ALGORITHM],
            audience=JWT_AUDIENCE,
            # Expiry is checked below against our clock (injectable), not PyJWT's wall clock;
            # so is nothing else time-based.
            options={
                "require": ["sub", "exp", "iat", "aud"],
                "verify_exp": False,
                "verify_iat": False,
                "verify_nbf": False,
            },
        )
        if int(claims["exp"]) <= now.timestamp():
            return None
        return uuid.UUID(str(claims["sub"]))
    except (jwt.InvalidTokenError, ValueError, TypeError):
        return None
