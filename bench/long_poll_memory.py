"""(3) 10,000 devices long-polling at once against one server process: memory and errors.

A real ``eagate serve`` process (one worker, SQLite, the default deployment) with 10,000
provisioned devices. Each device gets its own keep-alive connection from a raw asyncio
HTTP/1.1 client (precomputed signed requests). First every device polls once with
``wait=0`` (at most 200 at a time, as terminals coming online would), which caches its key
and marks it idle; then all of them send a long-poll (``wait=10``) at once. While they wait,
the server's resident memory is sampled from /proc/<pid>/status (VmRSS; VmHWM is the peak
over the process's life). Every connection error and every non-200 answer is counted.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from bench import harness
from bench.provision import ProvisionedDevice, provision
from bench.rawhttp import Connection, Response, open_many, signed_request
from bench.report import at_most, figure, print_figures, result, summarize_ms
from eagate.migrations_runner import upgrade_to_head
from eagate.settings import Settings

NAME = "long_poll_memory"
TARGET_RSS_MIB = 1024
WAIT_SECONDS = 10
WARM_CONCURRENCY = 100


def _mib(kib: int) -> float:
    return round(kib / 1024, 1)


async def _measure(
    server: harness.Server, devices: list[ProvisionedDevice], wait: int
) -> dict[str, Any]:
    parsed = httpx.URL(server.url)
    host, port = parsed.host, parsed.port
    assert port is not None
    authority = f"{host}:{port}"
    pid = server.pid
    out: dict[str, Any] = {"devices": len(devices), "wait_seconds": wait}
    memory: dict[str, Any] = {"started": harness.memory_kib(pid)}
    errors: dict[str, int] = {"connect": 0, "warmup_non_200": 0, "warmup_failed": 0}

    def poll(device: ProvisionedDevice, target: str) -> bytes:
        return signed_request(
            device_id=str(device.id),
            secret=device.secret,
            method="GET",
            target=target,
            host=authority,
        )

    started = time.perf_counter()
    connections, connect_errors = await open_many(host, port, len(devices))
    out["connect_seconds"] = round(time.perf_counter() - started, 2)
    errors["connect"] = len(connect_errors)
    out["connect_error_samples"] = connect_errors[:5]
    pairs = list(zip(connections, devices, strict=False))
    memory["connected"] = harness.memory_kib(pid)

    # Terminals come online: one short poll each (key cached, device known idle).
    limit = asyncio.Semaphore(WARM_CONCURRENCY)

    async def warm(connection: Connection, device: ProvisionedDevice) -> int:
        async with limit:
            return (await connection.request(poll(device, "/api/v1/device/poll?wait=0"))).status

    started = time.perf_counter()
    warmed = await asyncio.gather(*(warm(c, d) for c, d in pairs), return_exceptions=True)
    out["warmup_seconds"] = round(time.perf_counter() - started, 2)
    out["warmup_polls_per_second"] = round(len(pairs) / (time.perf_counter() - started), 1)
    errors["warmup_failed"] = sum(isinstance(s, BaseException) for s in warmed)
    errors["warmup_non_200"] = sum(isinstance(s, int) and s != 200 for s in warmed)
    alive = [pair for pair, s in zip(pairs, warmed, strict=True) if s == 200]
    await asyncio.to_thread(harness.wait_for_quiet, pid, timeout=60)
    memory["idle_connections"] = harness.memory_kib(pid)

    # Everyone long-polls at once.
    target = f"/api/v1/device/poll?wait={wait}"
    requests = [poll(device, target) for _, device in alive]
    generator_before = harness.self_cpu_seconds()
    server_before = harness.process_cpu_seconds(pid)
    sent = time.perf_counter()
    for (connection, _), request in zip(alive, requests, strict=True):
        connection.send(request)
    tasks = [asyncio.ensure_future(connection.read_response()) for connection, _ in alive]
    out["send_seconds"] = round(time.perf_counter() - sent, 3)

    # Sample while they wait; the server is done admitting them when its CPU goes quiet.
    samples: list[dict[str, float]] = []
    parked_after: float | None = None
    last_cpu = harness.process_cpu_seconds(pid)
    last_at = time.perf_counter()
    while time.perf_counter() - sent < wait - 0.5:
        await asyncio.sleep(0.2)
        now = time.perf_counter()
        cpu = harness.process_cpu_seconds(pid)
        busy = (cpu - last_cpu) / (now - last_at)
        last_cpu, last_at = cpu, now
        rss = harness.memory_kib(pid)["VmRSS"]
        returned = sum(task.done() for task in tasks)
        samples.append(
            {
                "t": round(now - sent, 2),
                "rss_mib": _mib(rss),
                "busy": round(busy, 2),
                "done": returned,
            }
        )
        if parked_after is None and busy < 0.08:
            parked_after = round(now - sent, 2)
    waiting_rss = [s["rss_mib"] for s in samples if s["t"] >= (parked_after or wait)]
    memory["while_waiting_max_mib"] = max(waiting_rss) if waiting_rss else None
    returned_early = samples[-1]["done"] if samples else 0

    done, pending = await asyncio.wait(tasks, timeout=wait + 60)
    finished = time.perf_counter()
    generator_cpu = harness.self_cpu_seconds() - generator_before
    server_cpu = harness.process_cpu_seconds(pid) - server_before
    responses: list[Response] = []
    read_errors = len(pending)
    for task in done:
        if task.exception() is not None:
            read_errors += 1
        else:
            responses.append(task.result())
    for task in pending:
        task.cancel()
    errors["long_poll_non_200"] = sum(r.status != 200 for r in responses)
    errors["long_poll_failed"] = read_errors
    errors["with_signals"] = sum(r.status == 200 and bool(r.json()["signals"]) for r in responses)
    memory["finished"] = harness.memory_kib(pid)
    out["response_seconds"] = summarize_ms([(r.received_at - sent) for r in responses])
    out["long_polls"] = len(alive)
    out["parked_after_seconds"] = parked_after
    out["returned_before_wait"] = returned_early
    out["generator_cpu_percent"] = round(100 * generator_cpu / (finished - sent), 1)
    out["server_cpu_seconds_long_poll_phase"] = round(server_cpu, 2)
    out["samples"] = samples
    out["memory_kib"] = memory
    out["errors"] = errors
    await asyncio.gather(*(c.close() for c in connections))
    return out


def run(quick: bool = False) -> dict[str, Any]:
    started = time.perf_counter()
    count = 500 if quick else 10_000
    open_files = harness.raise_open_files_limit()
    if open_files < count + 200:
        raise RuntimeError(f"RLIMIT_NOFILE is {open_files}; {count} connections need more")
    with tempfile.TemporaryDirectory(prefix="eagate-bench-") as tmp:
        data_dir = Path(tmp)
        settings = Settings(data_dir=data_dir)
        upgrade_to_head(settings.resolved_database_url)
        owners = max(1, count // 1000)
        provisioned = harness.run_async(
            provision(settings, owners=owners, devices_per_owner=count // owners)
        )
        with harness.eagate_server_with_log(
            data_dir=data_dir, log_path=data_dir / "server.log"
        ) as server:
            measured = harness.run_async(_measure(server, provisioned.devices, WAIT_SECONDS))
    measured["open_files_limit"] = open_files
    measured["provision_seconds"] = provisioned.seconds
    memory = measured["memory_kib"]
    waiting = memory["while_waiting_max_mib"]
    peak = _mib(memory["finished"]["VmHWM"])
    baseline = _mib(memory["started"]["VmRSS"])
    error_total = sum(v for k, v in measured["errors"].items() if k != "with_signals")
    n = measured["long_polls"]
    per_poll_kib = (
        round((waiting - _mib(memory["idle_connections"]["VmRSS"])) * 1024 / n, 1)
        if waiting is not None and n
        else None
    )
    figures = [
        figure(
            f"RSS with {n:,} long-polls waiting",
            waiting,
            "MiB",
            target=f"<= {TARGET_RSS_MIB} MiB",
            passed=at_most(waiting, TARGET_RSS_MIB),
            note="max VmRSS sampled while all waited",
        ),
        figure(
            "peak RSS of the server over the run (VmHWM)",
            peak,
            "MiB",
            target=f"<= {TARGET_RSS_MIB} MiB",
            passed=at_most(peak, TARGET_RSS_MIB),
        ),
        figure(
            "errors (connect, non-200, failed reads)",
            error_total,
            target="0",
            passed=error_total == 0,
        ),
        figure("RSS at start (no devices seen)", baseline, "MiB"),
        figure(
            f"RSS with {n:,} idle keep-alive connections",
            _mib(memory["idle_connections"]["VmRSS"]),
            "MiB",
        ),
        figure("memory per waiting long-poll (over idle connection)", per_poll_kib, "KiB"),
        figure(
            "all long-polls admitted (server quiet) after",
            measured["parked_after_seconds"],
            "s",
        ),
        figure(
            "first polls, wait=0 (keys loaded, DB claim)",
            measured["warmup_polls_per_second"],
            "polls/s",
        ),
        figure("load generator CPU (long-poll phase)", measured["generator_cpu_percent"], "%"),
    ]
    out = result(
        NAME,
        quick=quick,
        started=started,
        finished=time.perf_counter(),
        figures=figures,
        details=measured,
    )
    print_figures(f"(3) {n:,} concurrent long-polls, one process", figures)
    harness.save_result(NAME if not quick else f"{NAME}.quick", out)
    return out


if __name__ == "__main__":
    import sys

    run(quick="--quick" in sys.argv)
