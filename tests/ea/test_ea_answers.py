"""What the shipped EA does with each answer of docs/PROTOCOL.md section 5, against a scripted
server: sign again once on replayed_nonce and timestamp_out_of_window, stop on
device_revoked, invalid_signature and malformed_signature_headers, honour Retry-After on 429 and
503, back off with jitter on 5xx and dropped connections, follow next_poll_seconds, refuse an
expired signal, and send an unanswered ack again, byte for byte, until it is answered.
"""

from __future__ import annotations

import itertools
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.ea import harness
from tests.ea.ea_run import Terminal, build_driver, ea_arguments, run_ea
from tests.ea.scripted_server import Answer, ScriptedServer, problem

DEVICE = {"id": "0193a8f2-7c4e-7b21-9f3d-2a6c8e1b5d40", "secret": "ab" * 32}
INIT_SUCCEEDED, INIT_FAILED = 0, 1


@pytest.fixture(scope="module")
def ea_binary() -> Path:
    harness.require_toolchain()
    return build_driver()


@pytest.fixture
def terminal(tmp_path: Path) -> Terminal:
    return Terminal(tmp_path / "terminal")


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def device_signal(**fields: Any) -> dict[str, Any]:
    now = datetime.now(UTC)
    return {
        "signal_id": str(uuid.uuid4()),
        "instrument": "EURUSD",
        "side": "buy",
        "order_type": "market",
        "volume": 0.1,
        "price": None,
        "sl": None,
        "tp": None,
        "comment": None,
        "created_at": iso(now - timedelta(seconds=10)),
        "expires_at": iso(now + timedelta(hours=1)),
        "attempt": 1,
        **fields,
    }


def poll_answer(*signals: dict[str, Any], next_poll: int = 5) -> Answer:
    body = {"signals": list(signals), "server_time": 0, "next_poll_seconds": next_poll}
    return Answer(body=body)


def gaps(requests: list[Any]) -> list[float]:
    return [later.at - earlier.at for earlier, later in itertools.pairwise(requests)]


def args(terminal: Terminal, server: ScriptedServer, *extra: str, **inputs: str) -> list[str]:
    return ea_arguments(terminal, server=server.url, device=DEVICE, inputs=inputs, extra=extra)


async def test_replayed_nonce_and_clock_are_signed_again_once_with_a_new_nonce(
    ea_binary: Path, terminal: Terminal
) -> None:
    async with ScriptedServer() as server:
        server.script("me", problem(401, "replayed_nonce"), problem(401, "timestamp_out_of_window"))
        ea = await run_ea(ea_binary, args(terminal, server, "--max-timers", "1"))
    assert ea.of("init")[0]["result"] == INIT_SUCCEEDED, ea.transcript()
    # One new attempt on each code: three requests, three nonces, one target.
    requests = server.of("me")
    assert len(requests) == 3
    assert len({r.headers["x-nonce"] for r in requests}) == 3
    assert {(r.target, r.headers["x-device-id"]) for r in requests} == {
        ("/api/v1/device/me", DEVICE["id"])
    }


@pytest.mark.parametrize("code", ["replayed_nonce", "timestamp_out_of_window"])
async def test_the_same_refusal_twice_stops_the_ea(
    ea_binary: Path, terminal: Terminal, code: str
) -> None:
    async with ScriptedServer() as server:
        server.script("me", problem(401, code), problem(401, code))
        ea = await run_ea(ea_binary, args(terminal, server))
    assert ea.of("init")[0]["result"] == INIT_FAILED
    assert len(server.of("me")) == 2
    (alert,) = ea.texts("alert")
    assert alert.startswith("eagate: ")


@pytest.mark.parametrize(
    ("code", "words"),
    [
        ("device_revoked", "register a new device"),
        ("invalid_signature", "check InpDeviceId and InpSecret"),
        ("malformed_signature_headers", "signer"),
    ],
)
async def test_a_refused_device_stops_polling_with_a_message(
    ea_binary: Path, terminal: Terminal, code: str, words: str
) -> None:
    async with ScriptedServer() as server:
        server.script("poll", poll_answer(), problem(401, code))
        ea = await run_ea(ea_binary, args(terminal, server, "--deadline", "10"))
    (exit_event,) = ea.of("exit")
    assert (exit_event["why"], exit_event["stop_code"]) == ("timer_killed", code)
    assert len(server.of("poll")) == 2  # not one more after the refusal
    (alert,) = ea.texts("alert")
    assert words in alert
    assert ea.texts("comment")[-2].startswith("eagate: STOPPED")  # the last one is OnDeinit's


async def test_retry_after_is_honoured_on_429_and_503(ea_binary: Path, terminal: Terminal) -> None:
    async with ScriptedServer() as server:
        server.script(
            "poll",
            problem(429, "too_many_long_polls", **{"Retry-After": "2"}),
            problem(503, "replay_cache_unavailable", **{"Retry-After": "1"}),
        )
        ea = await run_ea(ea_binary, args(terminal, server, "--deadline", "6"))
    polls = server.of("poll")
    assert len(polls) >= 3, ea.transcript()
    first, second = gaps(polls)[:2]
    # Bounded above loosely: a loaded CI machine is slow, never early.
    assert 1.95 <= first <= 3.5
    assert 0.95 <= second <= 2.5
    assert any("retry in" in text for text in ea.texts("comment"))
    assert len({r.headers["x-nonce"] for r in polls}) == len(polls)


