"""Imports every domain's models so Base.metadata knows all tables (Alembic, tests)."""

from eagate.accounts.models import Client
from eagate.audit.models import AuditEvent
from eagate.devices.models import Device, DeviceAuthChange

__all__ = ["AuditEvent", "Client", "Device", "DeviceAuthChange"]
