"""Shared pieces of the benchmarks: servers in subprocesses, owners and devices, wrk runs."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import redis
import uvloop
from sqlalchemy.engine import make_url

from eagate.kit.migrate import upgrade_to_head
from eagate.kit.signing import signed_headers

# Benchmarks use keys generated into temporary data dirs on purpose: no warning each time.
logging.getLogger("eagate.keys").setLevel(logging.ERROR)

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
PASSWORD = "benchmark-password"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until_ready(url: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=1).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"server at {url} did not become ready")


@dataclass
class Server:
    url: str
    process: subprocess.Popen[bytes]
    data_dir: Path

    @property
    def pid(self) -> int:
        return self.process.pid


def server_env(data_dir: Path, **extra: str) -> dict[str, str]:
    env = {
        **os.environ,
        "EAGATE_DATA_DIR": str(data_dir),
        "EAGATE_LOG_LEVEL": "INFO",
        # Cheap Argon2: the benchmarks create owners, they do not measure sign-in.
        "EAGATE_ARGON2_TIME_COST": "1",
        "EAGATE_ARGON2_MEMORY_KIB": "1024",
    }
    env.update(extra)
    return env


@contextmanager
def eagate_server(
    *, env: dict[str, str] | None = None, data_dir: Path | None = None
) -> Iterator[Server]:
    owned_dir = data_dir is None
    data_dir = data_dir or Path(tempfile.mkdtemp(prefix="eagate-bench-"))
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "eagate", "serve", "--port", str(port)],
        env=server_env(data_dir, **(env or {})),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_ready(url + "/healthz")
        yield Server(url, process, data_dir)
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
        if owned_dir:
            shutil.rmtree(data_dir, ignore_errors=True)


@dataclass
class RawServer:
    url: str
    pid: int


@contextmanager
def raw_asgi_server() -> Iterator[RawServer]:
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "bench.raw_asgi:app",
            "--port",
            str(port),
            "--no-access-log",
            "--log-level",
            "warning",
            "--no-server-header",
        ],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_ready(url + "/")
        yield RawServer(url, process.pid)
    finally:
        process.terminate()
        process.wait(timeout=15)


def new_owner(http: httpx.Client) -> dict[str, str]:
    email = f"bench-{uuid.uuid4().hex[:10]}@example.com"
    http.post("/api/v1/auth/signup", json={"email": email, "password": PASSWORD}).raise_for_status()
    token = http.post("/api/v1/auth/token", data={"username": email, "password": PASSWORD})
    token.raise_for_status()
    return {"Authorization": f"Bearer {token.json()['access_token']}"}


def register_devices(
    http: httpx.Client, headers: dict[str, str], count: int
) -> list[dict[str, Any]]:
    devices = []
    for index in range(count):
        response = http.post(
            "/api/v1/devices", json={"device_name": f"bench-{index}"}, headers=headers
        )
        response.raise_for_status()
        devices.append(response.json())
    return devices


def signed_requests(devices: list[dict[str, Any]], target: str, count: int) -> list[dict[str, str]]:
    now = int(time.time())
    requests = []
    for index in range(count):
        device = devices[index % len(devices)]
        requests.append(
            signed_headers(
                secret=device["secret"],
                device_id=device["id"],
                method="GET",
                path_and_query=target,
                timestamp=now,
            )
        )
    return requests


WRK_SCRIPT = """
local requests = {}
local index = 0
local target = "%(target)s"

function init(args)
  local file = io.open(args[1], "r")
  local thread_id = tonumber(args[2])
  local threads = tonumber(args[3])
  local line_number = 0
  for line in file:lines() do
    if line_number %% threads == thread_id then
      local id, ts, nonce, sig = line:match("([^ ]+) ([^ ]+) ([^ ]+) ([^ ]+)")
      requests[#requests + 1] = wrk.format("GET", target, {
        ["X-Device-Id"] = id, ["X-Timestamp"] = ts, ["X-Nonce"] = nonce, ["X-Signature"] = sig,
      })
    end
    line_number = line_number + 1
  end
  file:close()
end

function request()
  index = index + 1
  if index > #requests then index = 1 end
  return requests[index]
