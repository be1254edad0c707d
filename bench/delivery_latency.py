"""(2) Delivery latency: a signal accepted -> the device's long-poll returns it.

A real ``eagate serve`` process (one worker), on SQLite (the default) and on PostgreSQL.

Latency: one device long-polls (``wait=25``) on its own keep-alive connection; once it is
parked the owner POSTs a signal for it; the time is taken from just before the POST is written
to the moment the poll's response is read (client side), so it includes creating the signal.
The server's own view comes from its access log (timestamps of 1 ms resolution): the signal
committed (the POST's 201 written) to the poll's response written, and the POST's arrival to
the same. Each trial acknowledges the signal, so the next poll starts empty.

Fan-out: 1,000 devices long-poll at once, each on its own connection (precomputed signed
requests, a raw HTTP/1.1 client); one signal without ``device_ids`` targets them all; the
figure is the time until the last device has read it. The signal is cancelled between rounds.
A first round does the same with cold devices (never seen by the server) and the signal sent
right behind their long-polls, while the server is still taking them in.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import tempfile
import time
from contextlib import nullcontext
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import orjson

from bench import harness
from bench.provision import Owner, ProvisionedDevice, provision
from bench.rawhttp import Connection, json_request, open_many, signed_request
from bench.report import at_most, figure, percentile, print_figures, result, summarize_ms
from eagate.kit.migrate import upgrade_to_head
from eagate.settings import Settings

NAME = "delivery_latency"
TARGET_P50_MS = 3.0
TARGET_P99_MS = 15.0
TARGET_FANOUT_LAST_MS = 1000.0

SIGNAL = {"instrument": "EURUSD", "side": "buy", "volume": 0.1}
POLL_TARGET = "/api/v1/device/poll?wait=25"
WARMUP_TRIALS = 5
# Time for a long-poll to reach the server and park (authenticate, one empty claim).
PARK_SECONDS = 0.03


def _address(url: str) -> tuple[str, int, str]:
    parsed = httpx.URL(url)
    assert parsed.port is not None
    return parsed.host, parsed.port, f"{parsed.host}:{parsed.port}"


async def _latency_trials(
    server: harness.Server, owner: Owner, device: ProvisionedDevice, trials: int
) -> dict[str, Any]:
    host, port, authority = _address(server.url)
    device_id = str(device.id)

    def device_request(
        method: str, target: str, body: bytes = b"", rid: str | None = None
    ) -> bytes:
        return signed_request(
            device_id=device_id,
            secret=device.secret,
            method=method,
            target=target,
            host=authority,
            body=body,
            request_id=rid,
        )

    poller = await Connection.open(host, port)
    sender = await Connection.open(host, port)
    client_ms: list[float] = []
    to_201_ms: list[float] = []
    after_201_ms: list[float] = []
    errors: list[str] = []
    try:
        # Warm: the device's key is cached and it is known idle; the owner's token path runs.
        warm = await poller.request(device_request("GET", "/api/v1/device/poll?wait=0"))
        me = await sender.request(
            json_request("GET", "/api/v1/clients/me", host=authority, token=owner.token)
        )
        if warm.status != 200 or me.status != 200:
            raise RuntimeError(f"warm-up failed: poll {warm.status}, owner {me.status}")
        for index in range(WARMUP_TRIALS + trials):
            poller.send(device_request("GET", POLL_TARGET, rid=f"bench-poll-{index:05d}"))
            poll = asyncio.ensure_future(poller.read_response())
            await asyncio.sleep(PARK_SECONDS)
            if poll.done():
                errors.append(
                    f"trial {index}: poll returned before the signal ({poll.result().status})"
                )
                continue
            post = json_request(
                "POST",
                "/api/v1/signals",
                host=authority,
                token=owner.token,
                payload={**SIGNAL, "device_ids": [device_id]},
                request_id=f"bench-post-{index:05d}",
            )
            sent = time.perf_counter()
            sender.send(post)
            created = await sender.read_response()
            polled = await asyncio.wait_for(poll, 30)
            if created.status != 201 or polled.status != 200:
                errors.append(f"trial {index}: POST {created.status}, poll {polled.status}")
                continue
            signal_id = created.json()["id"]
            got = [item["signal_id"] for item in polled.json()["signals"]]
            if got != [signal_id]:
                errors.append(f"trial {index}: poll returned {got}, expected [{signal_id}]")
            if index >= WARMUP_TRIALS:
                client_ms.append((polled.received_at - sent) * 1000)
                to_201_ms.append((created.received_at - sent) * 1000)
                after_201_ms.append((polled.received_at - created.received_at) * 1000)
            ack = orjson.dumps(
                {"signal_id": signal_id, "status": "placed", "broker_ticket": f"T{index}"}
            )
            acked = await poller.request(device_request("POST", "/api/v1/device/ack", ack))
            if acked.status != 200:
                errors.append(f"trial {index}: ack {acked.status}")
    finally:
        await poller.close()
        await sender.close()
    return {
        "trials": trials,
        "client_ms": summarize_ms(client_ms),
        "post_201_ms": summarize_ms(to_201_ms),
        "poll_after_201_ms": summarize_ms(after_201_ms),
        "errors": errors[:20],
        "error_count": len(errors),
    }


def _log_time(stamp: str) -> float:
    return datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S.%f%z").timestamp()


def server_side_latencies(log_path: Path) -> dict[str, Any]:
    """From the access log: POST /signals received -> the trial's poll response written."""
    posts: dict[str, tuple[float, float]] = {}
    polls: dict[str, float] = {}
    for line in log_path.read_text(errors="replace").splitlines():
        if '"bench-p' not in line:
            continue
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        request_id = str(entry.get("request_id", ""))
        if request_id.startswith("bench-post-"):
            posts[request_id[11:]] = (_log_time(entry["ts"]), float(entry["duration_ms"]))
        elif request_id.startswith("bench-poll-"):
            polls[request_id[11:]] = _log_time(entry["ts"])
    received_to_returned: list[float] = []
    accepted_to_returned: list[float] = []
    for trial, (post_end, post_duration_ms) in posts.items():
        if int(trial) < WARMUP_TRIALS or trial not in polls:
            continue
        received_to_returned.append((polls[trial] - post_end) * 1000 + post_duration_ms)
        accepted_to_returned.append((polls[trial] - post_end) * 1000)
    return {
        "post_received_to_poll_returned_ms": summarize_ms(received_to_returned),
        "post_answered_to_poll_returned_ms": summarize_ms(accepted_to_returned),
        "resolution_ms": 1,
    }