async def test_5xx_and_dropped_connections_back_off_with_full_jitter(
    ea_binary: Path, terminal: Terminal
) -> None:
    async with ScriptedServer() as server:
        server.script("poll", problem(500, "internal"), Answer(drop=True), problem(502, "bad"))
        ea = await run_ea(ea_binary, args(terminal, server, "--deadline", "9"))
    polls = server.of("poll")
    assert len(polls) >= 4, ea.transcript()
    # Waits drawn from [0, 1 s], [0, 2 s], [0, 4 s] (+ the 50 ms timer), then back to normal.
    for n, gap in enumerate(gaps(polls)[:3]):
        assert gap <= 2**n + 1.0, gaps(polls)
    assert not ea.of("alert")
    assert ea.of("exit")[0]["stopped"] is False


async def test_short_polls_follow_next_poll_seconds(ea_binary: Path, terminal: Terminal) -> None:
    async with ScriptedServer() as server:
        server.script("poll", poll_answer(next_poll=2), poll_answer(next_poll=2))
        await run_ea(ea_binary, args(terminal, server, "--deadline", "4.5", InpPollWait="0"))
    polls = server.of("poll")
    assert [r.target for r in polls[:1]] == ["/api/v1/device/poll?wait=0&limit=20"]
    assert len(polls) in (2, 3)
    assert all(1.95 <= gap <= 3.5 for gap in gaps(polls))


async def test_an_expired_signal_is_not_executed_and_acked_failed(
    ea_binary: Path, terminal: Terminal
) -> None:
    expired = device_signal(expires_at=iso(datetime.now(UTC) - timedelta(seconds=5)))
    async with ScriptedServer() as server:
        server.script("poll", poll_answer(expired))
        ea = await run_ea(ea_binary, args(terminal, server, "--until-acks", "1"))
    assert ea.of("trade") == []
    (ack,) = server.of("ack")
    body = ack.json()
    assert (body["signal_id"], body["status"]) == (expired["signal_id"], "failed")
    assert body["error"].startswith(f"expired at {expired['expires_at']} before it could be")
    assert body["error"].endswith(": not executed")


async def test_an_unanswered_ack_is_sent_again_with_the_same_bytes_until_answered(
    ea_binary: Path, terminal: Terminal
) -> None:
    signal = device_signal(sl=1.07, tp=1.1)
    again = {**signal, "attempt": 2}
    async with ScriptedServer() as server:
        server.script("poll", poll_answer(signal), poll_answer(again))
        server.script(
            "ack",
            problem(503, "database_busy", **{"Retry-After": "1"}),
            Answer(drop=True),
            problem(500, "internal"),
        )
        ea = await run_ea(
            ea_binary, args(terminal, server, "--until-acks", "2", "--deadline", "20")
        )
    (trade,) = ea.of("trade")
    acks = server.of("ack")
    assert len(acks) == 5  # 503, dropped, 500, 200; then the redelivery's ack, also 200
    assert len({a.body for a in acks}) == 1
    assert acks[0].json()["broker_ticket"] == str(trade["position"])
    polls = server.of("poll")
    # No poll while the ack waited: the second poll came after the answered ack.
    assert polls[1].at > acks[3].at


async def test_with_algo_trading_off_signals_are_left_on_the_server(
    ea_binary: Path, terminal: Terminal
) -> None:
    async with ScriptedServer() as server:
        ea = await run_ea(
            ea_binary, args(terminal, server, "--algo-trading-off", "--deadline", "1.5")
        )
    assert len(server.of("me")) == 1
    assert server.of("poll") == []
    assert "Algo Trading is off: not polling" in ea.texts("comment")[-2]


async def test_an_ack_unanswered_when_the_ea_stopped_is_sent_after_its_restart(
    ea_binary: Path, terminal: Terminal
) -> None:
    signal = device_signal(side="sell", volume=0.2)
    async with ScriptedServer() as server:
        server.script("poll", poll_answer(signal))
        server.script("ack", *(Answer(drop=True) for _ in range(100)))
        first = await run_ea(ea_binary, args(terminal, server, "--deadline", "2"))
        server.scripts["ack"].clear()
        second = await run_ea(ea_binary, args(terminal, server, "--until-acks", "1"))
    (trade,) = first.of("trade")
    assert second.of("trade") == []
    acks = server.of("ack")
    assert len(acks) >= 2
    assert len({a.body for a in acks}) == 1  # the journaled bytes, before and after the restart
    assert acks[-1].json()["broker_ticket"] == str(trade["position"])
    # The restarted EA answered its debt before asking for anything new.
    second_polls = [p for p in server.of("poll") if p.at > acks[-2].at]
    assert all(p.at > acks[-1].at for p in second_polls)
