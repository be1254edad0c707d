"""Imports every domain's models so Base.metadata knows all tables (Alembic, tests)."""

from eagate.accounts.models import Client, OwnerSession
from eagate.audit.models import AuditEvent
from eagate.devices.models import Device, DeviceAuthChange
from eagate.signals.models import Ack, Delivery, IdempotencyKey, Signal

__all__ = [
    "Ack",
    "AuditEvent",
    "Client",
    "Delivery",
    "Device",
    "DeviceAuthChange",
    "IdempotencyKey",
    "OwnerSession",
    "Signal",
]