async def _warm(
    host: str, port: int, requests: list[bytes], *, workers: int = 100
) -> tuple[int, float]:
    """Send each request once over ``workers`` busy keep-alive connections; returns the
    non-200 count and the seconds taken. (uvicorn closes a connection idle for 5 s, so
    connections are never left waiting between phases.)"""
    queue = list(reversed(requests))
    non_200 = 0

    async def worker() -> None:
        nonlocal non_200
        connection = await Connection.open(host, port)
        try:
            while queue:
                response = await connection.request(queue.pop())
                non_200 += response.status != 200
        finally:
            await connection.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(min(workers, len(requests)))))
    return non_200, time.perf_counter() - started


async def _fanout(
    server: harness.Server, owner: Owner, fleet: list[ProvisionedDevice], rounds: int
) -> dict[str, Any]:
    host, port, authority = _address(server.url)

    def poll_request(device: ProvisionedDevice, target: str) -> bytes:
        return signed_request(
            device_id=str(device.id),
            secret=device.secret,
            method="GET",
            target=target,
            host=authority,
        )

    out: dict[str, Any] = {"devices": len(fleet), "rounds": []}
    # First, cold: the devices have never polled this server (no key cached, nothing known
    # to be idle) and the signal is sent right behind their long-polls, while the server is
    # still taking them in; a signal that commits meanwhile must still wake every one.
    out["arriving"] = await _arriving_round(host, port, authority, owner, fleet, poll_request)
    # Warm: every device polls once, so its key is cached and it is known to be idle.
    non_200, seconds = await _warm(
        host, port, [poll_request(device, "/api/v1/device/poll?wait=0") for device in fleet]
    )
    out["warmup_seconds"] = round(seconds, 2)
    out["warmup_non_200"] = non_200

    for _ in range(rounds):
        # Fresh connections each round, each sending its long-poll as soon as it is open.
        connections, connect_errors = await open_many(host, port, len(fleet))
        if connect_errors:
            raise RuntimeError(f"{len(connect_errors)} connections failed: {connect_errors[:3]}")
        try:
            for connection, device in zip(connections, fleet, strict=True):
                connection.send(poll_request(device, POLL_TARGET))
            tasks = [asyncio.ensure_future(c.read_response()) for c in connections]
            # Every poll is parked once the server has nothing left to do (activity flushed).
            await asyncio.sleep(1.2)
            await asyncio.to_thread(harness.wait_for_quiet, server.pid, timeout=30)
            returned_early = sum(task.done() for task in tasks)
            signal = json_request(
                "POST", "/api/v1/signals", host=authority, token=owner.token, payload=SIGNAL
            )
            sender = await Connection.open(host, port)

            generator_before = harness.self_cpu_seconds()
            server_before = harness.process_cpu_seconds(server.pid)
            sent = time.perf_counter()
            created = await sender.request(signal)
            if created.status != 201:
                raise RuntimeError(f"fan-out signal: {created.status} {created.body[:200]!r}")
            signal_id = created.json()["id"]
            done, pending = await asyncio.wait(tasks, timeout=30)
            last_read = max(
                (t.result().received_at for t in done if not t.exception()), default=sent
            )
            window = max(last_read - sent, 1e-6)
            generator_cpu = harness.self_cpu_seconds() - generator_before
            server_cpu = harness.process_cpu_seconds(server.pid) - server_before

            arrivals: list[float] = []
            wrong = 0
            for task in done:
                if task.exception() is not None:
                    wrong += 1
                    continue
                response = task.result()
                ids = (
                    [s["signal_id"] for s in response.json()["signals"]]
                    if response.status == 200
                    else []
                )
                if signal_id in ids:
                    arrivals.append((response.received_at - sent) * 1000)
                else:
                    wrong += 1
            for task in pending:
                task.cancel()
            await sender.close()
            # Cancelled, the signal is not delivered again to the next round's polls. (A fresh
            # connection: uvicorn closes one left idle for 5 s, as the sender may have been.)
            canceller = await Connection.open(host, port)
            cancelled = await canceller.request(
                json_request(
                    "POST", f"/api/v1/signals/{signal_id}/cancel", host=authority, token=owner.token
                )
            )
            await canceller.close()
        finally:
            await asyncio.gather(*(c.close() for c in connections))
        out["rounds"].append(
            {
                "post_201_ms": round((created.received_at - sent) * 1000, 2),
                "first_ms": round(min(arrivals), 2) if arrivals else None,
                "p50_ms": round(percentile(arrivals, 50) or 0, 2) if arrivals else None,
                "p99_ms": round(percentile(arrivals, 99) or 0, 2) if arrivals else None,
                "last_ms": round(max(arrivals), 2) if arrivals else None,
                "received": len(arrivals),
                "missing_or_wrong": wrong + len(pending),
                "returned_before_signal": returned_early,
                "generator_cpu_percent": round(100 * generator_cpu / window, 1),
                "server_cpu_percent": round(100 * server_cpu / window, 1),
                "cancel_status": cancelled.status,
            }
        )
    return out


