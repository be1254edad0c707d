"""Run the shipped EA (ea/MQL5/Experts/EagateEA.mq5) in the mock terminal of the harness.

The driver (ea/harness/ea_driver.cpp) includes the EA source unchanged and calls OnInit,
OnTimer and OnDeinit; every event it reports is one JSON object on stdout. `EaProcess` reads
them as they come, so a test can act while the EA long-polls (send a signal, revoke the
device), and every wait on it has a bound.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.ea import harness

DRIVER = harness.HARNESS / "ea_driver.cpp"
TRADE_INCLUDE = harness.HARNESS / "include"  # the mock Trade/Trade.mqh

# name:digits:bid:ask:volume step:min:max:filling flags (1 FOK, 2 IOC)
EURUSD = "EURUSD:5:1.08500:1.08510:0.01:0.01:50:3"
XAUUSD_PRO = "XAUUSD.pro:2:2400.10:2400.40:0.01:0.01:20:2"

Event = dict[str, Any]


def build_driver() -> Path:
    """The driver binary (compiled once per set of sources; shared by xdist workers)."""
    built = harness.build(DRIVER, include_dirs=[TRADE_INCLUDE])
    assert built.binary is not None, f"the EA did not compile under the harness:\n{built.errors}"
    return built.binary


@dataclass
class Terminal:
    """One terminal's files: MQL5/Files (the EA's journal) and the broker's state."""

    root: Path

    @property
    def sandbox(self) -> Path:
        return self.root / "MQL5" / "Files"

    @property
    def state(self) -> Path:
        return self.root / "broker-state.txt"

    def journal(self, device_id: str) -> str:
        path = self.sandbox / f"eagate-journal-{device_id}.txt"
        return path.read_text() if path.exists() else ""


def ea_arguments(
    terminal: Terminal,
    *,
    server: str,
    device: dict[str, Any],
    allow: bool = True,
    symbols: Sequence[str] = (EURUSD,),
    inputs: dict[str, str] | None = None,
    extra: Sequence[str] = (),
) -> list[str]:
    args = ["--sandbox", str(terminal.root), "--state", str(terminal.state)]
    if allow:
        args += ["--allow", server]
    values = {
        "InpServer": server,
        "InpDeviceId": device["id"],
        "InpSecret": device["secret"],
        "InpPollWait": "2",
        "InpMagic": "7100",
        **(inputs or {}),
    }
    for name, value in values.items():
        args += ["--input", f"{name}={value}"]
    for symbol in symbols:
        args += ["--symbol", symbol]
    return [*args, "--timer-ms", "50", *extra]


@dataclass
class EaProcess:
    process: asyncio.subprocess.Process
    events: list[Event] = field(default_factory=list)
    _seen: int = 0

    @classmethod
    async def start(cls, binary: Path, args: Sequence[str]) -> EaProcess:
        env = {
            **os.environ,
            "ASAN_OPTIONS": "detect_leaks=0:abort_on_error=0",
            "UBSAN_OPTIONS": "print_stacktrace=1:halt_on_error=1",
        }
        process = await asyncio.create_subprocess_exec(
            str(binary),
            *args,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=env,
        )
        return cls(process)

    async def _next(self, deadline: float) -> Event | None:
        assert self.process.stdout is not None
        remaining = deadline - asyncio.get_running_loop().time()
        if remaining <= 0:
            raise TimeoutError
        line = await asyncio.wait_for(self.process.stdout.readline(), remaining)
        if not line:
            return None
        event: Event = json.loads(line)
        self.events.append(event)
        return event

    async def wait_for(self, predicate: Callable[[Event], bool], within: float) -> Event:
        """The first event (from the start, not yet matched) that satisfies predicate."""
        deadline = asyncio.get_running_loop().time() + within
        while True:
            for index in range(self._seen, len(self.events)):
                if predicate(self.events[index]):
                    self._seen = index + 1
                    return self.events[index]
            self._seen = len(self.events)
            try:
                event = await self._next(deadline)
            except TimeoutError:
                raise AssertionError(
                    f"no matching EA event within {within} s; events:\n{self.transcript()}"
                ) from None
            if event is None:
                raise AssertionError(
                    f"the EA exited before a matching event; events:\n{self.transcript()}\n"
                    f"stderr:\n{await self.stderr()}"
                )

    async def finish(self, within: float) -> int:
        """Read every remaining event and wait for the exit status."""
        deadline = asyncio.get_running_loop().time() + within
        try:
            while await self._next(deadline) is not None:
                pass
            return await asyncio.wait_for(
                self.process.wait(), max(0.1, deadline - asyncio.get_running_loop().time())
            )
        except TimeoutError:
            self.process.kill()
            await self.process.wait()
            raise AssertionError(
                f"the EA did not exit within {within} s; events:\n{self.transcript()}"
            ) from None

    async def stderr(self) -> str:
        assert self.process.stderr is not None
        try:
            data = await asyncio.wait_for(self.process.stderr.read(), 5)
        except TimeoutError:
            return "(stderr not readable)"
        return data.decode(errors="replace")

    def kill(self) -> None:
        if self.process.returncode is None:
            self.process.kill()

    def transcript(self) -> str:
        return "\n".join(json.dumps(event) for event in self.events[-60:])

    def of(self, kind: str) -> list[Event]:
        return [event for event in self.events if event["event"] == kind]

    def texts(self, kind: str) -> list[str]:
        return [str(event["text"]) for event in self.of(kind)]


async def run_ea(binary: Path, args: Sequence[str], within: float = 60) -> EaProcess:
    """Run the EA to its end (the driver's own stop conditions) and return what it did."""
    ea = await EaProcess.start(binary, args)
    try:
        status = await ea.finish(within)
    finally:
        ea.kill()
    assert status in (0, 137), (
        f"driver exit status {status}\n{ea.transcript()}\n{await ea.stderr()}"
    )
    return ea
