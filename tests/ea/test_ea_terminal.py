"""What a real MT5 terminal does around the EA that a happy path never shows: prices a broker
accepts only on the symbol's tick, an EA removed while its long poll is in flight, and new
inputs given to a running EA (MT5 calls OnDeinit then OnInit without reloading it).
"""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from tests.ea import harness
from tests.ea.ea_run import EURUSD, Terminal, build_driver, ea_arguments, run_ea
from tests.ea.scripted_server import ScriptedServer, problem
from tests.ea.test_ea_answers import DEVICE, INIT_SUCCEEDED, device_signal, poll_answer

# An index CFD quoted with 2 digits that moves in quarter points (SYMBOL_TRADE_TICK_SIZE 0.25).
US500 = "US500:2:5000.00:5000.50:0.1:0.1:100:3:0.25"


@pytest.fixture(scope="module")
def ea_binary() -> Path:
    harness.require_toolchain()
    return build_driver()


@pytest.fixture
def terminal(tmp_path: Path) -> Terminal:
    return Terminal(tmp_path / "terminal")


async def test_prices_are_put_on_the_symbols_tick(ea_binary: Path, terminal: Terminal) -> None:
    signal = device_signal(
        instrument="US500", order_type="limit", price=4990.13, sl=4980.06, tp=5010.4
    )
    async with ScriptedServer() as server:
        server.script("poll", poll_answer(signal))
        arguments = ea_arguments(
            terminal,
            server=server.url,
            device=DEVICE,
            symbols=(EURUSD, US500),
            extra=("--until-acks", "1"),
        )
        ea = await run_ea(ea_binary, arguments)
    (trade,) = ea.of("trade")
    # Nearest quarter point; digits alone (4990.13) is refused by the server (10015).
    assert (trade["price"], trade["sl"], trade["tp"]) == (4990.25, 4980.0, 5010.5)
    (ack,) = server.of("ack")
    assert ack.json()["status"] == "placed"
    assert ack.json()["broker_ticket"] == str(trade["order"])


async def test_a_signal_received_while_the_ea_is_removed_is_left_to_its_redelivery(
    ea_binary: Path, terminal: Terminal
) -> None:
    signal = device_signal()
    async with ScriptedServer() as server:
        server.script("poll", poll_answer(signal))
        # Answer 1 is GET /me, answer 2 the poll carrying the signal: the trader removes the EA
        # while that poll is in flight.
        arguments = ea_arguments(
            terminal, server=server.url, device=DEVICE, extra=("--remove-after-answer", "2")
        )
        ea = await run_ea(ea_binary, arguments, within=20)
    (exit_event,) = ea.of("exit")
    assert exit_event["why"] == "removed", ea.transcript()
    assert len(server.of("poll")) == 1
    # Neither traded (CTrade refuses while the program stops) nor acked failed (that would be
    # final): the server delivers it again once its lease runs out.
    assert ea.of("trade") == []
    assert server.of("ack") == []
    assert signal["signal_id"] not in terminal.journal(DEVICE["id"])


async def test_new_inputs_after_a_stop_start_a_fresh_session(
    ea_binary: Path, terminal: Terminal
) -> None:
    new_device = {"id": str(uuid.uuid4()), "secret": "cd" * 32}
    async with ScriptedServer() as server:
        server.script("poll", poll_answer(), problem(401, "device_revoked"))
        arguments = ea_arguments(
            terminal,
            server=server.url,
            device=DEVICE,
            extra=(
                "--max-timers",
                "5",
                "--reinit-input",
                f"InpDeviceId={new_device['id']}",
                "--reinit-input",
                f"InpSecret={new_device['secret']}",
            ),
        )
        ea = await run_ea(ea_binary, arguments, within=30)
    # Stopped (revoked), then the trader pasted a new device into the EA's inputs.
    assert [event["result"] for event in ea.of("init")] == [INIT_SUCCEEDED, INIT_SUCCEEDED], (
        ea.transcript()
    )
    _, second_me = server.of("me")
    assert second_me.headers["x-device-id"] == new_device["id"]
    later_polls = [p for p in server.of("poll") if p.at > second_me.at]
    assert later_polls, ea.transcript()
    assert {p.headers["x-device-id"] for p in later_polls} == {new_device["id"]}
    (exit_event,) = ea.of("exit")
    assert (exit_event["why"], exit_event["stopped"]) == ("max_timers", False)
    assert not ea.texts("comment")[-2].startswith("eagate: STOPPED")


async def test_without_a_broker_connection_signals_are_left_on_the_server(
    ea_binary: Path, terminal: Terminal
) -> None:
    async with ScriptedServer() as server:
        server.script("poll", poll_answer(device_signal()))
        arguments = ea_arguments(
            terminal,
            server=server.url,
            device=DEVICE,
            extra=("--broker-disconnected", "--deadline", "1.5"),
        )
        ea = await run_ea(ea_binary, arguments)
    # Polling now would turn every signal into a final failed ack (10031 no connection).
    assert len(server.of("me")) == 1
    assert server.of("poll") == []
    assert ea.of("trade") == []
    assert "no connection to the trade server: not polling" in ea.texts("comment")[-2]
