"""(5) The cost of verifying one signed request against one Argon2id verification.

The earlier system verified every device request with a password hash (Argon2id). eagate
verifies an HMAC-SHA256 signature under a key kept (encrypted) in memory, then records the
nonce (replay check). This measures both, in process:

- ``DeviceAuthenticator.authenticate`` of the real app (``create_app`` on a temporary SQLite
  database, one device registered through the API), N calls with fresh nonces, its key
  already cached: header parsing, timestamp window, canonical string, HMAC and the replay
  check; with the in-memory replay cache (one process) and, in the full run, with Redis
  (what ``--workers > 1`` and several instances use: one round trip per request);
- ``argon2.PasswordHasher().verify`` with argon2-cffi's defaults (wall time and CPU time:
  its lanes run in parallel threads).

``details`` holds ``authenticate_us`` (per replay-cache kind: mean, p50, p99),
``components_us``, ``argon2`` and ``ratio`` (Argon2id wall time / authenticate mean).
"""

from __future__ import annotations

import hashlib
import inspect
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import argon2
import httpx

from bench import harness
from bench.report import figure, percentile, print_figures, result
from eagate.app import create_app
from eagate.cluster.replay import MemoryReplayGuard
from eagate.kit.migrate import upgrade_to_head
from eagate.kit.signing import (
    body_sha256,
    canonical_string,
    key_from_secret,
    parse_signature_headers,
    signature_matches,
    signed_headers,
)
from eagate.settings import Settings

NAME = "verify_cost"
TARGET = "/api/v1/device/poll?wait=0"
PASSWORD = "benchmark-password"


def _settings(data_dir: Path, redis_url: str | None) -> Settings:
    return Settings(
        data_dir=data_dir,
        database_url=f"sqlite+aiosqlite:///{data_dir / 'eagate.db'}",
        redis_url=redis_url,
        env="test",
        argon2_time_cost=1,
        argon2_memory_kib=1024,
        log_level="WARNING",
    )


async def _register_device(http: httpx.AsyncClient) -> dict[str, Any]:
    email = f"verify-{time.time_ns()}@bench.example.com"
    (
        await http.post("/api/v1/auth/signup", json={"email": email, "password": PASSWORD})
    ).raise_for_status()
    token = await http.post("/api/v1/auth/token", data={"username": email, "password": PASSWORD})
    token.raise_for_status()
    headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
    device = await http.post("/api/v1/devices", json={"device_name": "verify"}, headers=headers)
    device.raise_for_status()
    body: dict[str, Any] = device.json()
    return body


async def _authenticate_cost(settings: Settings, calls: int) -> dict[str, Any]:
    app = create_app(settings)
    async with app.fastapi.router.lifespan_context(app.fastapi):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://eagate.test") as http:
            device = await _register_device(http)
        authenticator = app.fastapi.state.runtime.device_auth
        # The client's address, where this version of the authenticator takes one (throttling).
        extra: dict[str, Any] = (
            {"ip": "127.0.0.1"}
            if "ip" in inspect.signature(authenticator.authenticate).parameters
            else {}
        )
        now = int(time.time())
        # Signing is the device's work, done before the clock starts.
        # As the server receives them: ASGI's raw (lower-case name, value) pairs.
        requests = [
            [
                (name.lower().encode(), value.encode())
                for name, value in signed_headers(
                    secret=device["secret"],
                    device_id=device["id"],
                    method="GET",
                    path_and_query=TARGET,
                    timestamp=now,
                ).items()
            ]
            for _ in range(calls + 1)
        ]
        # The first call loads and decrypts the key; every later one finds it cached.
        await authenticator.authenticate(
            method="GET", target=TARGET, headers=requests[0], body=b"", **extra
        )
        samples_ns: list[int] = []
        cpu_before = harness.self_cpu_seconds()
        started = time.perf_counter_ns()
        for headers in requests[1:]:
            t = time.perf_counter_ns()
            await authenticator.authenticate(
                method="GET", target=TARGET, headers=headers, body=b"", **extra
            )
            samples_ns.append(time.perf_counter_ns() - t)
        total_ns = time.perf_counter_ns() - started
        cpu = harness.self_cpu_seconds() - cpu_before
    samples_us = [ns / 1000 for ns in samples_ns]
    return {
        "calls": calls,
        "mean": round(total_ns / calls / 1000, 2),
        "p50": round(percentile(samples_us, 50) or 0, 2),
        "p99": round(percentile(samples_us, 99) or 0, 2),
        "cpu_us_per_call": round(cpu / calls * 1e6, 2),
        "device": {"id": device["id"]},
    }


