from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Body, Query, Request, Response, status

from eagate.accounts.dependencies import CurrentOwner
from eagate.audit.service import Actor
from eagate.devices import service
from eagate.devices.dependencies import SecretBoxDep
from eagate.devices.schemas import (
    Device,
    DeviceCreate,
    DeviceRename,
    DeviceRevoke,
    DeviceWithSecret,
)
from eagate.http.dependencies import ClockDep, SessionDep, SettingsDep, client_ip
from eagate.http.openapi import problem_responses
from eagate.http.paging import PageDep, set_next_link
from eagate.http.paths import API_PREFIX

router = APIRouter(prefix=f"{API_PREFIX}/devices", tags=["devices"])

NOT_FOUND = problem_responses(404)


def _with_secret(result: service.DeviceWithNewSecret, response: Response) -> DeviceWithSecret:
    response.headers["Cache-Control"] = "no-store"  # the secret must not sit in any cache
    return DeviceWithSecret.model_validate(
        {**Device.model_validate(result.device).model_dump(), "secret": result.secret}
    )


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=DeviceWithSecret,
    responses=problem_responses(409),
)
async def register_device(
    body: DeviceCreate,
    owner: CurrentOwner,
    session: SessionDep,
    secret_box: SecretBoxDep,
    clock: ClockDep,
    request: Request,
    response: Response,
) -> DeviceWithSecret:
    """Register an EA instance; the response carries its secret, shown this once only."""
    result = await service.register(
        session,
        client_id=owner.id,
        device_name=body.device_name,
        secret_box=secret_box,
        actor=Actor.client(owner.id, client_ip(request)),
        now=clock.now(),
    )
    return _with_secret(result, response)


@router.get("", response_model=list[Device])
async def list_devices(
    owner: CurrentOwner,
    session: SessionDep,
    request: Request,
    response: Response,
    page: PageDep,
    include_revoked: Annotated[bool, Query(description="Also list revoked devices")] = False,
) -> list[Device]:
    """List the owner's devices, oldest first."""
    result = await service.list_devices(
        session, client_id=owner.id, page=page, include_revoked=include_revoked
    )
    set_next_link(request, response, result.next_after)
    return [Device.model_validate(device) for device in result.items]


@router.get("/{device_id}", response_model=Device, responses=NOT_FOUND)
async def get_device(device_id: uuid.UUID, owner: CurrentOwner, session: SessionDep) -> Device:
    """One device of the owner's."""
    device = await service.get_device(session, client_id=owner.id, device_id=device_id)
    return Device.model_validate(device)


@router.patch("/{device_id}", response_model=Device, responses=problem_responses(404, 409))
async def rename_device(
    device_id: uuid.UUID,
    body: DeviceRename,
    owner: CurrentOwner,
    session: SessionDep,
    clock: ClockDep,
    request: Request,
) -> Device:
    """Rename a device (names stay unique among the owner's active devices)."""
    device = await service.rename(
        session,
        client_id=owner.id,
        device_id=device_id,
        device_name=body.device_name,
        actor=Actor.client(owner.id, client_ip(request)),
        now=clock.now(),
    )
    return Device.model_validate(device)


@router.post("/{device_id}/revoke", response_model=Device, responses=NOT_FOUND)
async def revoke_device(
    device_id: uuid.UUID,
    owner: CurrentOwner,
    session: SessionDep,
    clock: ClockDep,
    request: Request,
    body: Annotated[DeviceRevoke | None, Body()] = None,
) -> Device:
    """Revoke a device for good; its next request is refused. Revoking again is a no-op."""
    device = await service.revoke(
        session,
        client_id=owner.id,
        device_id=device_id,
        reason=body.reason if body else None,
        actor=Actor.client(owner.id, client_ip(request)),
        now=clock.now(),
    )
    return Device.model_validate(device)


@router.post(
    "/{device_id}/rotate-secret",
    response_model=DeviceWithSecret,
    responses=problem_responses(404, 409),
)
async def rotate_device_secret(
    device_id: uuid.UUID,
    owner: CurrentOwner,
    session: SessionDep,
    secret_box: SecretBoxDep,
    clock: ClockDep,
    settings: SettingsDep,
    request: Request,
    response: Response,
) -> DeviceWithSecret:
    """Issue a new secret (shown once); the old one works until the device uses the new one."""
    result = await service.rotate_secret(
        session,
        client_id=owner.id,
        device_id=device_id,
        secret_box=secret_box,
        grace_seconds=settings.secret_grace_seconds,
        actor=Actor.client(owner.id, client_ip(request)),
        now=clock.now(),
    )
    return _with_secret(result, response)
