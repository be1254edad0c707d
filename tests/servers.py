"""Real `eagate serve` processes for tests whose behaviour needs one (or several)."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class ServerProcess:
    url: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def server_environment(data_dir: Path, **settings: str) -> dict[str, str]:
    # Neither the shell's settings nor its terminal size: pytest-xdist workers set COLUMNS=80,
    # which would make the CLI cut its tables.
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("EAGATE_") and k not in ("COLUMNS", "LINES")
    }
    env.update(
        {
            "EAGATE_DATA_DIR": str(data_dir),
            "EAGATE_ARGON2_TIME_COST": "1",
            "EAGATE_ARGON2_MEMORY_KIB": "1024",
            "EAGATE_SIGN_UPS_PER_IP": "1000000",  # as in tests.conftest.make_settings
            **settings,
        }
    )
    return env


@contextmanager
def eagate_serve(
    data_dir: Path, *, name: str = "server", timeout: float = 30, **settings: str
) -> Iterator[ServerProcess]:
    """Start `python -m eagate serve` on a free port; stop it (SIGTERM) on exit."""
    data_dir.mkdir(parents=True, exist_ok=True)
    for attempt in range(3):
        port = free_port()
        log_path = data_dir / f"{name}-{port}.log"
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "eagate", "serve", "--port", str(port)],
                env=server_environment(data_dir, **settings),
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        server = ServerProcess(f"http://127.0.0.1:{port}", process, log_path)
        try:
            wait_ready(server, timeout)
            break
        except RuntimeError:
            stop(process)
            # Another test process (pytest-xdist) took the port between our probe and bind.
            if attempt == 2 or "already in use" not in server.log():
                raise
    try:
        yield server
    finally:
        stop(process)


def stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM, then SIGKILL if the process has not exited within 15 s."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=15)


def wait_ready(server: ServerProcess, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"eagate serve exited early:\n{server.log()}")
        try:
            if httpx.get(server.url + "/readyz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    raise RuntimeError(f"eagate serve not ready after {timeout}s:\n{server.log()}")


class PausableProxy:
    """A TCP proxy in front of a real service that can stop answering and come back.

    Paused, it drops every open connection and accepts new ones without ever replying (what
    an unreachable server looks like to a client with timeouts). Stalled, it keeps every
    connection open and holds what it is sent (a frozen server: connected, but silent).
    Resumed, it drops the connections it swallowed while paused (a server that comes back has
    none of them) and delivers what it held while stalled.
    """

    def __init__(self, target_host: str, target_port: int) -> None:
        self._target = (target_host, target_port)
        self._server: asyncio.Server | None = None
        self._paused = False
        self._flowing = asyncio.Event()
        self._flowing.set()
        self._writers: set[asyncio.StreamWriter] = set()
        self._swallowed: set[asyncio.StreamWriter] = set()
        self.port = 0

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    def pause(self) -> None:
        self._paused = True
        for writer in list(self._writers):
            writer.close()

    def stall(self) -> None:
        self._flowing.clear()

    def resume(self) -> None:
        self._paused = False
        self._flowing.set()
        for writer in list(self._swallowed):
            writer.close()

    async def close(self) -> None:
        self.pause()
        self._flowing.set()
        if self._server is not None:
            self._server.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        try:
            await self._flowing.wait()
            if self._paused:
                self._swallowed.add(writer)
                await reader.read()  # swallow everything, answer nothing
                return
            # Bounded: the target is a local service that is up.
            upstream_reader, upstream_writer = await asyncio.wait_for(
                asyncio.open_connection(*self._target), 5
            )
            self._writers.add(upstream_writer)
            await asyncio.gather(
                self._pipe(reader, upstream_writer), self._pipe(upstream_reader, writer)
            )
        except OSError:
            pass
        finally:
            self._writers.discard(writer)
            self._swallowed.discard(writer)
            writer.close()

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                await self._flowing.wait()
                if self._paused:
                    break
                writer.write(data)
                await writer.drain()
        except OSError:
            pass
        finally:
            self._writers.discard(writer)
            writer.close()
