"""Smoke test of the benchmark suite: the fast, in-process benchmarks run in their quick
variants and return the shape ``python -m bench`` and readers of the JSON rely on.

Timings are never asserted (other work shares the machine); only keys, and facts that do not
depend on speed (every poll answered, every device's activity written).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bench import __main__ as bench_main
from bench import activity_writes, harness, report, verify_cost

FIGURE_KEYS = report.FIGURE_KEYS
RESULT_KEYS = report.RESULT_KEYS


@pytest.fixture(autouse=True)
def results_in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Quick runs must not overwrite the figures of a full run in bench/results/."""
    monkeypatch.setattr(harness, "RESULTS", tmp_path)
    return tmp_path


def assert_result_shape(out: dict[str, Any], name: str) -> None:
    assert set(RESULT_KEYS) <= out.keys()
    assert out["benchmark"] == name
    assert out["quick"] is True
    assert out["figures"]
    for item in out["figures"]:
        assert set(FIGURE_KEYS) <= item.keys()
        assert item["passed"] in (True, False, None)


def test_verify_cost_quick(results_in_tmp: Path) -> None:
    out = verify_cost.run(quick=True)

    assert_result_shape(out, "verify_cost")
    details = out["details"]
    assert {"authenticate_us", "components_us", "argon2", "ratio"} <= details.keys()
    assert {"calls", "mean", "p50", "p99", "cpu_us_per_call"} <= details["authenticate_us"][
        "memory"
    ].keys()
    assert {"hmac_sha256_compare", "replay_claim_memory"} <= details["components_us"].keys()
    assert {"wall_ms_mean", "cpu_ms_mean", "time_cost", "memory_kib"} <= details["argon2"].keys()
    assert details["ratio"] > 0
    assert (results_in_tmp / "verify_cost.quick.json").exists()


def test_activity_writes_quick(results_in_tmp: Path) -> None:
    out = activity_writes.run(quick=True)

    assert_result_shape(out, "activity_writes")
    details = out["details"]
    assert {
        "polls",
        "devices",
        "seconds",
        "write_statements",
        "activity_statements",
        "activity_rows",
        "other_writes",
        "write_statements_per_1000_polls",
        "activity_rows_per_1000_polls",
        "flushes_expected",
    } <= details.keys()
    assert details["statuses"] == {"200": details["polls"] + details["devices"]}
    assert details["devices_with_last_poll_at"] == details["devices"]
    assert (results_in_tmp / "activity_writes.quick.json").exists()


def test_runner_rejects_unknown_names() -> None:
    with pytest.raises(SystemExit):
        bench_main.main(["--quick", "no_such_benchmark"])


def test_runner_reads_a_result_without_figures() -> None:
    figures = bench_main._figures_of(
        {"ratio": 0.6, "target_ratio": 0.5, "passed": True, "raw": {"requests_per_second": 1.0}}
    )

    assert figures[0]["passed"] is True
    assert all(set(FIGURE_KEYS) <= item.keys() for item in figures)


def test_runner_summary_table_renders_every_kind_of_entry() -> None:
    summary = {
        "quick": True,
        "duration_seconds": 1.0,
        "machine": {
            "nproc": 2,
            "cpu_model": "cpu",
            "memory_gib": 1.0,
            "python": "3.11",
            "load_average": [0.1, 0.1, 0.1],
        },
        "benchmarks": {
            "a": {
                "duration_seconds": 1.0,
                "machine_busy_cores": 0.5,
                "figures": [
                    report.figure("with target", 1.0, "ms", target="<= 3 ms", passed=True),
                    report.figure("headline", 2, headline=True),
                    report.figure("informational", "text"),
                ],
            },
            "b": {"error": "RuntimeError: boom", "duration_seconds": 0.1},
            "c": {"skipped": "not there yet"},
        },
    }

    table = bench_main._summary_table(summary)

    assert table.row_count == 4
