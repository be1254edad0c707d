"""The shipped MQL5 signer, compiled through the harness, against every published vector.

The driver (ea/harness/selftest_driver.cpp) runs EagateSelfTest() and prints what the include
computes for each vector; this test compares it byte for byte with docs/test-vectors.json
(not with the generated TestVectors.mqh), and checks one set of signed headers with the
server's own signing code. Then deliberately broken copies of the signer (mutants) must each
fail, so the harness cannot silently pass everything.

The mutants are compiled without AddressSanitizer and UndefinedBehaviorSanitizer (a third of the
compile time): each is caught by the compiler or by the emulation itself (a self-test or vector
mismatch, an MQL5 VIOLATION, an MQL5 CRITICAL abort, headers the server does not verify), with
the same findings as in the sanitized build. A mutant that only a sanitizer caught would pass
that build and fail its test, never the reverse; and the unmutated signer must pass the same
build (`unsanitized_baseline`), so that each mutant fails by its own change. The shipped signer
keeps its sanitized build. All of them are compiled in the background (one per CPU this pytest
worker has to itself) while the first tests run (`signer_builds`).
"""

from __future__ import annotations

import base64
import json
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from eagate.kit.signing import body_sha256, canonical_string, key_from_secret, sign
from tests.ea.harness import (
    HARNESS,
    INCLUDE,
    ROOT,
    VIOLATION_STATUS,
    Request,
    build,
    building,
    run,
)

VECTORS: list[dict[str, Any]] = json.loads(
    (ROOT / "docs" / "test-vectors.json").read_text(encoding="utf-8")
)["vectors"]
DRIVER = HARNESS / "selftest_driver.cpp"
SIGNER = INCLUDE / "Eagate" / "Signer.mqh"
# The headers the driver signs: vector post-json-body's request, TimeGMT() = 1795773600, a
# broker clock two hours ahead, and X-Server-Time 1795774600 learned from a response.
HEADERS_VECTOR = "post-json-body"
HEADERS_TIMESTAMP = 1795774600


def problems(result: subprocess.CompletedProcess[bytes]) -> list[str]:
    """Everything that differs from the published vectors; [] when the signer is right."""
    found: list[str] = []
    if result.returncode != 0:
        found.append(
            f"exit status {result.returncode}: {result.stderr.decode(errors='replace')[-2000:]}"
        )
    lines = [line.split("\t") for line in result.stdout.decode(errors="replace").splitlines()]
    selftest = [line for line in lines if line[0] == "selftest"]
    if selftest != [["selftest", "ok", ""]]:
        found.append(f"self-test: {selftest}")
    computed = {
        (line[1], line[2]): line[3] for line in lines if line[0] == "vector" and len(line) == 4
    }
    for vector in VECTORS:
        body = base64.b64decode(vector["inputs"]["body_base64"])
        expected = {
            "body_hex": body.hex(),
            "body_sha256": vector["body_sha256"],
            "canonical_hex": vector["canonical_string"].encode("utf-8").hex(),
            "hmac_sha256_hex": vector["hmac_sha256_hex"],
            "signature": vector["signature"],
        }
        for field, value in expected.items():
            got = computed.get((vector["name"], field))
            if got != value:
                found.append(f"{vector['name']} {field}: {got!r}, expected {value!r}")
    headers = [line for line in lines if line[0] == "headers"]
    if len(headers) != 1:
        found.append("no signed headers printed")
    else:
        found.extend(header_problems(bytes.fromhex(headers[0][1]).decode("utf-8")))
    return found


