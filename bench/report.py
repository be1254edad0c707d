"""Figures against targets: the one shape every benchmark returns, and its tables.

A benchmark's ``run(quick)`` returns::

    {
        "benchmark": "delivery_latency",      # its module name
        "quick": False,
        "duration_seconds": 41.2,
        "figures": [Figure, ...],            # see ``figure``
        "details": {...},                    # everything else measured, per benchmark
    }

Timings are reported, never asserted: other work shares this machine.
"""

from __future__ import annotations

import math
import os
import platform
import statistics
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

# A file or pipe gets tables wide enough to read (Rich assumes 80 columns without a terminal).
console = Console() if sys.stdout.isatty() else Console(width=132)

RESULT_KEYS = ("benchmark", "quick", "duration_seconds", "figures", "details")
FIGURE_KEYS = ("name", "value", "unit", "target", "passed")


def figure(
    name: str,
    value: float | int | None,
    unit: str = "",
    *,
    target: str | None = None,
    passed: bool | None = None,
    note: str | None = None,
    headline: bool = False,
) -> dict[str, Any]:
    """One measured figure. ``target`` is human-readable (``"<= 3 ms"``); ``passed`` is None
    when the figure has no target (informational) or could not be measured. The summary of
    ``python -m bench`` lists the figures with a target, and those marked ``headline``."""
    entry: dict[str, Any] = {
        "name": name,
        "value": value,
        "unit": unit,
        "target": target,
        "passed": passed,
    }
    if note:
        entry["note"] = note
    if headline:
        entry["headline"] = True
    return entry


def at_most(value: float | None, limit: float) -> bool | None:
    return None if value is None else value <= limit


def percentile(values: Sequence[float], p: float) -> float | None:
    """Linear-interpolated percentile (0-100) of the values; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = (len(ordered) - 1) * p / 100
    low = math.floor(rank)
    high = math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def summarize_ms(values: Sequence[float]) -> dict[str, float | int | None]:
    """count, min, p50, p90, p99, max and mean of millisecond values, rounded to 0.001."""

    def rounded(value: float | None) -> float | None:
        return None if value is None else round(value, 3)

    return {
        "count": len(values),
        "min": rounded(min(values)) if values else None,
        "p50": rounded(percentile(values, 50)),
        "p90": rounded(percentile(values, 90)),
        "p99": rounded(percentile(values, 99)),
        "max": rounded(max(values)) if values else None,
        "mean": rounded(statistics.fmean(values)) if values else None,
    }


def format_value(value: Any, unit: str = "") -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        text = f"{value:,.3f}" if abs(value) < 10 else f"{value:,.1f}"
    elif isinstance(value, int):
        text = f"{value:,}"
    else:
        text = str(value)
    return f"{text} {unit}".strip()


def verdict(passed: bool | None) -> str:
    if passed is None:
        return "[dim]info[/dim]"
    return "[green]PASS[/green]" if passed else "[red]FAIL[/red]"


def print_figures(title: str, figures: Iterable[dict[str, Any]]) -> None:
    table = Table(title=title, title_justify="left")
    table.add_column("figure")
    table.add_column("measured", justify="right")
    table.add_column("target", justify="right")
    table.add_column("result", justify="center")
    for entry in figures:
        name = escape(entry["name"])
        if entry.get("note"):
            name += f" [dim]({escape(entry['note'])})[/dim]"
        table.add_row(
            name,
            escape(format_value(entry["value"], entry.get("unit", ""))),
            escape(entry.get("target") or "-"),
            verdict(entry.get("passed")),
        )
    console.print(table)


def result(
    benchmark: str,
    *,
    quick: bool,
    started: float,
    finished: float,
    figures: list[dict[str, Any]],
    details: dict[str, Any],
) -> dict[str, Any]:
    return {
        "benchmark": benchmark,
        "quick": quick,
        "duration_seconds": round(finished - started, 1),
        "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
        "figures": figures,
        "details": details,
    }


def cpu_jiffies() -> tuple[int, int]:
    """(busy, total) CPU time of the whole machine so far, from /proc/stat."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    return sum(fields) - idle, sum(fields)


def busy_cores(before: tuple[int, int], after: tuple[int, int]) -> float | None:
    """Average number of cores busy (every process, ours included) between two samples."""
    total = after[1] - before[1]
    if total <= 0:
        return None
    return round((after[0] - before[0]) / total * (os.cpu_count() or 1), 2)


def machine_info() -> dict[str, Any]:
    model = None
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory_kib = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory_kib = int(line.split()[1])
    except OSError:
        pass
    load = os.getloadavg()
    return {
        "nproc": os.cpu_count(),
        "cpu_model": model,
        "memory_gib": round(memory_kib / 1024 / 1024, 1) if memory_kib else None,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "load_average": [round(x, 2) for x in load],
    }
