"""Real processes for end-to-end tests: the `eagate` command and simulated EAs."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")


def client_environment(**variables: str) -> dict[str, str]:
    """The caller's environment without eagate settings, plus `variables`. Wide, plain
    output: Rich wraps at 80 columns when it is not writing to a terminal."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("EAGATE_")}
    env.update({"PYTHONUNBUFFERED": "1", "COLUMNS": "200", "NO_COLOR": "1", **variables})
    return env


@dataclass(frozen=True)
class Completed:
    returncode: int
    stdout: str
    stderr: str


async def eagate(*args: str, env: dict[str, str] | None = None, within: float = 60) -> Completed:
    """Run `python -m eagate ARGS` to completion without blocking the event loop."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "eagate",
        *args,
        env=client_environment(**(env or {})),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        stdout, stderr = await asyncio.wait_for(process.communicate(), within)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise
    assert process.returncode is not None
    return Completed(process.returncode, stdout.decode(), stderr.decode())


@dataclass
class SimulatedEa:
    """`eagate device run` as its own process, its output in a file."""

    device_id: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    async def wait_for_output(self, text: str, *, within: float) -> None:
        deadline = time.monotonic() + within
        while text not in self.output():
            assert self.process.poll() is None, f"the EA exited early:\n{self.output()}"
            assert time.monotonic() < deadline, f"no {text!r} after {within} s:\n{self.output()}"
            await asyncio.sleep(0.05)

    def interrupt(self, timeout: float = 15) -> int:
        """Ctrl-C, as a user stops it; returns the exit code."""
        self.process.send_signal(signal.SIGINT)
        return self.process.wait(timeout)


@contextmanager
def simulated_ea(url: str, device: dict[str, Any], log_dir: Path) -> Iterator[SimulatedEa]:
    """Start an EA for `device` (a registration response); kill it if the test did not stop it.
    The secret goes through the environment, as the command's help asks."""
    log_path = log_dir / f"ea-{device['id']}.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "eagate",
                "device",
                "run",
                "--url",
                url,
                "--device-id",
                device["id"],
                "--wait",
                "25",
            ],
            env=client_environment(EAGATE_DEVICE_SECRET=device["secret"]),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    ea = SimulatedEa(device["id"], process, log_path)
    try:
        yield ea
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


async def until(
    check: Callable[[], Awaitable[T | None]], *, within: float, interval: float = 0.1
) -> T:
    """Poll `check` until it returns something other than None, or fail after `within` s."""
    deadline = time.monotonic() + within
    while True:
        result = await check()
        if result is not None:
            return result
        assert time.monotonic() < deadline, f"condition not met within {within} s"
        await asyncio.sleep(interval)
