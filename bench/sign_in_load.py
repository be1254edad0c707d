"""(7) Sign-in under load, and the memory of a burst of sign-ups (issue 10, defects 2 and 3).

Against a real `eagate serve` (embedded SQLite) with the DEFAULT Argon2id cost (3 passes,
64 MiB), which the other benchmarks lower:

- p99 of an unrelated owner's ``POST /signals``, alone, then while 4 clients sign in
  continuously (target: no failed signal, p99 at most 3x the quiet figure). Before the fix a
  sign-in hashed inside its write transaction, so on SQLite every other writer queued behind
  Argon2 (and failed with "database is locked" after 10 s);
- RSS growth of the server while 100 sign-ups arrive at once (target <= 300 MiB; each hash
  takes 64 MiB, so unbounded hashing took ~2 GiB for 30). The per-address sign-up throttle is
  raised for this part so that only the hashing bound is measured (sign-ups from many
  addresses).

Figures are printed, never asserted.
"""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections import Counter
from typing import Any

import httpx

from bench import harness
from bench.report import at_most, figure, print_figures, result, summarize_ms

NAME = "sign_in_load"
SIGN_IN_CLIENTS = 4
SIGN_UPS = 100
TARGET_RATIO = 3.0
TARGET_RSS_GROWTH_MIB = 300
# The defaults of Settings: what production runs.
DEFAULT_ARGON2 = {"EAGATE_ARGON2_TIME_COST": "3", "EAGATE_ARGON2_MEMORY_KIB": "65536"}
SIGNAL = {"instrument": "EURUSD", "side": "buy", "volume": 0.1}


async def _owner(http: httpx.AsyncClient) -> tuple[str, dict[str, str]]:
    email = f"bench-{uuid.uuid4().hex[:10]}@example.com"
    for _ in range(50):  # the hashing gate may ask us to come back (503, Retry-After)
        signup = await http.post(
            "/api/v1/auth/signup", json={"email": email, "password": harness.PASSWORD}
        )
        if signup.status_code != 503:
            break
        await asyncio.sleep(0.2)
    signup.raise_for_status()
    token = await http.post(
        "/api/v1/auth/token", data={"username": email, "password": harness.PASSWORD}
    )
    token.raise_for_status()
    return email, {"Authorization": f"Bearer {token.json()['access_token']}"}


async def _signals(http: httpx.AsyncClient, headers: dict[str, str], count: int) -> dict[str, Any]:
    durations: list[float] = []
    statuses: Counter[int] = Counter()
    for _ in range(count):
        began = time.perf_counter()
        response = await http.post("/api/v1/signals", json=SIGNAL, headers=headers)
        durations.append((time.perf_counter() - began) * 1000)
        statuses[response.status_code] += 1
    return {"ms": summarize_ms(durations), "statuses": dict(statuses)}


async def _sign_in_loop(url: str, email: str, stop: asyncio.Event, statuses: Counter[int]) -> None:
    async with httpx.AsyncClient(base_url=url, timeout=30) as http:
        while not stop.is_set():
            response = await http.post(
                "/api/v1/auth/token", data={"username": email, "password": harness.PASSWORD}
            )
            statuses[response.status_code] += 1
            if response.status_code == 503:
                await asyncio.sleep(float(response.headers.get("retry-after", "1")))


async def _measure_sign_in_load(url: str, count: int) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=url, timeout=30) as http:
        _, sender = await _owner(http)
        device = await http.post(
            "/api/v1/devices", json={"device_name": "bench EA"}, headers=sender
        )
        device.raise_for_status()
        signers = [(await _owner(http))[0] for _ in range(SIGN_IN_CLIENTS)]
        await _signals(http, sender, 20)  # warm up
        quiet = await _signals(http, sender, count)

        stop = asyncio.Event()
        sign_ins: Counter[int] = Counter()
        loops = [
            asyncio.create_task(_sign_in_loop(url, email, stop, sign_ins)) for email in signers
        ]
        await asyncio.sleep(1.0)  # the loops are running
        began = time.perf_counter()
        loaded = await _signals(http, sender, count)
        seconds = time.perf_counter() - began
        stop.set()
        await asyncio.gather(*loops)
    return {
        "quiet": quiet,
        "under_sign_ins": loaded,
        "sign_in_statuses": dict(sign_ins),
        "sign_ins_per_second": round(sign_ins[200] / seconds, 1) if seconds else None,
    }


