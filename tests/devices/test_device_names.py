"""Device names: what is accepted, how it is stored, and uniqueness per owner (SPEC section 3)."""

from __future__ import annotations

import unicodedata

import httpx
import pytest

from tests.fixtures.api import API, assert_problem
from tests.fixtures.devices import get_device, list_devices, register_device, rename, revoke
from tests.fixtures.owners import Owner, new_owner


async def register(client: httpx.AsyncClient, owner: Owner, name: object) -> httpx.Response:
    return await client.post(f"{API}/devices", json={"device_name": name}, headers=owner.headers)


def assert_name_rejected(response: httpx.Response) -> None:
    body = assert_problem(response, 422, "validation_error")
    assert [error["field"] for error in body["errors"]] == ["body.device_name"]


# --- what a name may be ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        pytest.param("🚀 Scalper 📈", id="emoji"),
        pytest.param("👨\u200d👩\u200d👧 family", id="emoji-zwj-sequence"),
        pytest.param("🇯🇵 Nikkei", id="flag"),
        pytest.param("東京 ブレイクアウト 1号", id="cjk"),
        pytest.param("Café Zürich — São Paulo", id="accented"),
        pytest.param("Ελληνικά / Русский / עברית", id="other-scripts"),
        pytest.param("EURUSD #1 (M5) [v2.0] {x} 50% & <b>", id="punctuation"),
        pytest.param("x", id="one-char"),
    ],
)
async def test_unicode_names_round_trip(client: httpx.AsyncClient, name: str) -> None:
    owner = await new_owner(client)

    created = await register(client, owner, name)

    assert created.status_code == 201, created.text
    assert created.json()["device_name"] == name
    assert (await get_device(client, owner, created.json()["id"]))["device_name"] == name
    assert [d["device_name"] for d in await list_devices(client, owner)] == [name]


async def test_name_is_trimmed(client: httpx.AsyncClient) -> None:
    owner = await new_owner(client)

    created = await register(client, owner, "  \u00a0 padded name \u3000 ")

    assert created.status_code == 201, created.text
    assert created.json()["device_name"] == "padded name"
    renamed = await rename(client, owner, created.json()["id"], "   renamed  ")
    assert renamed.json()["device_name"] == "renamed"


@pytest.mark.parametrize(
    "name",
    [
        pytest.param("n" * 100, id="ascii"),
        pytest.param("é" * 100, id="accented"),
        pytest.param("🚀" * 100, id="emoji"),
        pytest.param("   " + "n" * 100 + "   ", id="100-after-trimming"),
    ],
)
async def test_100_characters_are_accepted(client: httpx.AsyncClient, name: str) -> None:
    owner = await new_owner(client)

    created = await register(client, owner, name)

    assert created.status_code == 201, created.text
    assert created.json()["device_name"] == name.strip()
    assert (await get_device(client, owner, created.json()["id"]))["device_name"] == name.strip()


@pytest.mark.parametrize("name", ["n" * 101, "é" * 101, "🚀" * 101, "n" * 1000])
async def test_more_than_100_characters_are_rejected(client: httpx.AsyncClient, name: str) -> None:
    owner = await new_owner(client)

    assert_name_rejected(await register(client, owner, name))
    assert await list_devices(client, owner) == []


async def test_length_is_counted_after_trimming_however_much_padding(
    client: httpx.AsyncClient,
) -> None:
    owner = await new_owner(client)

    created = await register(client, owner, " " * 200 + "n" * 100 + " " * 200)

    assert created.status_code == 201, created.text


@pytest.mark.parametrize(
    "name",
    [
        pytest.param("", id="empty"),
        pytest.param(" ", id="space"),
        pytest.param("      ", id="spaces"),
        pytest.param("\u00a0\u3000", id="unicode-spaces"),
    ],
)
async def test_empty_or_blank_names_are_rejected(client: httpx.AsyncClient, name: str) -> None:
    owner = await new_owner(client)

    assert_name_rejected(await register(client, owner, name))


CONTROL_NAMES = [
    pytest.param("tab\there", id="tab"),
    pytest.param("new\nline", id="newline"),
    pytest.param("carriage\rreturn", id="carriage-return"),
    pytest.param("trailing newline\n", id="trailing-newline"),
    pytest.param("\tleading tab", id="leading-tab"),
    pytest.param("nul\x00byte", id="nul"),
    pytest.param("escape\x1b[31m", id="escape"),
    pytest.param("del\x7f", id="del"),
    pytest.param("next\x85line", id="c1-nel"),
    pytest.param("line\u2028separator", id="line-separator"),
]