def _components(calls: int) -> dict[str, float]:
    """The pure-CPU pieces on their own, microseconds each."""
    secret = hashlib.sha256(b"bench").hexdigest()
    device_id = "01890a5d-ac96-774b-bcce-b302099a8057"
    now = int(time.time())
    headers = [
        {
            k.lower(): v
            for k, v in signed_headers(
                secret=secret,
                device_id=device_id,
                method="GET",
                path_and_query=TARGET,
                timestamp=now,
            ).items()
        }
        for _ in range(calls)
    ]

    def per_call(function: Any, items: list[Any]) -> float:
        started = time.perf_counter_ns()
        for item in items:
            function(item)
        return round((time.perf_counter_ns() - started) / len(items) / 1000, 3)

    parsed = [parse_signature_headers(h) for h in headers]
    canonicals = [
        canonical_string(
            method="GET",
            path_and_query=TARGET,
            device_id=p.device_id_text,
            timestamp=p.timestamp_text,
            nonce=p.nonce,
            body_hash=body_sha256(b""),
        )
        for p in parsed
    ]
    key = key_from_secret(secret)
    guard = MemoryReplayGuard()
    return {
        "parse_headers": per_call(parse_signature_headers, headers),
        "hmac_sha256_compare": per_call(
            lambda pair: signature_matches(key=key, canonical=pair[0], signature=pair[1].signature),
            list(zip(canonicals, parsed, strict=True)),
        ),
        "replay_claim_memory": per_call(
            lambda p: guard.claim(device_id, p.nonce, until=now + 301, now=now), parsed
        ),
    }


def _argon2_cost(verifications: int) -> dict[str, Any]:
    hasher = argon2.PasswordHasher()  # argon2-cffi defaults (RFC 9106 low-memory profile)
    password_hash = hasher.hash(PASSWORD)
    hasher.verify(password_hash, PASSWORD)  # warm the allocator
    wall: list[float] = []
    cpu_before = harness.self_cpu_seconds()
    for _ in range(verifications):
        started = time.perf_counter()
        hasher.verify(password_hash, PASSWORD)
        wall.append((time.perf_counter() - started) * 1000)
    cpu = harness.self_cpu_seconds() - cpu_before
    return {
        "verifications": verifications,
        "time_cost": hasher.time_cost,
        "memory_kib": hasher.memory_cost,
        "parallelism": hasher.parallelism,
        "wall_ms_mean": round(statistics.fmean(wall), 2),
        "wall_ms_min": round(min(wall), 2),
        "cpu_ms_mean": round(cpu / verifications * 1000, 2),
    }


def run(quick: bool = False) -> dict[str, Any]:
    started = time.perf_counter()
    calls = 2_000 if quick else 20_000
    verifications = 2 if quick else 10
    variants: dict[str, str | None] = {"memory": None}
    if not quick and harness.redis_available():
        variants["redis"] = harness.REDIS_URL
    authenticate: dict[str, Any] = {}
    for kind, redis_url in variants.items():
        with tempfile.TemporaryDirectory(prefix="eagate-bench-") as tmp:
            settings = _settings(Path(tmp), redis_url)
            upgrade_to_head(settings.resolved_database_url)
            authenticate[kind] = harness.run_async(_authenticate_cost(settings, calls))
    components = _components(calls)
    argon = _argon2_cost(verifications)
    memory = authenticate["memory"]
    ratio = round(argon["wall_ms_mean"] * 1000 / memory["mean"])
    details: dict[str, Any] = {
        "authenticate_us": authenticate,
        "components_us": components,
        "argon2": argon,
        "ratio": ratio,
        "ratio_cpu": round(argon["cpu_ms_mean"] * 1000 / memory["cpu_us_per_call"]),
    }
    argon_label = (
        f"t={argon['time_cost']}, m={argon['memory_kib'] // 1024} MiB, p={argon['parallelism']}"
    )
    figures = [
        figure(
            "verify one signed request (HMAC + replay check, memory)",
            memory["mean"],
            "us",
            note=f"p50 {memory['p50']}, p99 {memory['p99']} us; {calls:,} calls",
            headline=True,
        ),
    ]
    if "redis" in authenticate:
        redis = authenticate["redis"]
        figures.append(
            figure(
                "verify one signed request (HMAC + replay check, Redis)",
                redis["mean"],
                "us",
                note=f"p50 {redis['p50']}, p99 {redis['p99']} us; one round trip",
                headline=True,
            )
        )
    figures += [
        figure("  of which HMAC-SHA256 + compare_digest", components["hmac_sha256_compare"], "us"),
        figure("  of which replay check (memory)", components["replay_claim_memory"], "us"),
        figure(
            f"one Argon2id verification ({argon_label})",
            argon["wall_ms_mean"],
            "ms",
            note=f"CPU {argon['cpu_ms_mean']} ms",
            headline=True,
        ),
        figure(
            "Argon2id / signed verification",
            ratio,
            "x",
            note=f"CPU time ratio {details['ratio_cpu']:,}x",
            headline=True,
        ),
        figure(
            "signed verifications per core-second",
            round(1e6 / memory["cpu_us_per_call"]),
            "/s",
        ),
        figure(
            "Argon2id verifications per core-second",
            round(1000 / argon["cpu_ms_mean"], 1),
            "/s",
        ),
    ]
    out = result(
        NAME,
        quick=quick,
        started=started,
        finished=time.perf_counter(),
        figures=figures,
        details=details,
    )
    print_figures("(5) verifying a signed request vs one Argon2id verification", figures)
    harness.save_result(NAME if not quick else f"{NAME}.quick", out)
    return out


if __name__ == "__main__":
    import sys

    run(quick="--quick" in sys.argv)