async def _measure_sign_up_burst(url: str, pid: int) -> dict[str, Any]:
    samples: list[int] = []
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            samples.append(harness.memory_kib(pid)["VmRSS"])
            time.sleep(0.01)

    baseline = harness.memory_kib(pid)
    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    limits = httpx.Limits(max_connections=SIGN_UPS + 10)
    async with httpx.AsyncClient(base_url=url, timeout=60, limits=limits) as http:
        responses = await asyncio.gather(
            *(
                http.post(
                    "/api/v1/auth/signup",
                    json={
                        "email": f"burst-{n}-{uuid.uuid4().hex[:8]}@example.com",
                        "password": harness.PASSWORD,
                    },
                )
                for n in range(SIGN_UPS)
            )
        )
    await asyncio.sleep(0.5)
    done.set()
    sampler.join()
    peak = max(samples, default=baseline["VmRSS"])
    return {
        "rss_before_kib": baseline["VmRSS"],
        "rss_peak_during_kib": peak,
        "rss_growth_mib": round((peak - baseline["VmRSS"]) / 1024, 1),
        "vm_hwm_kib": harness.memory_kib(pid)["VmHWM"],
        "statuses": dict(Counter(r.status_code for r in responses)),
    }


def run(quick: bool = False) -> dict[str, Any]:
    started = time.perf_counter()
    count = 60 if quick else 300
    env = {**DEFAULT_ARGON2, "EAGATE_SIGN_UPS_PER_IP": "100000", "EAGATE_LOG_LEVEL": "WARNING"}
    with harness.eagate_server(env=env) as server:
        load = harness.run_async(_measure_sign_in_load(server.url, count))
        burst = harness.run_async(_measure_sign_up_burst(server.url, server.pid))
    quiet_p99 = load["quiet"]["ms"]["p99"]
    loaded_p99 = load["under_sign_ins"]["ms"]["p99"]
    ratio = round(loaded_p99 / quiet_p99, 2) if quiet_p99 and loaded_p99 else None
    failed = sum(n for status, n in load["under_sign_ins"]["statuses"].items() if status != 201)
    growth = burst["rss_growth_mib"]
    figures = [
        figure(
            "POST /signals p99 while 4 clients sign in / quiet",
            ratio,
            "x",
            target=f"<= {TARGET_RATIO}",
            passed=at_most(ratio, TARGET_RATIO),
        ),
        figure(
            "failed POST /signals while 4 clients sign in", failed, target="0", passed=not failed
        ),
        figure("POST /signals p99, quiet", quiet_p99, "ms"),
        figure("POST /signals p99, 4 clients signing in", loaded_p99, "ms"),
        figure("successful sign-ins meanwhile", load["sign_ins_per_second"], "/s"),
        figure(
            f"RSS growth, {SIGN_UPS} concurrent sign-ups",
            growth,
            "MiB",
            target=f"<= {TARGET_RSS_GROWTH_MIB} MiB",
            passed=at_most(growth, TARGET_RSS_GROWTH_MIB),
            note=f"answers {burst['statuses']}",
        ),
    ]
    out = result(
        NAME,
        quick=quick,
        started=started,
        finished=time.perf_counter(),
        figures=figures,
        details={"sign_in_load": load, "sign_up_burst": burst, "signals_per_phase": count},
    )
    print_figures("(7) sign-in under load (default Argon2 cost)", figures)
    harness.save_result(NAME if not quick else f"{NAME}.quick", out)
    return out


if __name__ == "__main__":
    import sys

    run(quick="--quick" in sys.argv)
