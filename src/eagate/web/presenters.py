"""How the dashboard shows things: connection status, times, latencies, form errors.

Presentation only: every rule about what may be done lives in the domain services.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from markupsafe import Markup
from pydantic import ValidationError

from eagate.devices.models import Device
from eagate.kit.paging import encode_cursor

ConnectionStatus = Literal["online", "late", "offline", "revoked"]

# A device is online while it keeps its polling rhythm: seen within twice the interval the
# server asks for (next_poll_seconds), but never a stricter window than a minute, so an EA that
# long-polls (one request per `wait` seconds, up to 30) or misses one beat is not flagged.
ONLINE_FLOOR_SECONDS = 60
# Seen within five minutes but not online: a terminal restarting, a network hiccup.
LATE_WITHIN_SECONDS = 300


def connection_status(
    *,
    is_active: bool,
    last_seen_at: datetime | None,
    now: datetime,
    next_poll_seconds: int,
) -> ConnectionStatus:
    """``revoked``, else online / late / offline from when the device was last seen.

    A device never seen is offline.
    """
    if not is_active:
        return "revoked"
    if last_seen_at is None:
        return "offline"
    silent_for = (now - last_seen_at).total_seconds()
    if silent_for <= max(2 * next_poll_seconds, ONLINE_FLOOR_SECONDS):
        return "online"
    if silent_for <= LATE_WITHIN_SECONDS:
        return "late"
    return "offline"


def iso_time(moment: datetime) -> str:
    """``2026-11-27T10:00:00Z``, as the API writes times."""
    return moment.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def relative_time(moment: datetime, now: datetime) -> str:
    """``just now``, ``42 s ago``, ``5 min ago``, ``3 h ago``, ``2 d ago``; ``in 4 h`` ahead."""
    seconds = int((now - moment).total_seconds())
    future = seconds < 0
    seconds = abs(seconds)
    if seconds < 5:
        return "just now"
    if seconds < 60:
        amount = f"{seconds} s"
    elif seconds < 3600:
        amount = f"{seconds // 60} min"
    elif seconds < 86400:
        amount = f"{seconds // 3600} h"
    else:
        amount = f"{seconds // 86400} d"
    return f"in {amount}" if future else f"{amount} ago"


def time_tag(moment: datetime | None, now: datetime, *, never: str = "never") -> Markup:
    """A ``<time>`` showing the relative time, with the exact UTC time on hover."""
    if moment is None:
        return Markup('<span class="muted">{}</span>').format(never)
    exact = iso_time(moment)
    return Markup('<time datetime="{0}" title="{0}">{1}</time>').format(
        exact, relative_time(moment, now)
    )


def duration_text(milliseconds: float | None) -> str:
    """``850 ms``, ``2.4 s``, ``3 min``; an em dash when unknown."""
    if milliseconds is None:
        return "\u2014"
    if milliseconds < 1000:
        return f"{milliseconds:.0f} ms"
    if milliseconds < 60_000:
        return f"{milliseconds / 1000:.1f} s"
    return f"{milliseconds / 60_000:.0f} min"


def span_text(seconds: int) -> str:
    """``24 h``, ``90 min``, ``45 s``: a configured duration, in its largest whole unit."""
    for unit, size in (("h", 3600), ("min", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds // size} {unit}"
    return f"{seconds} s"


def elapsed_ms(later: datetime | None, earlier: datetime | None) -> float | None:
    if later is None or earlier is None:
        return None
    return max(0.0, (later - earlier).total_seconds() * 1000)


def next_cursor(next_after: uuid.UUID | None) -> str | None:
    """The cursor of a "next page" link; None on the last page."""
    return encode_cursor(next_after) if next_after else None


def validation_messages(error: ValidationError, labels: Mapping[str, str]) -> list[str]:
    """One readable line per problem, naming the form field (never echoing the input)."""
    messages = []
    for problem in error.errors():
        field = ".".join(str(part) for part in problem["loc"])
        label = labels.get(field, field or "form")
        message = str(problem["msg"]).removeprefix("Value error, ")
        messages.append(f"{label}: {message}")
    return messages


def action_label(action: str) -> str:
    """``device.secret_rotated`` -> ``Device secret rotated``."""
    return action.replace(".", " ").replace("_", " ").capitalize()


@dataclass(frozen=True)
class DeviceView:
    """A device as a row of the dashboard: the record and its connection status."""

    device: Device
    status: ConnectionStatus


def device_view(device: Device, *, now: datetime, next_poll_seconds: int) -> DeviceView:
    return DeviceView(
        device,
        connection_status(
            is_active=device.is_active,
            last_seen_at=device.last_seen_at,
            now=now,
            next_poll_seconds=next_poll_seconds,
        ),
    )