end
"""


@dataclass
class WrkResult:
    requests_per_second: float
    requests: int
    errors: int
    non_2xx: int
    latency_p50_ms: float | None
    latency_p99_ms: float | None
    generator_cpu_percent: float
    server_cpu_us_per_request: float | None = None


def _ms(text: str) -> float:
    value = float(re.match(r"[\d.]+", text).group())  # type: ignore[union-attr]
    return (
        value / 1000
        if text.endswith("us")
        else value * 1000
        if text.endswith("s") and not text.endswith("ms")
        else value
    )


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU time a process (and its threads) has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


def run_wrk(
    url: str,
    *,
    seconds: int,
    connections: int,
    threads: int = 1,
    requests_file: Path | None = None,
    target: str = "/",
    server_pid: int | None = None,
) -> WrkResult:
    if shutil.which("wrk") is None:
        raise RuntimeError("wrk is not installed: apt-get install -y wrk")
    args = ["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{seconds}s", "--latency"]
    script_dir = Path(tempfile.mkdtemp(prefix="eagate-wrk-"))
    if requests_file is not None:
        script = script_dir / "signed.lua"
        script.write_text(WRK_SCRIPT % {"target": target})
        # wrk passes the same args to each thread's init; threads pick their share by id.
        args += ["-s", str(script)]
    args.append(url + target)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    server_before = process_cpu_seconds(server_pid) if server_pid else 0.0
    started = time.monotonic()
    if requests_file is not None and threads > 1:
        raise RuntimeError("use one wrk thread with a requests file")
    if requests_file is not None:
        args += ["--", str(requests_file), "0", "1"]
    output = subprocess.run(args, capture_output=True, text=True, check=True).stdout
    elapsed = time.monotonic() - started
    server_cpu = process_cpu_seconds(server_pid) - server_before if server_pid else None
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    shutil.rmtree(script_dir, ignore_errors=True)
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    total = int(re.search(r"(\d+) requests in", output).group(1))  # type: ignore[union-attr]
    errors = sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", output))
    non_2xx_match = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    p50 = re.search(r"50%\s+([\d.]+\w+)", output)
    p99 = re.search(r"99%\s+([\d.]+\w+)", output)
    return WrkResult(
        requests_per_second=rps,
        requests=total,
        errors=errors,
        non_2xx=int(non_2xx_match.group(1)) if non_2xx_match else 0,
        latency_p50_ms=_ms(p50.group(1)) if p50 else None,
        latency_p99_ms=_ms(p99.group(1)) if p99 else None,
        generator_cpu_percent=round(100 * cpu / elapsed, 1),
        server_cpu_us_per_request=round(server_cpu / total * 1e6, 1) if server_cpu else None,
    )


def write_requests_file(requests: list[dict[str, str]], path: Path) -> None:
    with path.open("w") as handle:
        for headers in requests:
            fields = ("X-Device-Id", "X-Timestamp", "X-Nonce", "X-Signature")
            handle.write(" ".join(headers[name] for name in fields) + "\n")


def save_result(name: str, payload: dict[str, Any]) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(payload, indent=2, default=str))
    return path


def print_table(title: str, rows: list[tuple[str, str, str, str]]) -> None:
    """figure | measured | target | verdict, as a plain-text table."""
    headers = ("figure", "measured", "target", "")
    widths = [max(len(str(row[i])) for row in [headers, *rows]) for i in range(4)]
    print(f"\n{title}")
    for row in [headers, *rows]:
        print("  " + "  ".join(str(cell).ljust(widths[i]) for i, cell in enumerate(row)))


# --- Added for the delivery, memory, registry, verify and activity benchmarks. ---


@contextmanager
def eagate_server_with_log(
    *, data_dir: Path, log_path: Path, env: dict[str, str] | None = None
) -> Iterator[Server]:
    """Like ``eagate_server`` with the caller's data dir, keeping stdout and stderr (the JSON
    access log) in ``log_path``. The server inherits this process's resource limits."""
    port = free_port()
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "eagate", "serve", "--port", str(port)],
            env=server_env(data_dir, **(env or {})),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_ready(url + "/healthz", timeout=60)
        yield Server(url, process, data_dir)
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def memory_kib(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM (peak RSS) of a process, in KiB, from /proc/<pid>/status."""
    values: dict[str, int] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, rest = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            values[name] = int(rest.split()[0])
    return values


def wait_for_quiet(
    pid: int,
    *,
    window: float = 0.25,
    max_busy: float = 0.08,
    windows: int = 3,
    timeout: float = 60.0,
) -> float:
    """Block until the process used less than ``max_busy`` of a core for ``windows``
    consecutive windows (its queued work is done); returns the seconds waited."""
    started = time.monotonic()
    quiet = 0
    while time.monotonic() - started < timeout:
        before = process_cpu_seconds(pid)
        time.sleep(window)
        busy = (process_cpu_seconds(pid) - before) / window
        quiet = quiet + 1 if busy < max_busy else 0
        if quiet >= windows:
            break
    return time.monotonic() - started


def raise_open_files_limit() -> int:
    """Soft RLIMIT_NOFILE up to the hard limit (servers started afterwards inherit it)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY:
        hard = max(soft, 1 << 20)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


POSTGRES_BASE_URL = os.environ.get(
    "EAGATE_BENCH_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)
REDIS_URL = os.environ.get("EAGATE_BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")


def asyncpg_dsn(url: str) -> str:
    """A SQLAlchemy ``postgresql+asyncpg://`` URL as a plain DSN asyncpg accepts."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def _postgres_admin(statement: str, base_url: str) -> None:
    async def execute() -> None:
        connection = await asyncpg.connect(asyncpg_dsn(base_url), timeout=10)
        try:
            await connection.execute(statement)
        finally:
            await connection.close()

    asyncio.run(execute())


def postgres_available(base_url: str = POSTGRES_BASE_URL) -> bool:
    try:
        _postgres_admin("SELECT 1", base_url)
    except Exception:
        return False
    return True


@contextmanager
def postgres_database(base_url: str = POSTGRES_BASE_URL, *, migrate: bool = True) -> Iterator[str]:
    """A fresh database (migrated to head) on the PostgreSQL server; dropped afterwards."""
    name = f"eagate_bench_{uuid.uuid4().hex[:12]}"
    _postgres_admin(f'CREATE DATABASE "{name}"', base_url)
    url = make_url(base_url).set(database=name).render_as_string(hide_password=False)
    try:
        if migrate:
            upgrade_to_head(url)
        yield url
    finally:
        _postgres_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', base_url)


def redis_available(url: str = REDIS_URL) -> bool:
    try:
        client = redis.Redis.from_url(url, socket_timeout=1, socket_connect_timeout=1)
        try:
            return bool(client.ping())
        finally:
            client.close()
    except Exception:
        return False


def run_async(coroutine: Any) -> Any:
    """Run a coroutine on a fresh uvloop event loop (the load generators' loop)."""
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(coroutine)


def self_cpu_seconds() -> float:
    """User + system CPU this (load generator) process has used so far."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def log_problems(log_path: Path, limit: int = 10) -> dict[str, Any]:
    """From a server's JSON log: how many error and warning lines and 5xx/429 answers it
    wrote, with the first few of them (to explain a benchmark's errors)."""
    counts = {"error_lines": 0, "warning_lines": 0, "status_5xx": 0, "status_429": 0}
    samples: list[str] = []
    if not log_path.exists():
        return {**counts, "samples": samples}
    for line in log_path.read_text(errors="replace").splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if not isinstance(entry, dict):
            continue
        if entry.get("logger") == "eagate.keys":
            continue  # generated keys in a temporary data dir: expected here
        status = entry.get("status")
        level = entry.get("level")
        problem = False
        if level in ("error", "critical"):
            counts["error_lines"] += 1
            problem = True
        elif level == "warning":
            counts["warning_lines"] += 1
            problem = True
        if isinstance(status, int) and status >= 500:
            counts["status_5xx"] += 1
            problem = True
        elif status == 429:
            counts["status_429"] += 1
            problem = True
        if problem and len(samples) < limit:
            samples.append(line[:500])
    return {**counts, "samples": samples}
