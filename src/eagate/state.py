"""Process-wide services built in the lifespan and reached by dependencies."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from eagate.accesslog import AccessLog, RequestIds
from eagate.accounts.security import Passwords
from eagate.clock import Clock
from eagate.coordination import Coordination
from eagate.db import Database
from eagate.device_api.activity import ActivityRecorder
from eagate.device_api.auth import DeviceAuthenticator
from eagate.device_api.credentials import CredentialCache
from eagate.device_api.failures import AuthFailureLog
from eagate.devices.secrets import SecretBox
from eagate.keys import ServerKeys
from eagate.metrics import Metrics
from eagate.settings import Settings
from eagate.signals.delivery import DeliveryClaimer, DeliveryHub
from eagate.throttle import Throttle


@dataclass
class AppState:
    settings: Settings
    database: Database
    keys: ServerKeys
    secret_box: SecretBox
    passwords: Passwords
    clock: Clock
    credentials: CredentialCache
    coordination: Coordination
    device_auth: DeviceAuthenticator
    activity: ActivityRecorder
    deliveries: DeliveryHub
    claimer: DeliveryClaimer
    access_log: AccessLog
    metrics: Metrics
    throttle: Throttle
    auth_failures: AuthFailureLog
    request_ids: RequestIds
    extras: dict[str, Any] = field(default_factory=dict)


def get_state(request: Request) -> AppState:
    state: AppState = request.app.state.eagate
    return state


StateDep = Annotated[AppState, Depends(get_state)]


async def _session(request: Request, state: StateDep) -> AsyncIterator[AsyncSession]:
    # Safe methods read only: on SQLite they skip the write lock and never queue behind writers.
    read_only = request.method in ("GET", "HEAD")
    async with state.database.transaction(read_only=read_only) as session:
        yield session


# One request = one transaction. scope="function": commit before the response is sent, so a
# failed commit is never reported as success.
SessionDep = Annotated[AsyncSession, Depends(_session, scope="function")]
