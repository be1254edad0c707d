"""Benchmark 1: signed empty-poll throughput against the physical limit.

The limit is a raw ASGI app answering a fixed JSON body, served by the same uvicorn with the
same settings, measured in the same run. Requests are signed in advance (unique nonces) and
replayed by wrk, so the load generator does little more than write bytes; its CPU is reported.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import httpx

from bench import harness

TARGET_RATIO = 0.5
POLL = "/api/v1/device/poll"


def _measure(
    *, seconds: int, connections: int, devices: int, env: dict[str, str] | None = None
) -> tuple[harness.WrkResult, harness.WrkResult]:
    """(raw ASGI, eagate), both fed the very same signed requests by the same wrk script."""
    with harness.eagate_server(env=env) as server:
        with httpx.Client(base_url=server.url, timeout=30) as http:
            owner = harness.new_owner(http)
            registered = harness.register_devices(http, owner, devices)
        # Enough unique nonces for the warm-up and the measured run at ~40k requests/s.
        total = 50_000 * seconds
        requests = harness.signed_requests(registered, POLL, total)
        folder = Path(tempfile.mkdtemp(prefix="eagate-poll-"))
        harness.write_requests_file(requests[: total // 6], folder / "warm.txt")
        harness.write_requests_file(requests[total // 6 :], folder / "run.txt")
        with harness.raw_asgi_server() as raw:
            harness.run_wrk(
                raw.url,
                seconds=1,
                connections=connections,
                requests_file=folder / "warm.txt",
                target=POLL,
            )
            limit = harness.run_wrk(
                raw.url,
                seconds=seconds,
                connections=connections,
                requests_file=folder / "run.txt",
                target=POLL,
                server_pid=raw.pid,
            )
        # Warm-up: every device polled at least once, so each is known idle, as in production.
        harness.run_wrk(
            server.url,
            seconds=2,
            connections=connections,
            requests_file=folder / "warm.txt",
            target=POLL,
        )
        poll = harness.run_wrk(
            server.url,
            seconds=seconds,
            connections=connections,
            requests_file=folder / "run.txt",
            target=POLL,
            server_pid=server.pid,
        )
    return limit, poll


def run(quick: bool = False) -> dict[str, Any]:
    seconds, connections, devices = (3, 32, 20) if quick else (8, 64, 200)
    limit, poll = _measure(seconds=seconds, connections=connections, devices=devices)
    ratio = poll.requests_per_second / limit.requests_per_second
    cpu_ratio = None
    if poll.server_cpu_us_per_request and limit.server_cpu_us_per_request:
        cpu_ratio = limit.server_cpu_us_per_request / poll.server_cpu_us_per_request
    result = {
        "raw_asgi": limit.__dict__,
        "signed_poll": poll.__dict__,
        "ratio": round(ratio, 3),
        "cpu_ratio": round(cpu_ratio, 3) if cpu_ratio else None,
        "target_ratio": TARGET_RATIO,
        "passed": ratio >= TARGET_RATIO,
        "settings": {"seconds": seconds, "connections": connections, "devices": devices},
    }
    rows = [
        ("raw ASGI req/s", f"{limit.requests_per_second:,.0f}", "", ""),
        ("signed empty poll req/s", f"{poll.requests_per_second:,.0f}", "", ""),
        (
            "ratio (throughput)",
            f"{ratio:.2f}",
            f">= {TARGET_RATIO}",
            "PASS" if ratio >= TARGET_RATIO else "FAIL",
        ),
        ("ratio (server CPU per request)", f"{cpu_ratio:.2f}" if cpu_ratio else "n/a", "", ""),
        ("poll errors / non-2xx", f"{poll.errors} / {poll.non_2xx}", "0 / 0", ""),
        ("poll p50 / p99 ms", f"{poll.latency_p50_ms} / {poll.latency_p99_ms}", "", ""),
        (
            "wrk CPU % (raw / poll)",
            f"{limit.generator_cpu_percent} / {poll.generator_cpu_percent}",
            "",
            "",
        ),
    ]
    harness.print_table("1. Signed empty poll vs raw ASGI (one uvicorn worker)", rows)
    harness.save_result("signed_poll", result)
    return result


if __name__ == "__main__":
    run()
