"""The shipped EA, compiled through the MQL5 harness, against a real `eagate serve`.

ea/MQL5/Experts/EagateEA.mq5 runs unchanged in the mock terminal (ea/harness/terminal.h, the
mock CTrade of ea/harness/include/Trade/Trade.mqh): it checks /me, long-polls, trades what it
receives, acknowledges it, and the owner sees the tickets. Its WebRequest is the harness's,
over plain HTTP with the terminal's allow-list.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.ea import harness
from tests.ea.ea_run import (
    EURUSD,
    XAUUSD_PRO,
    EaProcess,
    Terminal,
    build_driver,
    ea_arguments,
    run_ea,
)
from tests.fixtures.devices import register_device
from tests.fixtures.owners import Owner, new_owner
from tests.fixtures.servers import ServerProcess, eagate_serve

# One server for the module, on one xdist worker. A short delivery lease lets a signal that a
# crashed EA never acknowledged come back within seconds.
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("ea-end-to-end")]

LEASE_SECONDS = 3
INIT_SUCCEEDED, INIT_FAILED, INIT_PARAMETERS_INCORRECT = 0, 1, 32767
ORDER_TYPE_BUY, ORDER_TYPE_SELL_LIMIT, ORDER_TYPE_BUY_STOP = 0, 3, 4
ORDER_FILLING_FOK, ORDER_FILLING_IOC, ORDER_FILLING_RETURN = 0, 1, 2


@pytest.fixture(scope="module")
def ea_binary() -> Path:
    harness.require_toolchain()
    return build_driver()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    data_dir = tmp_path_factory.mktemp("ea-server")
    with eagate_serve(data_dir, EAGATE_DELIVERY_LEASE_SECONDS=str(LEASE_SECONDS)) as process:
        yield process


@pytest.fixture
async def http(server: ServerProcess) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as client:
        yield client


@pytest.fixture
async def owner(http: httpx.AsyncClient) -> Owner:
    return await new_owner(http)


@pytest.fixture
async def device(http: httpx.AsyncClient, owner: Owner) -> dict[str, Any]:
    return await register_device(http, owner, "MT5 harness")


@pytest.fixture
def terminal(tmp_path: Path) -> Terminal:
    return Terminal(tmp_path / "terminal")


def order_comment(signal_id: str, device: dict[str, Any]) -> str:
    return "eagate " + hashlib.sha256(f"{signal_id}|{device['id']}".encode()).hexdigest()[:16]


async def send_signal(
    http: httpx.AsyncClient, owner: Owner, device: dict[str, Any], **fields: Any
) -> dict[str, Any]:
    response = await http.post(
        "/api/v1/signals", json={"device_ids": [device["id"]], **fields}, headers=owner.headers
    )
    assert response.status_code == 201, response.text
    signal: dict[str, Any] = response.json()
    return signal


async def delivery(http: httpx.AsyncClient, owner: Owner, signal_id: str) -> dict[str, Any]:
    response = await http.get(f"/api/v1/signals/{signal_id}", headers=owner.headers)
    assert response.status_code == 200, response.text
    (only,) = response.json()["deliveries"]
    result: dict[str, Any] = only
    return result


def journal_lines(terminal: Terminal, device: dict[str, Any], signal_id: str) -> list[str]:
    lines = terminal.journal(device["id"]).splitlines()
    return [line.split("\t")[0] for line in lines if line.split("\t")[1:2] == [signal_id]]


async def test_market_limit_and_stop_signals_are_placed_and_acked_with_their_tickets(
    ea_binary: Path,
    server: ServerProcess,
    http: httpx.AsyncClient,
    owner: Owner,
    device: dict[str, Any],
    terminal: Terminal,
) -> None:
    args = ea_arguments(
        terminal, server=server.url, device=device, extra=["--until-acks", "3", "--deadline", "60"]
    )
    ea = await EaProcess.start(ea_binary, args)
    try:
        init = await ea.wait_for(lambda e: e["event"] == "init", within=30)
        assert init["result"] == INIT_SUCCEEDED, ea.transcript()
        await ea.wait_for(lambda e: e["event"] == "timer", within=10)  # long-polling now

        market = await send_signal(
            http, owner, device, instrument="EURUSD", side="buy", volume=0.1, sl=1.08, tp=1.09
        )
        limit = await send_signal(
            http,
            owner,
            device,
            instrument="EURUSD",
            side="sell",
            order_type="limit",
            volume=0.25,
            price=1.0925,
            sl=1.095,
            tp=1.08,
        )
        stop = await send_signal(
            http,
            owner,
            device,
            instrument="EURUSD",
            side="buy",
            order_type="stop",
            volume=0.01,
            price=1.0875,
        )
        assert await ea.finish(within=30) == 0, await ea.stderr()
    finally:
        ea.kill()

    (exit_event,) = ea.of("exit")
    assert exit_event["why"] == "acks", ea.transcript()
    deal, pending, stop_order = ea.of("trade")
    assert (deal["action"], deal["type"], deal["symbol"]) == ("deal", ORDER_TYPE_BUY, "EURUSD")
    assert (deal["volume"], deal["price"], deal["sl"], deal["tp"]) == (0.1, 1.0851, 1.08, 1.09)
    assert (deal["magic"], deal["filling"]) == (7100, ORDER_FILLING_FOK)
    assert deal["comment"] == order_comment(market["id"], device)
    assert (pending["action"], pending["type"]) == ("pending", ORDER_TYPE_SELL_LIMIT)
    assert (pending["volume"], pending["price"], pending["sl"], pending["tp"]) == (
        0.25,
        1.0925,
        1.095,
        1.08,
    )
    assert (pending["magic"], pending["filling"]) == (7100, ORDER_FILLING_RETURN)
    assert pending["comment"] == order_comment(limit["id"], device)
    assert len(pending["comment"]) <= 31

    placed = await delivery(http, owner, market["id"])
    assert (placed["status"], placed["broker_ticket"]) == ("placed", str(deal["position"]))
    placed = await delivery(http, owner, limit["id"])
    assert (placed["status"], placed["broker_ticket"]) == ("placed", str(pending["order"]))
    assert (stop_order["type"], stop_order["price"]) == (ORDER_TYPE_BUY_STOP, 1.0875)
    placed = await delivery(http, owner, stop["id"])
    assert (placed["status"], placed["broker_ticket"]) == ("placed", str(stop_order["order"]))

    # Journaled before the order, then its outcome, then the server's answer to the ack.
    assert journal_lines(terminal, device, market["id"]) == ["seen", "done", "acked"]
    assert journal_lines(terminal, device, limit["id"]) == ["seen", "done", "acked"]
    assert any(
        "connected as MT5 harness" in text and f"placed #{stop_order['order']}" in text
        for text in ea.texts("comment")
    ), ea.texts("comment")
    assert not ea.of("alert")


@pytest.mark.parametrize("skew", [-1000, 1000])
async def test_a_clock_1000_seconds_off_is_corrected(
    ea_binary: Path,
    server: ServerProcess,
    http: httpx.AsyncClient,
    owner: Owner,
    device: dict[str, Any],
    terminal: Terminal,
    skew: int,
) -> None:
    signal = await send_signal(http, owner, device, instrument="EURUSD", side="sell", volume=0.05)
    args = ea_arguments(
        terminal,
        server=server.url,
        device=device,
        extra=["--clock-skew", str(skew), "--until-acks", "1", "--deadline", "30"],
    )
    ea = await run_ea(ea_binary, args)

    (init,) = ea.of("init")
    assert init["result"] == INIT_SUCCEEDED, ea.transcript()
    assert abs(init["clock_offset"] + skew) <= 2  # server time - PC clock
    (trade,) = ea.of("trade")
    placed = await delivery(http, owner, signal["id"])
    assert (placed["status"], placed["broker_ticket"]) == ("placed", str(trade["position"]))


async def test_killed_between_journal_and_ack_the_restarted_ea_acks_without_placing_twice(
    ea_binary: Path,
    server: ServerProcess,
    http: httpx.AsyncClient,
    owner: Owner,
    device: dict[str, Any],
    terminal: Terminal,
) -> None:
    signal = await send_signal(http, owner, device, instrument="EURUSD", side="buy", volume=0.3)
    base = ea_arguments(terminal, server=server.url, device=device)

    # The order reaches the broker, then the EA dies before its ack (no OnDeinit).
    first = await run_ea(ea_binary, [*base, "--crash-after-trade", "1", "--deadline", "30"])
    assert first.process.returncode == 137, first.transcript()
    (trade,) = first.of("trade")
    assert journal_lines(terminal, device, signal["id"]) == ["seen"]
    assert (await delivery(http, owner, signal["id"]))["status"] == "delivered"

    second = await run_ea(ea_binary, [*base, "--until-acks", "1", "--deadline", "30"])
    assert second.process.returncode == 0, second.transcript()
    assert second.of("trade") == [], "the restarted EA placed the order again"
    (exit_event,) = second.of("exit")
    assert [p["ticket"] for p in exit_event["terminal"]["positions"]] == [trade["position"]]
    placed = await delivery(http, owner, signal["id"])
    assert (placed["status"], placed["broker_ticket"]) == ("placed", str(trade["position"]))
    assert journal_lines(terminal, device, signal["id"]) == ["seen", "done", "acked"]
    assert any("found after a restart" in text for text in second.texts("print"))


async def test_killed_before_the_order_left_the_restarted_ea_places_it_once(
    ea_binary: Path,
    server: ServerProcess,
    http: httpx.AsyncClient,
    owner: Owner,
    device: dict[str, Any],
    terminal: Terminal,
) -> None:
    signal = await send_signal(http, owner, device, instrument="EURUSD", side="sell", volume=0.2)
    base = ea_arguments(terminal, server=server.url, device=device)

    first = await run_ea(ea_binary, [*base, "--crash-before-trade", "1", "--deadline", "30"])
    assert first.process.returncode == 137, first.transcript()
    assert first.of("trade") == []
    assert journal_lines(terminal, device, signal["id"]) == ["seen"]

    # Nothing under the signal's comment at the broker: the redelivery (after the lease) is
    # executed, once.
    second = await run_ea(ea_binary, [*base, "--until-acks", "1", "--deadline", "40"])
    (trade,) = second.of("trade")
    assert trade["comment"] == order_comment(signal["id"], device)
    placed = await delivery(http, owner, signal["id"])
    assert (placed["status"], placed["broker_ticket"]) == ("placed", str(trade["position"]))


async def test_a_revoked_device_stops_the_ea_with_a_message(
    ea_binary: Path,
    server: ServerProcess,
    http: httpx.AsyncClient,
    owner: Owner,
    device: dict[str, Any],
    terminal: Terminal,
) -> None:
    args = ea_arguments(terminal, server=server.url, device=device, extra=["--deadline", "60"])
    ea = await EaProcess.start(ea_binary, args)
    try:
        init = await ea.wait_for(lambda e: e["event"] == "init", within=30)
        assert init["result"] == INIT_SUCCEEDED, ea.transcript()
        await ea.wait_for(lambda e: e["event"] == "timer", within=10)
        revoked = await http.post(f"/api/v1/devices/{device['id']}/revoke", headers=owner.headers)
        assert revoked.status_code == 200, revoked.text
        assert await ea.finish(within=30) == 0, await ea.stderr()
    finally:
        ea.kill()

    (exit_event,) = ea.of("exit")
    assert (exit_event["why"], exit_event["stopped"], exit_event["stop_code"]) == (
        "timer_killed",
        True,
        "device_revoked",
    )
    (alert,) = ea.texts("alert")
    assert "revoked" in alert
    assert "register a new device" in alert
    assert any(text.startswith("eagate: STOPPED") for text in ea.texts("comment"))


async def test_a_refused_order_is_acked_failed_with_its_retcode(
    ea_binary: Path,
    server: ServerProcess,
    http: httpx.AsyncClient,
    owner: Owner,
    device: dict[str, Any],
    terminal: Terminal,
) -> None:
    signal = await send_signal(http, owner, device, instrument="EURUSD", side="buy", volume=1)
    args = ea_arguments(
        terminal,
        server=server.url,
        device=device,
        extra=["--reject", "10019", "--until-acks", "1", "--deadline", "30"],
    )
    await run_ea(ea_binary, args)
    failed = await delivery(http, owner, signal["id"])
    assert failed["status"] == "failed"
    assert failed["error"] == ("retcode 10019: there is not enough money to complete the request")


async def test_volume_is_rounded_to_the_step_capped_and_sent_with_the_symbol_filling(
    ea_binary: Path,
    server: ServerProcess,
    http: httpx.AsyncClient,
    owner: Owner,
    device: dict[str, Any],
    terminal: Terminal,
) -> None:
    rounded = await send_signal(http, owner, device, instrument="XAUUSD", side="buy", volume=0.129)
    capped = await send_signal(http, owner, device, instrument="XAUUSD", side="sell", volume=9)
    too_small = await send_signal(
        http, owner, device, instrument="XAUUSD", side="sell", volume=0.004
    )
    unknown = await send_signal(http, owner, device, instrument="USDJPY", side="buy", volume=1)
    args = ea_arguments(
        terminal,
        server=server.url,
        device=device,
        symbols=[EURUSD, XAUUSD_PRO],
        inputs={"InpSymbolSuffix": ".pro", "InpMaxVolume": "2.5"},
        extra=["--until-acks", "4", "--deadline", "30"],
    )
    ea = await run_ea(ea_binary, args)
    trades = {t["comment"]: t for t in ea.of("trade")}
    assert trades[order_comment(rounded["id"], device)]["volume"] == 0.12
    assert trades[order_comment(capped["id"], device)]["volume"] == 2.5
    assert {t["symbol"] for t in trades.values()} == {"XAUUSD.pro"}
    assert {t["filling"] for t in trades.values()} == {ORDER_FILLING_IOC}
    small = await delivery(http, owner, too_small["id"])
    assert small["status"] == "failed"
    assert "below XAUUSD.pro's minimum of 0.01 lots" in small["error"]
    missing = await delivery(http, owner, unknown["id"])
    assert missing["status"] == "failed"
    assert missing["error"] == "symbol USDJPY.pro is not available in this terminal"


async def test_an_url_missing_from_the_allow_list_is_named_in_an_alert(
    ea_binary: Path, server: ServerProcess, device: dict[str, Any], terminal: Terminal
) -> None:
    args = ea_arguments(terminal, server=server.url, device=device, allow=False)
    ea = await run_ea(ea_binary, args, within=30)
    (init,) = ea.of("init")
    assert init["result"] == INIT_FAILED
    (alert,) = ea.texts("alert")
    assert server.url in alert
    assert "Tools > Options > Expert Advisors" in alert


async def test_inputs_are_checked_before_anything_is_sent(
    ea_binary: Path, server: ServerProcess, device: dict[str, Any], terminal: Terminal
) -> None:
    upper = device["secret"].upper()
    args = ea_arguments(terminal, server=server.url, device=device, inputs={"InpSecret": upper})
    ea = await run_ea(ea_binary, args, within=30)
    (init,) = ea.of("init")
    assert init["result"] == INIT_PARAMETERS_INCORRECT
    (alert,) = ea.texts("alert")
    assert "InpSecret must be the 64 lowercase hex characters" in alert
    assert upper not in alert

    args = ea_arguments(terminal, server=server.url, device=device, inputs={"InpPollWait": "31"})
    ea = await run_ea(ea_binary, args, within=30)
    assert ea.of("init")[0]["result"] == INIT_PARAMETERS_INCORRECT
    assert "InpPollWait" in ea.texts("alert")[0]


async def test_the_ea_does_nothing_in_the_strategy_tester(
    ea_binary: Path,
    server: ServerProcess,
    http: httpx.AsyncClient,
    owner: Owner,
    device: dict[str, Any],
    terminal: Terminal,
) -> None:
    ea = await run_ea(
        ea_binary,
        [*ea_arguments(terminal, server=server.url, device=device), "--tester"],
        within=30,
    )
    (exit_event,) = ea.of("exit")
    assert (exit_event["init"], exit_event["why"], exit_event["timers"]) == (
        INIT_SUCCEEDED,
        "timer_killed",
        0,
    )
    seen = await http.get(f"/api/v1/devices/{device['id']}", headers=owner.headers)
    assert seen.json()["last_seen_at"] is None


async def test_the_journal_is_compacted_keeping_every_unanswered_signal(
    ea_binary: Path, server: ServerProcess, device: dict[str, Any], terminal: Terminal
) -> None:
    ids = [str(uuid.UUID(int=i + 1)) for i in range(2600)]
    pending, unsent = ids[5], ids[7]  # old, but their acks were never answered
    lines = []
    for signal_id in ids:
        lines.append(f"seen\t{signal_id}")
        if signal_id == unsent:
            continue
        lines.append(f'done\t{signal_id}\t{{"signal_id":"{signal_id}","status":"failed"}}')
        if signal_id != pending:
            lines.append(f"acked\t{signal_id}\t200")
    lines.append("done\tcut-short-by-a-cr")  # a crash mid-write leaves half a line
    terminal.sandbox.mkdir(parents=True)
    journal = terminal.sandbox / f"eagate-journal-{device['id']}.txt"
    journal.write_text("\r\n".join(lines))

    # Not allowed to reach the server: the EA stops after opening its journal.
    ea = await run_ea(
        ea_binary, ea_arguments(terminal, server=server.url, device=device, allow=False)
    )
    assert ea.of("init")[0]["result"] == INIT_FAILED
    assert "eagate: skipped 1 unreadable journal line(s)" in ea.texts("print")
    kept = journal.read_text().splitlines()
    acked = [line.split("\t")[1] for line in kept if line.startswith("acked\t")]
    assert acked == ids[-1000:]
    assert [line.split("\t")[0] for line in kept if f"\t{pending}" in line] == ["seen", "done"]
    assert [line.split("\t")[0] for line in kept if f"\t{unsent}" in line] == ["seen"]
    assert len(kept) == 1000 + 3


async def test_two_devices_on_one_account_never_take_each_others_orders(
    ea_binary: Path,
    server: ServerProcess,
    http: httpx.AsyncClient,
    owner: Owner,
    device: dict[str, Any],
    terminal: Terminal,
) -> None:
    other = await register_device(http, owner, "MT5 harness, second chart")
    response = await http.post(
        "/api/v1/signals",
        json={"instrument": "EURUSD", "side": "buy", "volume": 0.1},
        headers=owner.headers,
    )
    assert response.status_code == 201, response.text
    signal_id = response.json()["id"]

    # Both EAs trade on the same account (one broker state). The second dies before its order
    # leaves; meanwhile the first places its own.
    second = ea_arguments(terminal, server=server.url, device=other)
    crashed = await run_ea(ea_binary, [*second, "--crash-before-trade", "1", "--deadline", "30"])
    assert crashed.process.returncode == 137, crashed.transcript()
    first = await run_ea(
        ea_binary,
        [*ea_arguments(terminal, server=server.url, device=device), "--until-acks", "1"],
    )
    (mine,) = first.of("trade")

    # Restarted, the second finds no order of its own and places one when the signal returns.
    again = await run_ea(ea_binary, [*second, "--until-acks", "1", "--deadline", "40"])
    (theirs,) = again.of("trade")
    response = await http.get(f"/api/v1/signals/{signal_id}", headers=owner.headers)
    tickets = {d["device_id"]: d["broker_ticket"] for d in response.json()["deliveries"]}
    assert tickets == {device["id"]: str(mine["position"]), other["id"]: str(theirs["position"])}
    assert mine["position"] != theirs["position"]