async def _arriving_round(
    host: str,
    port: int,
    authority: str,
    owner: Owner,
    fleet: list[ProvisionedDevice],
    poll_request: Any,
) -> dict[str, Any]:
    connections, connect_errors = await open_many(host, port, len(fleet))
    if connect_errors:
        raise RuntimeError(f"{len(connect_errors)} connections failed: {connect_errors[:3]}")
    sender = await Connection.open(host, port)
    try:
        for connection, device in zip(connections, fleet, strict=True):
            connection.send(poll_request(device, POLL_TARGET))
        tasks = [asyncio.ensure_future(c.read_response()) for c in connections]
        sent = time.perf_counter()
        created = await sender.request(
            json_request(
                "POST", "/api/v1/signals", host=authority, token=owner.token, payload=SIGNAL
            )
        )
        if created.status != 201:
            raise RuntimeError(f"fan-out signal: {created.status} {created.body[:200]!r}")
        signal_id = created.json()["id"]
        done, pending = await asyncio.wait(tasks, timeout=40)
        arrivals: list[float] = []
        for task in done:
            response = None if task.exception() else task.result()
            if (
                response is not None
                and response.status == 200
                and signal_id in [s["signal_id"] for s in response.json()["signals"]]
            ):
                arrivals.append((response.received_at - sent) * 1000)
        for task in pending:
            task.cancel()
        cancelled = await sender.request(
            json_request(
                "POST", f"/api/v1/signals/{signal_id}/cancel", host=authority, token=owner.token
            )
        )
    finally:
        await asyncio.gather(sender.close(), *(c.close() for c in connections))
    return {
        "post_201_ms": round((created.received_at - sent) * 1000, 2),
        "p50_ms": round(percentile(arrivals, 50) or 0, 2) if arrivals else None,
        "last_ms": round(max(arrivals), 2) if arrivals else None,
        "received": len(arrivals),
        "missing_or_wrong": len(fleet) - len(arrivals),
        "cancel_status": cancelled.status,
    }


