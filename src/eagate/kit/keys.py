"""Master key and JWT secret: from settings, or generated once into the data dir (0600)."""

from __future__ import annotations

import base64
import binascii
import logging
import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from eagate.kit.datadir import ensure_private_dir
from eagate.settings import Environment, Settings

log = logging.getLogger("eagate.keys")

MASTER_KEY_FILE = "master.key"
JWT_SECRET_FILE = "jwt.secret"  # noqa: S105 (a file name)


class KeyConfigurationError(RuntimeError):
    """The configured keys cannot be used (malformed, or generated keys in production)."""


@dataclass(frozen=True, repr=False)
class ServerKeys:
    master_key: bytes
    previous_master_keys: tuple[bytes, ...]
    jwt_secret: bytes
    generated: tuple[str, ...]  # names of the keys that were generated rather than configured


def decode_master_key(text: str) -> bytes:
    try:
        key = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise KeyConfigurationError("master key is not valid base64") from exc
    if len(key) != 32:
        raise KeyConfigurationError("master key must be base64 of exactly 32 bytes")
    return key


def new_master_key_text() -> str:
    return base64.b64encode(secrets.token_bytes(32)).decode()


def _read_or_create(path: Path, make: Callable[[], str]) -> str:
    if not path.exists():
        ensure_private_dir(path.parent)
        # Written whole under a temporary name, then linked into place: a crash cannot leave
        # a truncated key, and of two workers starting at once only one key wins (link fails
        # if the name exists).
        temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(make() + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.link(temporary, path)
        except FileExistsError:
            pass
        finally:
            temporary.unlink()
    text = path.read_text().strip()
    if len(text) < 32:
        raise KeyConfigurationError(f"{path} is damaged (too short): restore or remove it")
    return text


def load_server_keys(settings: Settings) -> ServerKeys:
    """Resolve keys; in production, refuse anything generated."""
    generated: list[str] = []
    if settings.master_key is not None:
        master_text = settings.master_key.get_secret_value()
    else:
        master_text = _read_or_create(settings.data_dir / MASTER_KEY_FILE, new_master_key_text)
        generated.append("EAGATE_MASTER_KEY")
    if settings.jwt_secret is not None:
        jwt_text = settings.jwt_secret.get_secret_value()
        if len(jwt_text) < 32:
            raise KeyConfigurationError("EAGATE_JWT_SECRET must be at least 32 characters")
    else:
        jwt_text = _read_or_create(
            settings.data_dir / JWT_SECRET_FILE, lambda: secrets.token_urlsafe(48)
        )
        generated.append("EAGATE_JWT_SECRET")

    if generated and settings.env is Environment.PRODUCTION:
        raise KeyConfigurationError(
            "EAGATE_ENV=production refuses generated keys; set " + " and ".join(generated)
        )
    if settings.env is Environment.PRODUCTION and (
        settings.argon2_memory_kib < 19456 or settings.argon2_time_cost < 2
    ):
        raise KeyConfigurationError("production refuses an Argon2 cost below OWASP's minimum")
    for name in generated:
        log.warning(
            "%s is not set: using a key generated in %s (fine for development only)",
            name,
            settings.data_dir,
        )
    previous: tuple[bytes, ...] = ()
    if settings.previous_master_keys is not None:
        previous = tuple(
            decode_master_key(part)
            for part in settings.previous_master_keys.get_secret_value().split(",")
            if part.strip()
        )
    return ServerKeys(
        master_key=decode_master_key(master_text),
        previous_master_keys=previous,
        jwt_secret=jwt_text.encode(),
        generated=tuple(generated),
    )
