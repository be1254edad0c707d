from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from eagate.kit.text import reject_control_characters


def _normalize_email(value: str) -> str:
    value = reject_control_characters(value.strip()).lower()
    local, sep, domain = value.partition("@")
    if not sep or not local or "." not in domain or any(c.isspace() for c in value):
        raise ValueError("not a valid email address")
    return value


Email = Annotated[str, Field(min_length=3, max_length=320), AfterValidator(_normalize_email)]
Password = Annotated[str, Field(min_length=10, max_length=128)]


class SignupRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: Email
    password: Password


class PasswordGrant(BaseModel):
    """OAuth2 password grant (RFC 6749 4.3), sent as a form: the account's email as `username`.
    The fields are those of FastAPI's `OAuth2PasswordRequestForm`, under a name of our own."""

    grant_type: Annotated[str | None, Field(pattern="^password$")] = None
    username: str = Field(description="The account's email")
    password: str = Field(json_schema_extra={"format": "password"})
    scope: str = ""
    client_id: str | None = None
    client_secret: str | None = Field(None, json_schema_extra={"format": "password"})


class Owner(BaseModel):
    """An owner's account; its `id` is the `client_id` of everything it owns."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    email: str
    created_at: datetime


class AccessToken(BaseModel):
    """A bearer access token (RFC 6749 5.1); each one is a session of its own."""

    access_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 (a token type, not a secret)
    expires_in: int


class PasswordChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    current_password: str = Field(min_length=1, max_length=1024)
    new_password: Password


class AccountDeletion(BaseModel):
    """The account's password, asked again before it is deleted."""

    model_config = ConfigDict(extra="forbid")

    password: str = Field(min_length=1, max_length=1024)


class Session(BaseModel):
    """A signed-in session (one per sign-in); `current` marks the one asking."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    created_at: datetime
    last_used_at: datetime
    ip: str | None
    user_agent: str | None
    current: bool
