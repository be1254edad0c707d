"""The published signing vectors (docs/test-vectors.json) and the signing module's contract.

Each vector is checked twice: with eagate.kit.signing, and again with plain hmac/hashlib/base64
(plus a by-hand RFC 2104 HMAC, the construction EA authors must build in MQL5), so a bug in
the one implementation cannot make its own vectors pass.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import importlib.util
import json
import re
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from eagate.kit.signing import (
    HEADER_DEVICE_ID,
    HEADER_NONCE,
    HEADER_SIGNATURE,
    HEADER_TIMESTAMP,
    MalformedSignatureHeaders,
    SignatureHeaders,
    body_sha256,
    canonical_string,
    key_from_secret,
    parse_device_id,
    parse_signature_headers,
    sign,
    signature_matches,
    signed_headers,
)

ROOT = Path(__file__).resolve().parents[2]
VECTORS_FILE = ROOT / "docs" / "test-vectors.json"
DOCUMENT: dict[str, Any] = json.loads(VECTORS_FILE.read_text(encoding="utf-8"))
VECTORS: list[dict[str, Any]] = DOCUMENT["vectors"]


def _ids(vectors: list[dict[str, Any]]) -> list[str]:
    return [vector["name"] for vector in vectors]


def _body(vector: dict[str, Any]) -> bytes:
    return base64.b64decode(vector["inputs"]["body_base64"], validate=True)


# -- the published file ------------------------------------------------------------------------


def test_vectors_file_is_what_the_generator_writes() -> None:
    spec = importlib.util.spec_from_file_location(
        "make_test_vectors", ROOT / "scripts" / "make_test_vectors.py"
    )
    assert spec is not None
    assert spec.loader is not None
    generator = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(generator)
    assert VECTORS_FILE.read_text(encoding="utf-8") == generator.render(), (
        "docs/test-vectors.json is stale: run scripts/make_test_vectors.py"
    )


def test_vectors_cover_the_published_cases() -> None:
    assert len(VECTORS) >= 6
    assert len({v["name"] for v in VECTORS}) == len(VECTORS)
    inputs = [v["inputs"] for v in VECTORS]
    assert any(i["method"] == "GET" and "?" in i["path_and_query"] for i in inputs)
    assert any(i["method"] == "GET" and "?" not in i["path_and_query"] for i in inputs)
    assert any(i["method"] == "POST" and i["body_utf8"].startswith("{") for i in inputs)
    assert any(not i["body_utf8"].isascii() for i in inputs)
    assert any(i["method"] == "POST" and i["body_utf8"] == "" for i in inputs)
    assert any(len(i["nonce"]) == 64 for i in inputs)
    assert any(len(i["nonce"]) == 16 for i in inputs)


@pytest.mark.parametrize("vector", VECTORS, ids=_ids(VECTORS))
def test_vector_inputs_are_well_formed(vector: dict[str, Any]) -> None:
    inputs = vector["inputs"]
    assert len(inputs["secret"]) == 64
    assert set(inputs["secret"]) <= set("0123456789abcdef")
    assert str(uuid.UUID(inputs["device_id"])) == inputs["device_id"]
    assert _body(vector) == inputs["body_utf8"].encode("utf-8")
    assert vector["headers"] == {
        "X-Device-Id": inputs["device_id"],
        "X-Timestamp": str(inputs["timestamp"]),
        "X-Nonce": inputs["nonce"],
        "X-Signature": vector["signature"],
    }


# -- (a) the implementation reproduces every vector ---------------------------------------------


@pytest.mark.parametrize("vector", VECTORS, ids=_ids(VECTORS))
def test_vector_with_the_signing_module(vector: dict[str, Any]) -> None:
    inputs = vector["inputs"]
    body = _body(vector)
    assert body_sha256(body) == vector["body_sha256"]
    canonical = canonical_string(
        method=inputs["method"],
        path_and_query=inputs["path_and_query"],
        device_id=inputs["device_id"],
        timestamp=inputs["timestamp"],
        nonce=inputs["nonce"],
        body_hash=body_sha256(body),
    )
    assert canonical == vector["canonical_string"]
    assert sign(key=key_from_secret(inputs["secret"]), canonical=canonical) == vector["signature"]

    headers = signed_headers(
        secret=inputs["secret"],
        device_id=inputs["device_id"],
        method=inputs["method"],
        path_and_query=inputs["path_and_query"],
        body=body,
        timestamp=inputs["timestamp"],
        nonce=inputs["nonce"],
    )
    assert headers == vector["headers"]

    parsed = _parse_headers(headers)
    assert parsed.device_id_text == inputs["device_id"]
    assert parsed.timestamp == inputs["timestamp"]
    assert parsed.nonce == inputs["nonce"]
    assert signature_matches(
        key=key_from_secret(inputs["secret"]), canonical=canonical, signature=parsed.signature
    )


# -- (b) a second, independent derivation ---------------------------------------------------------


def _rfc2104_hmac_sha256(key: bytes, message: bytes) -> bytes:
    """HMAC by hand, as an MQL5 EA must build it from a SHA-256 primitive."""
    block = 64
    if len(key) > block:
        key = hashlib.sha256(key).digest()
    key = key.ljust(block, b"\x00")
    inner = hashlib.sha256(bytes(b ^ 0x36 for b in key) + message).digest()
    return hashlib.sha256(bytes(b ^ 0x5C for b in key) + inner).digest()


@pytest.mark.parametrize("vector", VECTORS, ids=_ids(VECTORS))
def test_vector_recomputed_independently(vector: dict[str, Any]) -> None:
    inputs = vector["inputs"]
    body = inputs["body_utf8"].encode("utf-8")
    body_hash = hashlib.sha256(body).hexdigest()
    assert body_hash == vector["body_sha256"]

    lines = [
        inputs["method"],
        inputs["path_and_query"],
        inputs["device_id"],
        str(inputs["timestamp"]),
        inputs["nonce"],
        body_hash,
    ]
    canonical = "\n".join(lines)
    assert canonical == vector["canonical_string"]
    assert canonical.split("\n") == lines  # six lines, no trailing newline
    assert not canonical.endswith("\n")

    key = inputs["secret"].encode("ascii")
    assert len(key) == 64  # exactly one SHA-256 block: HMAC pads, never pre-hashes it
    digest = hmac.new(key, canonical.encode("utf-8"), hashlib.sha256).digest()
    assert _rfc2104_hmac_sha256(key, canonical.encode("utf-8")) == digest
    assert digest.hex() == vector["hmac_sha256_hex"]
    assert base64.b64encode(digest).decode("ascii") == vector["signature"]
    assert len(vector["signature"]) == 44
    assert vector["signature"].endswith("=")


def test_rfc4231_case_2_checks_the_by_hand_hmac() -> None:
    # RFC 4231 test case 2, so the by-hand HMAC above is itself known good.
    mac = _rfc2104_hmac_sha256(b"Jefe", b"what do ya want for nothing?")
    assert mac.hex() == "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"


# -- (c) every component is covered by the signature ---------------------------------------------

BASE = VECTORS[2]["inputs"]  # the POST with a JSON body: every component is non-trivial


def _signature(**changes: Any) -> str:
    inputs = {**BASE, "body": BASE["body_utf8"].encode("utf-8"), **changes}
    return signed_headers(
        secret=inputs["secret"],
        device_id=inputs["device_id"],
        method=inputs["method"],
        path_and_query=inputs["path_and_query"],
        body=inputs["body"],
        timestamp=inputs["timestamp"],
        nonce=inputs["nonce"],
    )[HEADER_SIGNATURE]


@pytest.mark.parametrize(
    "changes",
    [
        pytest.param({"method": "PUT"}, id="method"),
        pytest.param({"path_and_query": "/api/v1/device/acks"}, id="path"),
        pytest.param({"path_and_query": "/api/v1/device/ack?x=1"}, id="query-added"),
        pytest.param({"path_and_query": "/api/v1/device/ack?"}, id="bare-question-mark"),
        pytest.param({"body": b'{"signal_id":"x"}'}, id="body"),
        pytest.param({"body": b""}, id="body-removed"),
        pytest.param({"device_id": "0193a8f3-01d2-7e5a-8c47-b9e0f16a3c28"}, id="device-id"),
        pytest.param({"timestamp": BASE["timestamp"] + 1}, id="timestamp"),
        pytest.param({"nonce": BASE["nonce"] + "x"}, id="nonce"),
        pytest.param({"secret": "0" + BASE["secret"][1:]}, id="key"),
    ],
)
def test_changing_one_component_changes_the_signature(changes: dict[str, Any]) -> None:
    assert _signature(**changes) != _signature()


def test_query_change_changes_the_signature() -> None:
    def poll(target: str) -> str:
        return _signature(method="GET", body=b"", path_and_query=target)

    first = poll("/api/v1/device/poll?wait=20&limit=10")
    second = poll("/api/v1/device/poll?wait=20&limit=11")
    reordered = poll("/api/v1/device/poll?limit=10&wait=20")
    assert len({first, second, reordered}) == 3


def test_method_is_upper_cased_before_signing() -> None:
    assert _signature(method="post") == _signature(method="POST")


# -- (d) header parsing ----------------------------------------------------------------------------

GOOD_HEADERS: dict[str, str] = VECTORS[0]["headers"]


def _parse_headers(headers: Mapping[str, str | None]) -> SignatureHeaders:
    # As a server hands them over: names lower-cased, absent headers absent; then the device
    # id's UUID form, which the server checks for ids it does not already know.
    parsed = parse_signature_headers(
        {name.lower(): value for name, value in headers.items() if value is not None}
    )
    parse_device_id(parsed.device_id_text)
    return parsed


def _parse(**changes: str | None) -> None:
    _parse_headers({**GOOD_HEADERS, **changes})


def test_good_headers_parse() -> None:
    parsed = _parse_headers(GOOD_HEADERS)
    assert parse_device_id(parsed.device_id_text) == uuid.UUID(GOOD_HEADERS["X-Device-Id"])
    assert parsed.device_id_text == GOOD_HEADERS["X-Device-Id"]
    assert parsed.timestamp == int(GOOD_HEADERS["X-Timestamp"])
    assert parsed.timestamp_text == GOOD_HEADERS["X-Timestamp"]
    assert parsed.nonce == GOOD_HEADERS["X-Nonce"]
    assert parsed.signature == base64.b64decode(GOOD_HEADERS["X-Signature"])
    assert len(parsed.signature) == 32


@pytest.mark.parametrize(
    "nonce",
    [
        "a" * 16,
        "b" * 64,
        "AZaz09_-" * 2,
        "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-",
    ],
)
def test_nonce_bounds_and_alphabet_accepted(nonce: str) -> None:
    _parse(**{HEADER_NONCE: nonce})


@pytest.mark.parametrize(
    "changes",
    [
        pytest.param({HEADER_DEVICE_ID: None}, id="missing-device-id"),
        pytest.param({HEADER_TIMESTAMP: None}, id="missing-timestamp"),
        pytest.param({HEADER_NONCE: None}, id="missing-nonce"),
        pytest.param({HEADER_SIGNATURE: None}, id="missing-signature"),
        pytest.param({HEADER_DEVICE_ID: "not-a-uuid"}, id="device-id-not-uuid"),
        pytest.param({HEADER_DEVICE_ID: ""}, id="device-id-empty"),
        pytest.param({HEADER_DEVICE_ID: "0193a8f2-7c4e-7b21-9f3d-2a6c8e1b5d4"}, id="id-short"),
        pytest.param({HEADER_TIMESTAMP: "17957736OO"}, id="timestamp-letters"),
        pytest.param({HEADER_TIMESTAMP: "-1795773600"}, id="timestamp-negative"),
        pytest.param({HEADER_TIMESTAMP: "1795773600.5"}, id="timestamp-fraction"),
        pytest.param({HEADER_TIMESTAMP: ""}, id="timestamp-empty"),
        pytest.param({HEADER_TIMESTAMP: " 1795773600"}, id="timestamp-space"),
        pytest.param({HEADER_TIMESTAMP: "1795773600000000"}, id="timestamp-too-long"),
        pytest.param({HEADER_TIMESTAMP: "2026-11-27T10:00:00Z"}, id="timestamp-iso"),
        pytest.param({HEADER_TIMESTAMP: "１７９５７７３６００"}, id="timestamp-unicode-digits"),
        pytest.param({HEADER_NONCE: "a" * 15}, id="nonce-too-short"),
        pytest.param({HEADER_NONCE: "a" * 65}, id="nonce-too-long"),
        pytest.param({HEADER_NONCE: "abcdefghijklmno!"}, id="nonce-bang"),
        pytest.param({HEADER_NONCE: "abcdefghijklmno="}, id="nonce-equals"),
        pytest.param({HEADER_NONCE: "abcdefgh ijklmnop"}, id="nonce-space"),
        pytest.param({HEADER_NONCE: "abcdefghijklmnoé"}, id="nonce-non-ascii"),
        pytest.param({HEADER_SIGNATURE: GOOD_HEADERS["X-Signature"][:-1]}, id="signature-43"),
        pytest.param({HEADER_SIGNATURE: GOOD_HEADERS["X-Signature"] + "="}, id="signature-45"),
        pytest.param({HEADER_SIGNATURE: ""}, id="signature-empty"),
        pytest.param({HEADER_SIGNATURE: "!" * 43 + "="}, id="signature-not-base64"),
        pytest.param(
            {HEADER_SIGNATURE: GOOD_HEADERS["X-Signature"].replace("/", "_")},
            id="signature-base64url",
        ),
        pytest.param(
            {HEADER_SIGNATURE: base64.b64encode(bytes(32)).decode().rstrip("=") + " "},
            id="signature-space-for-padding",
        ),
        pytest.param({HEADER_SIGNATURE: bytes(32).hex()}, id="signature-hex"),
    ],
)
def test_malformed_headers_rejected(changes: dict[str, str | None]) -> None:
    with pytest.raises(MalformedSignatureHeaders):
        _parse(**changes)


@pytest.mark.parametrize("header", [HEADER_TIMESTAMP, HEADER_NONCE])
def test_trailing_newline_rejected(header: str) -> None:
    with pytest.raises(MalformedSignatureHeaders):
        _parse(**{header: GOOD_HEADERS[header] + "\n"})


@pytest.mark.parametrize("signature", ["A" * 44, "A" * 42 + "=="], ids=["33-bytes", "31-bytes"])
def test_signature_must_decode_to_32_bytes(signature: str) -> None:
    with pytest.raises(MalformedSignatureHeaders):
        _parse(**{HEADER_SIGNATURE: signature})


# -- properties ------------------------------------------------------------------------------------

secrets_ = st.text(alphabet="0123456789abcdef", min_size=64, max_size=64)
nonces = st.text(
    alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-",
    min_size=16,
    max_size=64,
)
paths = st.text(
    alphabet="abcdefghijklmnopqrstuvwxyz0123456789/?&=%._-", min_size=1, max_size=80
).map(lambda s: "/" + s)


@given(
    secret=secrets_,
    device_id=st.uuids(),
    method=st.sampled_from(["GET", "POST", "PUT", "DELETE"]),
    path=paths,
    timestamp=st.integers(min_value=0, max_value=10**12 - 1),
    nonce=nonces,
    body=st.binary(max_size=512),
)
def test_sign_then_verify_roundtrip(
    secret: str,
    device_id: uuid.UUID,
    method: str,
    path: str,
    timestamp: int,
    nonce: str,
    body: bytes,
) -> None:
    headers = signed_headers(
        secret=secret,
        device_id=str(device_id),
        method=method,
        path_and_query=path,
        body=body,
        timestamp=timestamp,
        nonce=nonce,
    )
    parsed = _parse_headers(headers)
    canonical = canonical_string(
        method=method,
        path_and_query=path,
        device_id=parsed.device_id_text,
        timestamp=parsed.timestamp_text,
        nonce=parsed.nonce,
        body_hash=body_sha256(body),
    )
    key = key_from_secret(secret)
    assert signature_matches(key=key, canonical=canonical, signature=parsed.signature)
    other_key = key_from_secret(("1" if secret[0] == "0" else "0") + secret[1:])
    assert not signature_matches(key=other_key, canonical=canonical, signature=parsed.signature)


@given(body=st.binary(min_size=1, max_size=512), data=st.data())
def test_any_single_byte_change_of_the_body_changes_the_signature(
    body: bytes, data: st.DataObject
) -> None:
    index = data.draw(st.integers(min_value=0, max_value=len(body) - 1), label="index")
    new_byte = data.draw(
        st.integers(min_value=0, max_value=255).filter(lambda b: b != body[index]), label="byte"
    )
    changed = body[:index] + bytes([new_byte]) + body[index + 1 :]
    assert _signature(body=changed) != _signature(body=body)


# -- the MQL5 include (compiled and run against every vector in tests/ea/) ------------------------


def test_mql5_include_empty_body_constant_is_sha256_of_nothing() -> None:
    signer = ROOT / "ea" / "MQL5" / "Include" / "Eagate" / "Signer.mqh"
    source = signer.read_text(encoding="utf-8")
    empty = re.search(r'#define EAGATE_EMPTY_SHA256 "([0-9a-f]{64})"', source)
    assert empty is not None
    assert empty.group(1) == hashlib.sha256(b"").hexdigest()


def test_protocol_worked_example_matches_the_published_vector() -> None:
    text = (ROOT / "docs" / "PROTOCOL.md").read_text(encoding="utf-8")
    (vector,) = [v for v in VECTORS if v["name"] == "post-json-body"]
    body = _body(vector)
    for value in (
        vector["inputs"]["secret"],
        vector["inputs"]["nonce"],
        vector["inputs"]["body_utf8"],
        vector["body_sha256"],
        vector["canonical_string"].replace("\n", "\\n"),
        vector["hmac_sha256_hex"],
        vector["signature"],
        f"Content-Length: {len(body)}",
        f"body ({len(body)} bytes)",
    ):
        assert value in text, value
