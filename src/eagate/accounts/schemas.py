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


class ClientOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    email: str
    created_at: datetime


class TokenOut(BaseModel):
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