def header_problems(text: str) -> list[str]:
    """The driver's EagateHeaders() output, checked with the server's signing code."""
    (vector,) = [v for v in VECTORS if v["name"] == HEADERS_VECTOR]
    inputs = vector["inputs"]
    if not text.endswith("\r\n") or "\n" in text.replace("\r\n", ""):
        return [f"headers are not CRLF-terminated lines: {text!r}"]
    fields = dict(line.split(": ", 1) for line in text[:-2].split("\r\n"))
    found = []
    if fields.get("X-Device-Id") != inputs["device_id"]:
        found.append(f"X-Device-Id {fields.get('X-Device-Id')!r}")
    if fields.get("X-Timestamp") != str(HEADERS_TIMESTAMP):
        found.append(f"X-Timestamp {fields.get('X-Timestamp')!r}, expected {HEADERS_TIMESTAMP}")
    nonce = fields.get("X-Nonce", "")
    if not re.fullmatch(r"[0-9a-f]{32}", nonce):
        found.append(f"X-Nonce {nonce!r}")
    if fields.get("Content-Type") != "application/json":
        found.append("no Content-Type for a body")
    canonical = canonical_string(
        method="POST",
        path_and_query=inputs["path_and_query"],
        device_id=inputs["device_id"],
        timestamp=HEADERS_TIMESTAMP,
        nonce=nonce,
        body_hash=body_sha256(base64.b64decode(inputs["body_base64"])),
    )
    if fields.get("X-Signature") != sign(
        key=key_from_secret(inputs["secret"]), canonical=canonical
    ):
        found.append(f"X-Signature {fields.get('X-Signature')!r} does not verify")
    return found


def run_signer(include_dir: Path | None = None, *, sanitize: bool = True) -> tuple[str, list[str]]:
    """('compile', errors) or ('run', problems) for the signer in include_dir, or the shipped."""
    compiled = build(DRIVER, [include_dir] if include_dir else [], sanitize=sanitize)
    if compiled.binary is None:
        return "compile", [compiled.errors[-2000:]]
    return "run", problems(run(compiled.binary))


def test_the_shipped_signer_reproduces_every_published_vector_byte_for_byte(
    signer_builds: None,
) -> None:
    stage, found = run_signer()
    assert (stage, found) == ("run", [])
    assert len(VECTORS) >= 7


def test_the_generated_vector_include_is_up_to_date() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "make_ea_vectors.py"), "--check"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@dataclass(frozen=True)
class Mutant:
    name: str
    old: str
    new: str
    fails_at: str  # "compile" (MetaEditor refuses it too) or "run"


MUTANTS = [
    Mutant("dropped NUL trim", "   if(n > 0 && out[n - 1] == 0)\n      n--;\n", "", "run"),
    Mutant(
        "static inner array", "   ARRAY(uchar, inner);", "   STATIC_ARRAY(uchar, inner, 64);", "run"
    ),
    Mutant(
        "swapped ArrayCopy arrays",
        "ArrayCopy(inner, message, 64, 0, msg_len)",
        "ArrayCopy(message, inner, 0, 64, msg_len)",
        "compile",
    ),
    Mutant(
        "swapped ArrayCopy offsets",
        "ArrayCopy(outer, inner_hash, 64, 0, 32)",
        "ArrayCopy(outer, inner_hash, 0, 64, 32)",
        "run",
    ),
    Mutant("missing key zero padding", "   ArrayInitialize(block, 0);\n", "", "run"),
    Mutant(
        "trailing newline in the canonical string",
        'nonce + "\\n" + EagateBodySha256(body);',
        'nonce + "\\n" + EagateBodySha256(body) + "\\n";',
        "run",
    ),
    Mutant("upper-case hex", '"%02x"', '"%02X"', "run"),
    Mutant(
        "CRLF line ends",
        'return upper + "\\n" + path_and_query',
        'return upper + "\\r\\n" + path_and_query',
        "run",
    ),
    Mutant(
        "swapped ipad and opad",
        "(uchar)(block[i] ^ 0x36)",
        "(uchar)(block[i] ^ 0x5c)",
        "run",
    ),
    Mutant(
        "explicit StringToCharArray count",
        "StringToCharArray(text, out, 0, WHOLE_ARRAY, CP_UTF8)",
        "StringToCharArray(text, out, 0, StringLen(text), CP_UTF8)",
        "run",
    ),
    Mutant(
        "ANSI code page",
        "StringToCharArray(text, out, 0, WHOLE_ARRAY, CP_UTF8)",
        "StringToCharArray(text, out, 0, WHOLE_ARRAY, CP_ACP)",
        "run",
    ),
    Mutant("uchar body to WebRequest", "timeout_ms, data,", "timeout_ms, body,", "compile"),
    Mutant("64-byte key hashed first", "if(key_len > 64)", "if(key_len >= 64)", "run"),
    Mutant(
        "empty body hashed by CryptEncode",
        "   if(ArraySize(body) == 0)\n      return EAGATE_EMPTY_SHA256;\n",
        "",
        "run",
    ),
    Mutant(
        "signed with the broker's TimeCurrent",
        "return (long)TimeGMT() + g_eagate_clock_offset;",
        "return (long)TimeCurrent() + g_eagate_clock_offset;",
        "run",
    ),
    Mutant(
        "X-Server-Time looked up case-sensitively",
        "   StringToLower(lower);\n   string name",
        "   string name",
        "run",
    ),
]


