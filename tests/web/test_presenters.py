"""How the dashboard words a device's connection and times (pure functions, no server)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from eagate.web.presenters import connection_status, relative_time, span_text, time_tag

NOW = datetime(2026, 11, 27, 10, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("seconds_ago", "next_poll_seconds", "expected"),
    [
        (0, 5, "online"),
        (60, 5, "online"),  # the one-minute floor
        (61, 5, "late"),
        (120, 60, "online"),  # twice the poll interval, when that is longer
        (121, 60, "late"),
        (300, 5, "late"),
        (301, 5, "offline"),
        (86400, 5, "offline"),
    ],
)
def test_connection_status_follows_the_documented_thresholds(
    seconds_ago: int, next_poll_seconds: int, expected: str
) -> None:
    seen = NOW - timedelta(seconds=seconds_ago)
    status = connection_status(
        is_active=True, last_seen_at=seen, now=NOW, next_poll_seconds=next_poll_seconds
    )
    assert status == expected


def test_never_seen_is_offline_and_revoked_wins() -> None:
    assert (
        connection_status(is_active=True, last_seen_at=None, now=NOW, next_poll_seconds=5)
        == "offline"
    )
    assert (
        connection_status(is_active=False, last_seen_at=NOW, now=NOW, next_poll_seconds=5)
        == "revoked"
    )


def test_relative_times() -> None:
    assert relative_time(NOW, NOW) == "just now"
    assert relative_time(NOW - timedelta(seconds=42), NOW) == "42 s ago"
    assert relative_time(NOW - timedelta(minutes=5, seconds=59), NOW) == "5 min ago"
    assert relative_time(NOW - timedelta(hours=3), NOW) == "3 h ago"
    assert relative_time(NOW - timedelta(days=2, hours=5), NOW) == "2 d ago"
    assert relative_time(NOW + timedelta(hours=4), NOW) == "in 4 h"


def test_time_tag_carries_the_exact_time_and_escapes() -> None:
    tag = str(time_tag(NOW - timedelta(seconds=90), NOW))
    assert (
        tag == '<time datetime="2026-11-27T09:58:30Z" title="2026-11-27T09:58:30Z">1 min ago</time>'
    )
    assert str(time_tag(None, NOW, never="<never>")) == '<span class="muted">&lt;never&gt;</span>'


def test_configured_durations_read_in_their_largest_whole_unit() -> None:
    assert span_text(86400) == "24 h"
    assert span_text(5400) == "90 min"
    assert span_text(45) == "45 s"