def _run_backend(backend: str, trials: int, fanout_devices: int, rounds: int) -> dict[str, Any]:
    database = harness.postgres_database() if backend == "postgresql" else nullcontext(None)
    with tempfile.TemporaryDirectory(prefix="eagate-bench-") as tmp, database as postgres_url:
        data_dir = Path(tmp)
        settings = Settings(data_dir=data_dir, database_url=postgres_url)
        if postgres_url is None:
            upgrade_to_head(settings.resolved_database_url)
        provisioned = harness.run_async(
            provision(settings, owners=2, devices_per_owner=[1, fanout_devices])
        )
        owner, fleet_owner = provisioned.owners
        device = provisioned.devices_of(owner)[0]
        fleet = provisioned.devices_of(fleet_owner)
        env = {"EAGATE_DATABASE_URL": postgres_url} if postgres_url else {}
        log_path = data_dir / "server.log"
        with harness.eagate_server_with_log(
            data_dir=data_dir, log_path=log_path, env=env
        ) as server:
            latency = harness.run_async(_latency_trials(server, owner, device, trials))
            fanout = harness.run_async(_fanout(server, fleet_owner, fleet, rounds))
        latency["server"] = server_side_latencies(log_path)
        return {
            "latency": latency,
            "fanout": fanout,
            "provision_seconds": provisioned.seconds,
            "server_log_problems": harness.log_problems(log_path),
        }