def write_mutant(mutant: Mutant, include_dir: Path) -> None:
    """include_dir/Eagate: the shipped includes with the mutant's change in Signer.mqh."""
    source = SIGNER.read_text(encoding="utf-8")
    mutated = include_dir / "Eagate"
    shutil.copytree(INCLUDE / "Eagate", mutated)
    (mutated / "Signer.mqh").write_text(source.replace(mutant.old, mutant.new), encoding="utf-8")


@pytest.fixture(scope="module")
def signer_builds(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[None]:
    """Compiles in the background the shipped signer, its unsanitized build and the mutants
    this session runs; each test's own build() then finds its binary, or waits for it."""
    running = {
        item.callspec.params["mutant"]
        for item in request.session.items
        if isinstance(item, pytest.Function)
        and item.module is request.module
        and "mutant" in getattr(getattr(item, "callspec", None), "params", {})
    }
    requests = [Request(DRIVER), Request(DRIVER, sanitize=False)]
    source = SIGNER.read_text(encoding="utf-8")
    for index, mutant in enumerate(MUTANTS):
        if mutant in running and source.count(mutant.old) == 1:
            include_dir = tmp_path_factory.mktemp(f"mutant-{index}")
            write_mutant(mutant, include_dir)
            requests.append(Request(DRIVER, (include_dir,), sanitize=False))
    with building(requests):
        yield


@pytest.fixture(scope="module")
def unsanitized_baseline(signer_builds: None) -> None:
    """The unmutated signer passes the mutants' build: a mutant fails by its own change."""
    stage, found = run_signer(sanitize=False)
    assert (stage, found) == ("run", []), "the unmutated signer fails without the sanitizers"


@pytest.mark.parametrize("mutant", MUTANTS, ids=[m.name for m in MUTANTS])
def test_a_broken_signer_fails_the_harness(
    mutant: Mutant, tmp_path: Path, unsanitized_baseline: None
) -> None:
    source = SIGNER.read_text(encoding="utf-8")
    assert source.count(mutant.old) == 1, f"the mutant no longer applies: {mutant.old!r}"
    write_mutant(mutant, tmp_path)
    stage, found = run_signer(tmp_path, sanitize=False)
    assert found, f"mutant {mutant.name!r} passed the harness"
    assert stage == mutant.fails_at, found


def test_a_static_array_resize_is_a_violation_that_fails_the_program(tmp_path: Path) -> None:
    driver = tmp_path / "violation.cpp"
    driver.write_text(
        '#include "mql5compat.h"\n'
        "int main() {\n"
        "  STATIC_ARRAY(uchar, fixed, 4);\n"
        "  int resized = ArrayResize(fixed, 8);\n"
        '  std::printf("resized=%d size=%d\\n", resized, ArraySize(fixed));\n'
        "  return 0;\n"
        "}\n"
    )
    compiled = build(driver)
    assert compiled.binary is not None, compiled.errors
    result = run(compiled.binary)
    assert result.stdout == b"resized=-1 size=4\n"
    assert result.returncode == VIOLATION_STATUS
    assert b"MQL5 VIOLATION: ArrayResize on a static array" in result.stderr
