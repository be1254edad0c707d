"""Small helpers that turn an HTTP request into domain inputs."""

from __future__ import annotations

from fastapi import Request

from eagate.audit.service import Actor


def client_ip(request: Request) -> str | None:
    return request.client.host if request.client else None


def owner_actor(request: Request, client_id: object) -> Actor:
    return Actor(f"client:{client_id}", client_ip(request))
