"""Write docs/test-vectors.json: published signing vectors for EA authors (SPEC 4).

Deterministic: fixed inputs in, the same file out. `--check` exits 1 when the file is stale.

    .venv/bin/python scripts/make_test_vectors.py [--check]
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import json
import sys
from pathlib import Path
from typing import Any

from eagate.kit.signing import body_sha256, canonical_string, key_from_secret, sign

OUTPUT = Path(__file__).resolve().parent.parent / "docs" / "test-vectors.json"

# Fixed, made-up credentials (never a real device's): 64 lowercase hex chars, like a real secret.
SECRET_A = hashlib.sha256(b"eagate test vector secret A").hexdigest()
SECRET_B = hashlib.sha256(b"eagate test vector secret B").hexdigest()
DEVICE_A = "0193a8f2-7c4e-7b21-9f3d-2a6c8e1b5d40"
DEVICE_B = "0193a8f3-01d2-7e5a-8c47-b9e0f16a3c28"
SIGNAL = "0193a901-55aa-7d10-a3c4-5e6f708192a3"
TIMESTAMP = 1795773600  # 2026-11-27T10:00:00Z

ACK_PLACED = (
    '{"signal_id":"' + SIGNAL + '","status":"placed","broker_ticket":"501234567",'
    '"executed_at":"2026-11-27T10:00:01Z"}'
)
ACK_FAILED_UTF8 = (
    '{"signal_id":"' + SIGNAL + '","status":"failed","error":"Requote: prix refusé — 价格已变动 ✓"}'
)

# (name, description, secret, method, path_and_query, device_id, timestamp, nonce, body)
CASES: list[tuple[str, str, str, str, str, str, int, str, str]] = [
    (
        "get-with-query",
        "Long poll. The query is signed exactly as sent (not sorted, not decoded).",
        SECRET_A,
        "GET",
        "/api/v1/device/poll?wait=20&limit=10",
        DEVICE_A,
        TIMESTAMP,
        "Jq3v9XbT2LwQ8rZk",  # 16 characters: the shortest allowed nonce
        "",
    ),
    (
        "get-without-query",
        "No query string: the path alone, never a trailing '?'. No body: SHA-256 of zero bytes.",
        SECRET_A,
        "GET",
        "/api/v1/device/me",
        DEVICE_A,
        TIMESTAMP,
        "n0nce_7f3a9c21-b84e-4d6f-9a0b",
        "",
    ),
    (
        "post-json-body",
        "Ack as placed: the body hash covers the exact bytes sent.",
        SECRET_A,
        "POST",
        "/api/v1/device/ack",
        DEVICE_A,
        TIMESTAMP + 1,
        "c8Yt2mQ4vN7pR1sK5wE9zA3b",
        ACK_PLACED,
    ),
    (
        "post-non-ascii-utf8-body",
        "A body with non-ASCII text: hash its UTF-8 bytes (not UTF-16, not \\u escapes).",
        SECRET_A,
        "POST",
        "/api/v1/device/ack",
        DEVICE_A,
        TIMESTAMP + 2,
        "Utf8Body_Nonce-0001",
        ACK_FAILED_UTF8,
    ),
    (
        "post-empty-body",
        "A POST with an empty body hashes zero bytes (no terminating NUL from StringToCharArray).",
        SECRET_A,
        "POST",
        "/api/v1/device/ack",
        DEVICE_A,
        TIMESTAMP + 3,
        "EmptyBodyPost_0002",
        "",
    ),
    (
        "long-nonce-64",
        "The longest allowed nonce: 64 characters of [A-Za-z0-9_-].",
        SECRET_A,
        "GET",
        "/api/v1/device/poll?wait=0&limit=100",
        DEVICE_A,
        TIMESTAMP + 4,
        "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-",
        "",
    ),
    (
        "other-device-other-key",
        "Another device and secret; query parameters in another order than vector 1.",
        SECRET_B,
        "GET",
        "/api/v1/device/poll?limit=1&wait=30",
        DEVICE_B,
        TIMESTAMP - 299,
        "Zz9-Yy8_Xx7-Ww6_Vv5-Uu4",
        "",
    ),
]


def build() -> dict[str, Any]:
    vectors = []
    for name, description, secret, method, target, device_id, ts, nonce, text in CASES:
        body = text.encode("utf-8")
        canonical = canonical_string(
            method=method,
            path_and_query=target,
            device_id=device_id,
            timestamp=ts,
            nonce=nonce,
            body_hash=body_sha256(body),
        )
        signature = sign(key=key_from_secret(secret), canonical=canonical)
        vectors.append(
            {
                "name": name,
                "description": description,
                "inputs": {
                    "secret": secret,
                    "method": method,
                    "path_and_query": target,
                    "device_id": device_id,
                    "timestamp": ts,
                    "nonce": nonce,
                    "body_utf8": text,
                    "body_base64": base64.b64encode(body).decode("ascii"),
                },
                "body_sha256": body_sha256(body),
                "canonical_string": canonical,
                # The raw HMAC as hex: compare this first when a port disagrees.
                "hmac_sha256_hex": base64.b64decode(signature).hex(),
                "signature": signature,
                "headers": {
                    "X-Device-Id": device_id,
                    "X-Timestamp": str(ts),
                    "X-Nonce": nonce,
                    "X-Signature": signature,
                },
            }
        )
    return {
        "description": (
            "eagate device request signing test vectors (see docs/PROTOCOL.md). "
            "signature = base64(HMAC-SHA256(key = ASCII bytes of the 64-hex secret, "
            "message = UTF-8 bytes of canonical_string)). canonical_string is six lines "
            "joined by \\n with no trailing newline: METHOD, PATH_AND_QUERY, DEVICE_ID, "
            "TIMESTAMP, NONCE, BODY_SHA256 (lowercase hex SHA-256 of the raw body bytes)."
        ),
        "generator": "scripts/make_test_vectors.py",
        "vectors": vectors,
    }


def render() -> str:
    return json.dumps(build(), indent=2, ensure_ascii=False) + "\n"


def _self_check(document: dict[str, Any]) -> None:
    # A second derivation with hmac/hashlib only, so a bug in eagate.kit.signing cannot publish.
    for vector in document["vectors"]:
        inputs = vector["inputs"]
        digest = hmac.new(
            inputs["secret"].encode("ascii"),
            vector["canonical_string"].encode("utf-8"),
            hashlib.sha256,
        ).digest()
        assert base64.b64encode(digest).decode("ascii") == vector["signature"], vector["name"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if the file is out of date")
    args = parser.parse_args(argv)
    _self_check(build())
    text = render()
    if args.check:
        current = OUTPUT.read_text(encoding="utf-8") if OUTPUT.exists() else ""
        if current != text:
            print(f"{OUTPUT} is out of date: run scripts/make_test_vectors.py", file=sys.stderr)
            return 1
        return 0
    OUTPUT.write_text(text, encoding="utf-8")
    print(f"wrote {len(CASES)} vectors to {OUTPUT}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
