"""The shipped JSON reader (ea/MQL5/Include/Eagate/Json.mqh), compiled through the harness.

ea/harness/json_driver.cpp reads a document from stdin as the EA gets one (UTF-8 bytes ->
CharArrayToString), parses it and prints it back from the node array, or the refusal. Valid
documents must come back equal to what Python's json reads (numbers compared as their text,
member order kept); malformed ones must be refused, never guessed at.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.ea.harness import HARNESS, build, run

DRIVER = HARNESS / "json_driver.cpp"


def _binary() -> Path:
    compiled = build(DRIVER)
    assert compiled.binary is not None, compiled.errors
    return compiled.binary


def parse(text: str | bytes, *queries: str) -> tuple[str, str, dict[str, tuple[bool, str]]]:
    """('ok', re-serialised document, answers) or ('refused', why, answers)."""
    data = text.encode("utf-8") if isinstance(text, str) else text
    result = run(_binary(), queries, stdin=data, timeout=30)
    lines = result.stdout.decode("utf-8").split("\n")[:-1]  # not splitlines(): U+2028
    assert result.returncode in (0, 2), result.stderr.decode(errors="replace")[-3000:]
    status, detail = lines[0].split("\t", 1)
    assert (status == "ok") == (result.returncode == 0)
    answers = {}
    for line in lines[1:]:
        _, path, kind, found, value = line.split("\t")
        answers[f"{path}={kind}"] = (found == "yes", json.loads(value))
    return status, detail, answers


def as_text(document: str) -> Any:
    """Python's reading, numbers kept as text and members as ordered pairs."""
    return json.loads(
        document, parse_float=str, parse_int=str, parse_constant=_refuse, object_pairs_hook=list
    )


def _refuse(name: str) -> None:
    raise ValueError(name)


POLL_ANSWER = """{
  "signals": [
    {"signal_id": "0193a901-55aa-7d10-a3c4-5e6f708192a3", "instrument": "EURUSD", "side": "buy",
     "order_type": "limit", "volume": "0.10", "price": "1.08250", "sl": null, "tp": "1.09000",
     "comment": "caf\\u00e9 \\ud83d\\ude80 \\"breakout\\"", "created_at": "2026-11-27T10:00:00Z",
     "expires_at": "2026-11-27T10:05:00Z", "attempt": 2}
  ],
  "server_time": 1795773600,
  "next_poll_seconds": 5
}"""

VALID = [
    POLL_ANSWER,
    '{"signals":[],"server_time":1795773600,"next_poll_seconds":5}',
    "[]",
    "{}",
    ' \t\r\n{ "a" : [ ] , "b" : { } }\n ',
    '"just a string"',
    "0",
    "-0",
    "-12.5e-3",
    "1E+400",
    "123456789012345678901234567890",
    "[true,false,null]",
    '{"escapes":"\\" \\\\ \\/ \\b \\f \\n \\r \\t \\u0001 \\u001f \\u00e9 \\u20ac \\uffff"}',
    '{"pair":"\\ud83d\\ude00","raw":"😀 价格 — é"}',
    '{"nested":[[[[[[[[[[{"deep":[1,[2,[3]]]}]]]]]]]]]]}',
    '{"":"empty name","a.b":"dotted name"}',
    '[1,"1",1.0,{"1":1}]',
]

MALFORMED = [
    "",
    "   ",
    "{",
    "}",
    "[1,2",
    "[1,2,]",
    '{"a":1,}',
    '{"a" 1}',
    "{a:1}",
    "{'a':1}",
    '{"a":1 "b":2}',
    '{"a":1,"a":2}',
    "[01]",
    "[1.]",
    "[.5]",
    "[+1]",
    "[1e]",
    "[1e+]",
    "[-]",
    "[0x10]",
    "[NaN]",
    "[Infinity]",
    "[-Infinity]",
    "[tru]",
    "[nul]",
    "[True]",
    '"unterminated',
    '"bad escape \\x"',
    '"bad unicode \\u12"',
    '"bad unicode \\u12G4"',
    '"lone high \\ud83d"',
    '"lone high then text \\ud83dx"',
    '"lone low \\ude00"',
    '"high then high \\ud83d\\ud83d"',
    '"nul \\u0000"',
    '"raw control \x01"',
    '"raw newline \n"',
    "[1] [2]",
    '{"a":1} x',
    "\ufeff{}",
    "[" * 65 + "]" * 65,
    "// comment\n{}",
]


@pytest.mark.parametrize("document", VALID)
def test_a_valid_document_reads_back_as_python_reads_it(document: str) -> None:
    status, dumped, _ = parse(document)
    assert status == "ok", dumped
    assert as_text(dumped) == as_text(document)


@pytest.mark.parametrize("document", MALFORMED)
def test_a_malformed_document_is_refused(document: str) -> None:
    status, why, _ = parse(document)
    assert status == "refused", f"{document!r} was read as {why!r}"
    assert why.startswith("offset ")


def test_nesting_up_to_64_levels_is_read() -> None:
    status, _, _ = parse("[" * 64 + "]" * 64)
    assert status == "ok"


def test_the_getters_read_a_poll_answer_by_path_and_type() -> None:
    queries = {
        "signals[0].signal_id=string": (True, "0193a901-55aa-7d10-a3c4-5e6f708192a3"),
        "signals[0].volume=string": (True, "0.10"),
        "signals[0].attempt=long": (True, "2"),
        "signals[0].attempt=string": (False, ""),
        "signals[0].sl=null": (True, ""),
        "signals[0].sl=string": (False, ""),
        "signals[0].tp=null": (False, ""),
        "signals[0].comment=string": (True, 'café 🚀 "breakout"'),
        "signals[1].signal_id=string": (False, ""),
        "signals[0].missing=string": (False, ""),
        "signals=count": (True, "1"),
        "signals[0]=count": (True, "12"),
        "server_time=long": (True, "1795773600"),
        "next_poll_seconds=long": (True, "5"),
        "next_poll_seconds=double": (True, "5.00000000"),
        "next_poll_seconds=bool": (False, ""),
        "signals.0=string": (False, ""),
        "signals[x]=type": (True, "-1"),
        "signals[0].=type": (True, "-1"),
        "=type": (True, "6"),
    }
    status, _, answers = parse(POLL_ANSWER, *queries)
    assert status == "ok"
    assert answers == queries


def test_numbers_keep_their_text_and_long_refuses_what_is_not_an_integer() -> None:
    queries = {
        "[0]=number": (True, "0.10"),
        "[0]=long": (False, ""),
        "[1]=long": (True, "-42"),
        "[2]=long": (False, ""),
        "[3]=long": (False, ""),
        "[4]=long": (True, "999999999999999999"),
        "[3]=number": (True, "1e3"),
        "[3]=double": (True, "1000.00000000"),
        "[5]=bool": (True, "true"),
    }
    status, _, answers = parse(
        "[0.10,-42,1234567890123456789,1e3,999999999999999999,true]", *queries
    )
    assert status == "ok"
    assert answers == queries


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**20), max_value=10**20)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(
        st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=12
    ),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.text(max_size=6).filter(lambda k: "\x00" not in k), children, max_size=4
        )
    ),
    max_leaves=20,
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(value=json_values, ascii_only=st.booleans(), indent=st.sampled_from([None, 1]))
def test_any_document_python_writes_is_read_back_exactly(
    value: Any, ascii_only: bool, indent: int | None
) -> None:
    document = json.dumps(value, ensure_ascii=ascii_only, indent=indent)
    status, dumped, _ = parse(document)
    assert status == "ok", dumped
    assert as_text(dumped) == as_text(document)