def _figures(backend: str, measured: dict[str, Any]) -> list[dict[str, Any]]:
    latency = measured["latency"]
    client = latency["client_ms"]
    server = latency["server"]["post_received_to_poll_returned_ms"]
    committed = latency["server"]["post_answered_to_poll_returned_ms"]
    rounds = measured["fanout"]["rounds"]
    lasts = [r["last_ms"] for r in rounds if r["last_ms"] is not None]
    last_median = statistics.median(lasts) if lasts else None
    arriving = measured["fanout"]["arriving"]
    arriving_devices = measured["fanout"]["devices"]
    missing = (
        sum(r["missing_or_wrong"] for r in rounds)
        + measured["fanout"]["warmup_non_200"]
        + arriving["missing_or_wrong"]
    )
    tag = f"[{backend}]"
    trials = f"{latency['trials']} trials"
    return [
        figure(
            f"{tag} signal -> long-poll returns, p50",
            client["p50"],
            "ms",
            target=f"<= {TARGET_P50_MS:g} ms",
            passed=at_most(client["p50"], TARGET_P50_MS),
            note=f"client, {trials}",
        ),
        figure(
            f"{tag} signal -> long-poll returns, p99",
            client["p99"],
            "ms",
            target=f"<= {TARGET_P99_MS:g} ms",
            passed=at_most(client["p99"], TARGET_P99_MS),
            note=f"client, {trials}",
        ),
        figure(
            f"{tag} client: POST sent -> 201 read, p50",
            latency["post_201_ms"]["p50"],
            "ms",
            note="the signal's creation alone",
            headline=True,
        ),
        figure(
            f"{tag} server view: signal committed -> poll answered, p50",
            committed["p50"],
            "ms",
            target=f"<= {TARGET_P50_MS:g} ms",
            passed=at_most(committed["p50"], TARGET_P50_MS),
            note="POST's 201 written -> poll's response written; access log, 1 ms resolution",
        ),
        figure(
            f"{tag} server view: signal committed -> poll answered, p99",
            committed["p99"],
            "ms",
            target=f"<= {TARGET_P99_MS:g} ms",
            passed=at_most(committed["p99"], TARGET_P99_MS),
            note="access log, 1 ms resolution",
        ),
        figure(
            f"{tag} server: POST received -> poll answered, p50",
            server["p50"],
            "ms",
            note="access log, 1 ms resolution",
        ),
        figure(
            f"{tag} server: POST received -> poll answered, p99",
            server["p99"],
            "ms",
            note="access log, 1 ms resolution",
        ),
        figure(
            f"{tag} latency trial errors",
            latency["error_count"],
            target="0",
            passed=latency["error_count"] == 0,
        ),
        figure(
            f"{tag} fan-out to {measured['fanout']['devices']:,}: last device has it",
            round(last_median, 1) if last_median is not None else None,
            "ms",
            target=f"<= {TARGET_FANOUT_LAST_MS:g} ms",
            passed=at_most(last_median, TARGET_FANOUT_LAST_MS),
            note=f"median of {len(lasts)} rounds; worst {max(lasts) if lasts else '-'} ms",
        ),
        figure(
            f"{tag} fan-out to {arriving_devices:,} while their long-polls arrive: last device",
            arriving["last_ms"],
            "ms",
            target=f"<= {TARGET_FANOUT_LAST_MS:g} ms",
            passed=at_most(arriving["last_ms"], TARGET_FANOUT_LAST_MS),
            note=f"cold, signal sent right behind the polls; POST {arriving['post_201_ms']} ms",
        ),
        figure(
            f"{tag} fan-out: devices without the signal",
            missing,
            target="0",
            passed=missing == 0,
        ),
        figure(
            f"{tag} fan-out: load generator CPU",
            max((r["generator_cpu_percent"] for r in rounds), default=None),
            "% of a core",
            note="worst round",
            headline=True,
        ),
    ]


def run(quick: bool = False) -> dict[str, Any]:
    started = time.perf_counter()
    trials = 40 if quick else 200
    fanout_devices = 100 if quick else 1000
    rounds = 1 if quick else 3
    backends = ["sqlite"]
    if not quick and harness.postgres_available():
        backends.append("postgresql")
    harness.raise_open_files_limit()
    details: dict[str, Any] = {
        "trials": trials,
        "fanout_devices": fanout_devices,
        "fanout_rounds": rounds,
        "backends": {},
    }
    figures: list[dict[str, Any]] = []
    for backend in backends:
        measured = _run_backend(backend, trials, fanout_devices, rounds)
        details["backends"][backend] = measured
        figures += _figures(backend, measured)
    out = result(
        NAME,
        quick=quick,
        started=started,
        finished=time.perf_counter(),
        figures=figures,
        details=details,
    )
    print_figures("(2) delivery latency and fan-out", figures)
    harness.save_result(NAME if not quick else f"{NAME}.quick", out)
    return out


if __name__ == "__main__":
    import sys

    run(quick="--quick" in sys.argv)