@pytest.mark.parametrize("name", CONTROL_NAMES)
async def test_control_characters_are_rejected_at_registration(
    client: httpx.AsyncClient, name: str
) -> None:
    owner = await new_owner(client)

    assert_name_rejected(await register(client, owner, name))
    assert await list_devices(client, owner) == []


@pytest.mark.parametrize("name", CONTROL_NAMES)
async def test_control_characters_are_rejected_on_rename(
    client: httpx.AsyncClient, name: str
) -> None:
    owner = await new_owner(client)
    device = await register_device(client, owner, "clean")

    assert_name_rejected(await rename(client, owner, device["id"], name))
    assert (await get_device(client, owner, device["id"]))["device_name"] == "clean"


@pytest.mark.parametrize("name", [None, 42, ["list"], {"name": "x"}, True])
async def test_non_string_names_are_rejected(client: httpx.AsyncClient, name: object) -> None:
    owner = await new_owner(client)

    assert_name_rejected(await register(client, owner, name))


async def test_a_missing_name_is_rejected(client: httpx.AsyncClient) -> None:
    owner = await new_owner(client)

    response = await client.post(f"{API}/devices", json={}, headers=owner.headers)

    assert_name_rejected(response)


async def test_unknown_fields_are_rejected_at_registration(client: httpx.AsyncClient) -> None:
    owner = await new_owner(client)

    response = await client.post(
        f"{API}/devices",
        json={"device_name": "ok", "secret": "0" * 64},
        headers=owner.headers,
    )

    assert_problem(response, 422, "validation_error")
    assert await list_devices(client, owner) == []


# --- uniqueness ------------------------------------------------------------------------------

NFC_NAME = unicodedata.normalize("NFC", "Café Déjà Vu")
NFD_NAME = unicodedata.normalize("NFD", "Café Déjà Vu")


@pytest.mark.parametrize(
    ("first", "second"),
    [
        pytest.param("Gold Scalper", "Gold Scalper", id="identical"),
        pytest.param("Gold Scalper", "GOLD SCALPER", id="upper-case"),
        pytest.param("Gold Scalper", "gold scalper", id="lower-case"),
        pytest.param("Gold Scalper", "  Gold Scalper   ", id="surrounding-spaces"),
        pytest.param("Gold Scalper", "\u00a0gold scalper\u3000", id="unicode-spaces-and-case"),
        pytest.param(NFC_NAME, NFD_NAME, id="nfc-then-nfd"),
        pytest.param(NFD_NAME, NFC_NAME, id="nfd-then-nfc"),
        pytest.param(NFC_NAME, NFD_NAME.upper(), id="nfd-upper"),
        pytest.param("Straße EA", "STRASSE EA", id="casefold-sharp-s"),
        pytest.param("ΣΊΣΥΦΟΣ", "σίσυφος", id="greek-final-sigma"),
    ],
)
async def test_duplicate_active_names_are_409(
    client: httpx.AsyncClient, first: str, second: str
) -> None:
    owner = await new_owner(client)
    original = await register_device(client, owner, first)

    response = await register(client, owner, second)

    assert_problem(response, 409, "device_name_taken")
    assert [d["id"] for d in await list_devices(client, owner)] == [original["id"]]
    # The name keeps the form it was given.
    assert (await get_device(client, owner, original["id"]))["device_name"] == first


async def test_different_names_that_look_alike_are_distinct(client: httpx.AsyncClient) -> None:
    owner = await new_owner(client)

    for name in ("EA 1", "EA  1", "EA-1", "EA l", "EA １"):
        assert (await register(client, owner, name)).status_code == 201, name


async def test_the_same_name_may_be_used_by_different_owners(client: httpx.AsyncClient) -> None:
    first, second = await new_owner(client), await new_owner(client)
    await register_device(client, first, "Shared Name")

    response = await register(client, second, "shared name")

    assert response.status_code == 201, response.text
    assert [d["device_name"] for d in await list_devices(client, second)] == ["shared name"]


async def test_a_name_is_free_again_once_its_device_is_revoked(
    client: httpx.AsyncClient,
) -> None:
    owner = await new_owner(client)
    for _ in range(3):
        device = await register_device(client, owner, "Recycled")
        assert (await revoke(client, owner, device["id"])).status_code == 200

    final = await register(client, owner, "RECYCLED")

    assert final.status_code == 201, final.text
    everything = await list_devices(client, owner, include_revoked="true")
    assert [d["is_active"] for d in everything] == [False, False, False, True]
