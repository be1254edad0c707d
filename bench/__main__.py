"""`make bench`: every benchmark, each figure against its target, and a summary.

    python -m bench                      # all of them (about 6-8 minutes on 2 cores)
    python -m bench delivery_latency     # a subset, by module name
    python -m bench --quick              # the small variants (a smoke run)
    make bench BENCH_ARGS="--quick verify_cost"

Each benchmark is a module of this package with ``run(quick: bool) -> dict``; it starts what
it needs, prints its own table and writes ``bench/results/<name>.json`` (``<name>.quick.json``
for ``--quick``). This runner adds ``bench/results/summary.json`` (or ``summary.quick.json``):
the machine, and every figure with its target. Timings are reported, not asserted: the exit
status is non-zero only when a benchmark could not run.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import sys
import time
import traceback
from datetime import UTC, datetime
from typing import Any

from rich.markup import escape
from rich.table import Table

from bench import harness
from bench.report import (
    busy_cores,
    console,
    cpu_jiffies,
    figure,
    format_value,
    machine_info,
    verdict,
)

BENCHMARKS = {
    "signed_poll": "(1) signed empty poll throughput vs a raw ASGI app",
    "delivery_latency": "(2) delivery latency and fan-out",
    "long_poll_memory": "(3) 10,000 concurrent long-polls: memory and errors",
    "registry_scale": "(4) registry at scale on PostgreSQL",
    "verify_cost": "(5) signed request verification vs Argon2id",
    "activity_writes": "(6) database writes per 1,000 polls",
    "sign_in_load": "(7) sign-in under load: POST /signals p99, RSS of 100 sign-ups",
}


def _figures_of(out: dict[str, Any]) -> list[dict[str, Any]]:
    """The figures a benchmark reported; for a result without ``figures`` (another shape),
    the throughput ratio and each run's requests per second."""
    if isinstance(out.get("figures"), list):
        return list(out["figures"])
    figures: list[dict[str, Any]] = []
    if "ratio" in out:
        target = out.get("target_ratio")
        figures.append(
            figure(
                "signed poll / raw ASGI, requests per second",
                out["ratio"],
                "x",
                target=f">= {target}" if target is not None else None,
                passed=out.get("passed") if isinstance(out.get("passed"), bool) else None,
            )
        )
    for key, value in out.items():
        if isinstance(value, dict) and "requests_per_second" in value:
            figures.append(figure(f"{key}: requests per second", value["requests_per_second"]))
            if "generator_cpu_percent" in value:
                figures.append(
                    figure(
                        f"{key}: load generator CPU",
                        value["generator_cpu_percent"],
                        "% of a core",
                        headline=True,
                    )
                )
    return figures


def _summary_table(summary: dict[str, Any]) -> Table:
    machine = summary["machine"]
    title = (
        f"summary{' (quick)' if summary['quick'] else ''}: {machine['nproc']} x "
        f"{machine['cpu_model']}, {machine['memory_gib']} GiB, Python {machine['python']}, "
        f"load {machine['load_average'][0]} at start, {summary['duration_seconds']} s"
    )
    table = Table(title=escape(title), title_justify="left")
    table.add_column("benchmark")
    table.add_column("figure")
    table.add_column("measured", justify="right")
    table.add_column("target", justify="right")
    table.add_column("result", justify="center")
    for name, entry in summary["benchmarks"].items():
        if "error" in entry or "skipped" in entry:
            problem = entry.get("error") or entry.get("skipped")
            status = "[red]ERROR[/red]" if "error" in entry else "[dim]skipped[/dim]"
            table.add_row(name, escape(str(problem))[:120], "-", "-", status)
            continue
        # Other informational figures are in the benchmark's own table and its JSON.
        rows = [
            item
            for item in entry["figures"]
            if item.get("target") is not None or item.get("headline")
        ]
        busy = entry.get("machine_busy_cores")
        label = f"{name}\n[dim]{entry['duration_seconds']} s, {busy} cores busy[/dim]"
        for index, item in enumerate(rows):
            table.add_row(
                label if index == 0 else "",
                escape(item["name"]),
                escape(format_value(item["value"], item.get("unit", ""))),
                escape(item.get("target") or "-"),
                verdict(item.get("passed")),
                end_section=index == len(rows) - 1,
            )
    return table


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    parser.add_argument("names", nargs="*", metavar="NAME", help=", ".join(BENCHMARKS))
    parser.add_argument("--quick", action="store_true", help="small, fast variants")
    args = parser.parse_args(argv)
    unknown = [name for name in args.names if name not in BENCHMARKS]
    if unknown:
        parser.error(
            f"unknown benchmark(s) {', '.join(unknown)}; choose from {', '.join(BENCHMARKS)}"
        )
    selected = args.names or list(BENCHMARKS)

    machine = machine_info()
    console.print(
        f"[bold]eagate benchmarks[/bold]{' (quick)' if args.quick else ''}: "
        f"{machine['nproc']} x {escape(str(machine['cpu_model']))}, Python {machine['python']}, "
        f"load average {machine['load_average']}"
    )
    started = time.perf_counter()
    summary: dict[str, Any] = {
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "quick": args.quick,
        "machine": machine,
        "benchmarks": {},
    }
    failed_to_run = False
    for name in selected:
        console.rule(escape(BENCHMARKS[name]))
        if importlib.util.find_spec(f"bench.{name}") is None:
            summary["benchmarks"][name] = {"skipped": f"bench/{name}.py is not there yet"}
            console.print(f"[dim]skipped: bench/{name}.py is not there yet[/dim]")
            continue
        began = time.perf_counter()
        jiffies = cpu_jiffies()
        try:
            module = importlib.import_module(f"bench.{name}")
            out = module.run(quick=args.quick)
        except Exception as exc:
            traceback.print_exc()
            failed_to_run = True
            summary["benchmarks"][name] = {
                "error": f"{type(exc).__name__}: {exc}",
                "duration_seconds": round(time.perf_counter() - began, 1),
            }
            continue
        summary["benchmarks"][name] = {
            "duration_seconds": round(time.perf_counter() - began, 1),
            # How busy the machine was meanwhile (this benchmark's own processes included).
            "machine_busy_cores": busy_cores(jiffies, cpu_jiffies()),
            "figures": _figures_of(out if isinstance(out, dict) else {}),
        }
    summary["duration_seconds"] = round(time.perf_counter() - started, 1)
    summary["load_average_at_end"] = [round(x, 2) for x in machine_info()["load_average"]]
    checked = [
        item
        for entry in summary["benchmarks"].values()
        for item in entry.get("figures", [])
        if item.get("passed") is not None
    ]
    summary["passed"] = sum(1 for item in checked if item["passed"])
    summary["failed"] = sum(1 for item in checked if not item["passed"])
    path = harness.save_result("summary.quick" if args.quick else "summary", summary)
    console.rule("summary")
    console.print(_summary_table(summary))
    console.print(
        f"{summary['passed']} figures met their target, {summary['failed']} did not; "
        f"timings are noisy when other work shares the machine."
    )
    console.print(f"results: {path.parent}/")
    return 1 if failed_to_run else 0


if __name__ == "__main__":
    sys.exit(main())
