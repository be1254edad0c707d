"""(3) 10,000 devices long-polling at once against one server process: memory and errors.

A real ``eagate serve`` process (one worker, SQLite, the default deployment) with 10,000
provisioned devices. Each device gets its own keep-alive connection from a raw asyncio
HTTP/1.1 client (precomputed signed requests). First every device polls once with
``wait=0`` (at most 100 at a time, as terminals coming online would), which caches its key
and marks it idle; then all of them send a long-poll (``wait=20``; 10 in the quick variant)
at once. While they wait,
the server's resident memory is sampled from /proc/<pid>/status (VmRSS; VmHWM is the peak
over the process's life). Every connection error and every non-200 answer is counted.
RLIMIT_NOFILE is raised to its hard limit first; the server process inherits it.
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
from bench.rawhttp import Connection, Response, signed_request
from bench.report import at_most, figure, print_figures, result, summarize_ms
from eagate.kit.migrate import upgrade_to_head
from eagate.settings import Settings

NAME = "long_poll_memory"
TARGET_RSS_MIB = 1024
# Long enough that all the polls are in before the first one ends, even on a busy machine.
WAIT_SECONDS = 20
WARM_CONCURRENCY = 100
CONNECT_BATCH = 500


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
    errors: dict[str, int] = {}

    def poll(device: ProvisionedDevice, target: str) -> bytes:
        return signed_request(
            device_id=str(device.id),
            secret=device.secret,
            method="GET",
            target=target,
            host=authority,
        )

    # Terminals come online: one short poll each (key cached, device known idle), from
    # WARM_CONCURRENCY busy connections (an idle one would hit uvicorn's 5 s keep-alive limit).
    queue = list(reversed(devices))
    statuses: list[int] = []
    failures: list[str] = []

    async def warm_worker() -> None:
        connection = await Connection.open(host, port)
        try:
            while queue:
                device = queue.pop()
                try:
                    response = await connection.request(poll(device, "/api/v1/device/poll?wait=0"))
                    statuses.append(response.status)
                    if response.status != 200:
                        failures.append(f"{response.status}: {response.body[:200]!r}")
                except (OSError, asyncio.IncompleteReadError) as exc:
                    failures.append(f"{type(exc).__name__}: {exc}")
                    await connection.close()
                    connection = await Connection.open(host, port)
        finally:
            await connection.close()

    started = time.perf_counter()
    generator_before = harness.self_cpu_seconds()
    await asyncio.gather(*(warm_worker() for _ in range(min(WARM_CONCURRENCY, len(devices)))))
    elapsed = time.perf_counter() - started
    out["warmup_generator_cpu_percent"] = round(
        100 * (harness.self_cpu_seconds() - generator_before) / elapsed, 1
    )
    out["warmup_seconds"] = round(elapsed, 2)
    out["warmup_polls_per_second"] = round(len(devices) / elapsed, 1)
    errors["warmup_non_200"] = sum(status != 200 for status in statuses)
    errors["warmup_failed"] = len(failures) - errors["warmup_non_200"]
    await asyncio.to_thread(harness.wait_for_quiet, pid, timeout=60)
    memory["after_warmup"] = harness.memory_kib(pid)

    # Everyone long-polls at once: each opens its connection and sends its poll at once.
    target = f"/api/v1/device/poll?wait={wait}"
    requests = [poll(device, target) for device in devices]
    connect_slots = asyncio.Semaphore(CONNECT_BATCH)  # the listen backlog is finite
    connections: list[Connection] = []
    sent_at: list[float] = []
    durations: list[float] = []
    connect_errors: list[str] = []

    async def long_poll(request: bytes) -> Response | None:
        try:
            async with connect_slots:
                connection = await Connection.open(host, port)
        except OSError as exc:
            connect_errors.append(f"{type(exc).__name__}: {exc}")
            return None
        connections.append(connection)
        connection.send(request)
        sent = time.perf_counter()
        sent_at.append(sent)
        response = await connection.read_response()
        durations.append(response.received_at - sent)
        return response

    generator_before = harness.self_cpu_seconds()
    server_before = harness.process_cpu_seconds(pid)
    began = time.perf_counter()
    tasks = [asyncio.ensure_future(long_poll(request)) for request in requests]

    # Sample while they wait; the server has admitted them all when its CPU goes quiet.
    samples: list[dict[str, float]] = []
    all_waiting_at: float | None = None
    all_sent_at: float | None = None
    last_cpu = harness.process_cpu_seconds(pid)
    last_at = time.perf_counter()
    while True:
        await asyncio.sleep(0.2)
        now = time.perf_counter()
        cpu = harness.process_cpu_seconds(pid)
        busy = (cpu - last_cpu) / (now - last_at)
        last_cpu, last_at = cpu, now
        returned = sum(task.done() for task in tasks)
        samples.append(
            {
                "t": round(now - began, 2),
                "rss_mib": _mib(harness.memory_kib(pid)["VmRSS"]),
                "busy": round(busy, 2),
                "sent": len(sent_at),
                "done": returned,
            }
        )
        everyone_sent = len(sent_at) + len(connect_errors) == len(requests)
        if all_sent_at is None and everyone_sent:
            all_sent_at = round(now - began, 2)
        if all_waiting_at is None and everyone_sent and busy < 0.08:
            all_waiting_at = round(now - began, 2)
        first_due = (sent_at[0] - began + wait) if sent_at else wait
        if now - began > first_due - 0.4:
            break
    # All sent and none answered yet; from when the server went quiet (all parked) if it did.
    since = all_waiting_at if all_waiting_at is not None else all_sent_at
    waiting = [s for s in samples if since is not None and s["t"] >= since and s["done"] == 0]
    memory["while_waiting_max_mib"] = max((s["rss_mib"] for s in waiting), default=None)
    returned_early = max((s["done"] for s in samples), default=0)

    done, pending = await asyncio.wait(tasks, timeout=wait + 60)
    finished = time.perf_counter()
    generator_cpu = harness.self_cpu_seconds() - generator_before
    server_cpu = harness.process_cpu_seconds(pid) - server_before
    responses: list[Response] = []
    read_failures: list[str] = []
    for task in done:
        if task.exception() is not None:
            read_failures.append(repr(task.exception()))
        elif task.result() is not None:
            responses.append(task.result())
    for task in pending:
        task.cancel()
    errors["connect"] = len(connect_errors)
    errors["long_poll_non_200"] = sum(r.status != 200 for r in responses)
    errors["long_poll_failed"] = len(read_failures) + len(pending)
    out["error_samples"] = (connect_errors + read_failures + failures)[:5]
    out["with_signals"] = sum(r.status == 200 and bool(r.json()["signals"]) for r in responses)
    memory["finished"] = harness.memory_kib(pid)
    out["connect_and_send_seconds"] = round(max(sent_at) - began, 2) if sent_at else None
    out["response_seconds"] = summarize_ms(durations)
    out["long_polls"] = len(sent_at)
    out["all_sent_after_seconds"] = all_sent_at
    out["all_waiting_after_seconds"] = all_waiting_at
    out["waiting_samples"] = len(waiting)
    out["returned_while_sampling"] = returned_early
    out["generator_cpu_percent"] = round(100 * generator_cpu / (finished - began), 1)
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
        log_path = data_dir / "server.log"
        with harness.eagate_server_with_log(data_dir=data_dir, log_path=log_path) as server:
            measured = harness.run_async(
                _measure(server, provisioned.devices, 10 if quick else WAIT_SECONDS)
            )
        measured["server_log_problems"] = harness.log_problems(log_path)
    measured["open_files_limit"] = open_files
    measured["provision_seconds"] = provisioned.seconds
    memory = measured["memory_kib"]
    waiting = memory["while_waiting_max_mib"]
    peak = _mib(memory["finished"]["VmHWM"])
    baseline = _mib(memory["started"]["VmRSS"])
    error_total = sum(measured["errors"].values())
    n = measured["long_polls"]
    after_warmup = _mib(memory["after_warmup"]["VmRSS"])
    per_poll_kib = round((waiting - after_warmup) * 1024 / n, 1) if waiting and n else None
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
        figure(f"RSS after {n:,} first polls (keys cached)", after_warmup, "MiB"),
        figure("memory per waiting long-poll (connection included)", per_poll_kib, "KiB"),
        figure(
            f"{n:,} connections opened and long-polls sent in",
            measured["connect_and_send_seconds"],
            "s",
        ),
        figure(
            "all waiting (server quiet) after",
            measured["all_waiting_after_seconds"],
            "s",
            note=(
                f"all sent after {measured['all_sent_after_seconds']} s; "
                f"{measured['returned_while_sampling']} returned before their wait ended"
            ),
        ),
        figure(
            "first polls, wait=0 (keys loaded, DB claim)",
            measured["warmup_polls_per_second"],
            "polls/s",
        ),
        figure(
            "load generator CPU (long-poll phase)",
            measured["generator_cpu_percent"],
            "% of a core",
            headline=True,
        ),
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
