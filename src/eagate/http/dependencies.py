"""Dependency aliases every route may use, and how a route reaches the running service's parts.

The running service (``eagate.runtime.Runtime``) registers each of its parts under its type in
``app.state.components``; ``component(SomeType)`` is the dependency that hands it to a route.
So this layer, and the domains' own aliases built on it (``CurrentOwner``, ``SignedDevice``),
never import the module that builds the service, and nothing forms a cycle.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from eagate.kit.clock import Clock
from eagate.kit.db import Database
from eagate.kit.keys import ServerKeys
from eagate.kit.metrics import Metrics
from eagate.settings import Settings

T = TypeVar("T")

Components = dict[Any, Any]


def component(kind: type[T]) -> Callable[[Request], T]:
    """The dependency that returns the running service's one ``kind``."""

    def get(request: Request) -> T:
        found: T = request.app.state.components[kind]
        return found

    get.__name__ = f"get_{kind.__name__}"
    return get


SettingsDep = Annotated[Settings, Depends(component(Settings))]
ClockDep = Annotated[Clock, Depends(component(Clock))]
DatabaseDep = Annotated[Database, Depends(component(Database))]
KeysDep = Annotated[ServerKeys, Depends(component(ServerKeys))]
MetricsDep = Annotated[Metrics, Depends(component(Metrics))]


async def _session(request: Request, database: DatabaseDep) -> AsyncIterator[AsyncSession]:
    # Safe methods read only: on SQLite they skip the write lock and never queue behind writers.
    read_only = request.method in ("GET", "HEAD")
    async with database.transaction(read_only=read_only) as session:
        yield session


# One request = one transaction. scope="function": commit before the response is sent, so a
# failed commit is never reported as success.
SessionDep = Annotated[AsyncSession, Depends(_session, scope="function")]


def client_ip(request: Request) -> str | None:
    return request.client.host if request.client else None


ClientIp = Annotated[str | None, Depends(client_ip)]
