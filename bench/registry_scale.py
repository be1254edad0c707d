"""(4) The device registry at scale on PostgreSQL: 1,000,000 devices over 10,000 owners.

A database of its own (created, dropped afterwards) is loaded with COPY: 10,000 owners; one
of them (the big owner) with 10,000 devices, the other 990,000 devices each given to an owner
drawn at random, in time order, so that one owner's devices are scattered over the table as
real registrations over months would be. Then VACUUM (ANALYZE), and a real ``eagate serve``
process:

- list: GET /devices?limit=50 (the first page) for random owners, p99 over a few hundred;
- get: GET /devices/{id} for random owners' devices, p99 over as many;
- paging: the big owner's 10,000 devices at limit=200 through the Link headers, several
  times (every device once, in order), then the first and the last page requested
  alternately, 40 times each: keyset pagination makes them cost the same (and EXPLAIN shows
  the same buffers touched).

Requests are sequential (latency, not throughput), from one keep-alive httpx client.
"""

from __future__ import annotations

import json
import random
import statistics
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from bench import harness
from bench.provision import BulkLoad, bulk_load
from bench.report import at_most, figure, print_figures, result, summarize_ms
from eagate.kit.paging import decode_cursor
from eagate.settings import Settings

NAME = "registry_scale"
TARGET_LIST_P99_MS = 20.0
TARGET_GET_P99_MS = 10.0
TARGET_LAST_OVER_FIRST = 1.5  # "the last page as fast as the first", with room for noise
PAGE_LIMIT = 200
AB_PAIRS = 40  # first page / last page requests, alternating

PAGE_QUERY = (
    "SELECT * FROM devices WHERE client_id = $1 AND is_active AND id > $2 ORDER BY id LIMIT $3"
)
FIRST_PAGE_QUERY = "SELECT * FROM devices WHERE client_id = $1 AND is_active ORDER BY id LIMIT $2"


def _next_link(response: httpx.Response) -> str | None:
    link = response.headers.get("link")
    if not link or 'rel="next"' not in link:
        return None
    return link[link.index("<") + 1 : link.index(">")]


def _timed_get(http: httpx.Client, url: str, token: str) -> tuple[float, httpx.Response]:
    headers = {"Authorization": f"Bearer {token}"}
    started = time.perf_counter()
    response = http.get(url, headers=headers)
    elapsed = (time.perf_counter() - started) * 1000
    response.raise_for_status()
    return elapsed, response


def _measure(server: harness.Server, load: BulkLoad, samples: int, walks: int) -> dict[str, Any]:
    rng = random.Random(11)
    regular = [owner for owner in load.owner_ids if owner != load.big_owner_id]
    picked = [rng.choice(regular) for _ in range(samples)]
    tokens = {owner: load.token(owner) for owner in set(picked) | {load.big_owner_id}}
    list_ms: list[float] = []
    get_ms: list[float] = []
    list_sizes: list[int] = []
    out: dict[str, Any] = {}
    generator_before = harness.self_cpu_seconds()
    started = time.perf_counter()
    with httpx.Client(base_url=server.url, timeout=30) as http:
        for owner in picked[:20]:  # warm the connection, the code paths and the plan cache
            _timed_get(http, "/api/v1/devices?limit=50", tokens[owner])
            _timed_get(http, f"/api/v1/devices/{load.one_device_of[owner]}", tokens[owner])
        for owner in picked:
            elapsed, response = _timed_get(http, "/api/v1/devices?limit=50", tokens[owner])
            list_ms.append(elapsed)
            list_sizes.append(len(response.json()))
            device_id = load.one_device_of[owner]
            elapsed, response = _timed_get(http, f"/api/v1/devices/{device_id}", tokens[owner])
            get_ms.append(elapsed)
            if response.json()["id"] != str(device_id):
                raise RuntimeError("GET /devices/{id} returned another device")

        big_token = tokens[load.big_owner_id]
        walk_pages: list[list[float]] = []
        last_cursor: str | None = None
        for _ in range(walks):
            url: str | None = f"/api/v1/devices?limit={PAGE_LIMIT}"
            pages: list[float] = []
            seen: list[str] = []
            while url is not None:
                elapsed, response = _timed_get(http, url, big_token)
                pages.append(elapsed)
                seen += [device["id"] for device in response.json()]
                next_url = _next_link(response)
                if next_url is not None:
                    last_cursor = httpx.URL(next_url).params.get("cursor")
                url = next_url
            walk_pages.append(pages)
            expected = load.device_counts[load.big_owner_id]
            if len(seen) != expected or len(set(seen)) != expected or seen != sorted(seen):
                raise RuntimeError(f"paging returned {len(seen)} devices, expected {expected}")
        # First page against last page, alternately, so that both see the same conditions.
        first_url = f"/api/v1/devices?limit={PAGE_LIMIT}"
        last_url = f"{first_url}&cursor={last_cursor}"
        first_ms: list[float] = []
        last_ms: list[float] = []
        for _ in range(AB_PAIRS):
            first_ms.append(_timed_get(http, first_url, big_token)[0])
            last_ms.append(_timed_get(http, last_url, big_token)[0])
    elapsed_total = time.perf_counter() - started
    out["generator_cpu_percent"] = round(
        100 * (harness.self_cpu_seconds() - generator_before) / elapsed_total, 1
    )
    out["list_ms"] = summarize_ms(list_ms)
    out["list_page_sizes"] = summarize_ms([float(n) for n in list_sizes])
    out["get_ms"] = summarize_ms(get_ms)
    pages_per_walk = len(walk_pages[0])
    by_position = [[walk[i] for walk in walk_pages if i < len(walk)] for i in range(pages_per_walk)]
    out["paging"] = {
        "devices": load.device_counts[load.big_owner_id],
        "limit": PAGE_LIMIT,
        "pages": pages_per_walk,
        "walks": walks,
        "first_page_in_walks_ms": summarize_ms(by_position[0]),
        "last_page_in_walks_ms": summarize_ms(by_position[-1]),
        "alternating_pairs": AB_PAIRS,
        "first_page_ms": summarize_ms(first_ms),
        "last_page_ms": summarize_ms(last_ms),
        "all_pages_ms": summarize_ms([ms for walk in walk_pages for ms in walk]),
        "median_by_page_ms": [round(statistics.median(ms), 2) for ms in by_position],
        "walk_seconds": [round(sum(walk) / 1000, 3) for walk in walk_pages],
    }
    out["last_cursor"] = last_cursor
    return out


def _plan_summary(plan: dict[str, Any]) -> dict[str, Any]:
    indexes: list[str] = []

    def visit(node: dict[str, Any]) -> None:
        if "Index Name" in node:
            indexes.append(f"{node['Node Type']} using {node['Index Name']}")
        for child in node.get("Plans", []):
            visit(child)

    visit(plan["Plan"])
    return {
        "execution_ms": round(plan["Execution Time"], 3),
        "shared_buffers_touched": plan["Plan"].get("Shared Hit Blocks", 0)
        + plan["Plan"].get("Shared Read Blocks", 0),
        "rows": plan["Plan"].get("Actual Rows"),
        "index_scans": indexes,
    }


async def _database_facts(url: str, load: BulkLoad, last_cursor: str | None) -> dict[str, Any]:
    connection = await asyncpg.connect(harness.asyncpg_dsn(url))
    try:
        facts: dict[str, Any] = {
            "devices_rows": await connection.fetchval("SELECT count(*) FROM devices"),
            "clients_rows": await connection.fetchval("SELECT count(*) FROM clients"),
            "devices_table_mib": round(
                await connection.fetchval("SELECT pg_table_size('devices')") / 2**20, 1
            ),
            "devices_indexes_mib": round(
                await connection.fetchval("SELECT pg_indexes_size('devices')") / 2**20, 1
            ),
        }
        explain = "EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) "
        first = await connection.fetchval(
            explain + FIRST_PAGE_QUERY, load.big_owner_id, PAGE_LIMIT + 1
        )
        facts["plan_first_page"] = _plan_summary(_json(first)[0])
        if last_cursor:
            after: uuid.UUID = decode_cursor(last_cursor)
            last = await connection.fetchval(
                explain + PAGE_QUERY, load.big_owner_id, after, PAGE_LIMIT + 1
            )
            facts["plan_last_page"] = _plan_summary(_json(last)[0])
        return facts
    finally:
        await connection.close()


async def _autovacuum_workers(url: str) -> int:
    connection = await asyncpg.connect(harness.asyncpg_dsn(url))
    try:
        count: int = await connection.fetchval(
            "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'autovacuum worker'"
        )
        return count
    finally:
        await connection.close()


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def _unavailable(quick: bool, started: float) -> dict[str, Any]:
    figures = [
        figure("list first page p99", None, "ms", target=f"<= {TARGET_LIST_P99_MS:g} ms"),
        figure("get p99", None, "ms", target=f"<= {TARGET_GET_P99_MS:g} ms"),
    ]
    out = result(
        NAME,
        quick=quick,
        started=started,
        finished=time.perf_counter(),
        figures=figures,
        details={"skipped": f"PostgreSQL not reachable at {harness.POSTGRES_BASE_URL}"},
    )
    print_figures("(4) registry at scale: skipped, no PostgreSQL", figures)
    return out


def run(quick: bool = False) -> dict[str, Any]:
    started = time.perf_counter()
    if quick:
        owners, devices, big, samples, walks = 200, 20_000, 2_000, 100, 2
    else:
        owners, devices, big, samples, walks = 10_000, 1_000_000, 10_000, 500, 5
    if not harness.postgres_available():
        return _unavailable(quick, started)
    details: dict[str, Any] = {"owners": owners, "devices": devices, "big_owner_devices": big}
    with (
        tempfile.TemporaryDirectory(prefix="eagate-bench-") as tmp,
        harness.postgres_database() as url,
    ):
        data_dir = Path(tmp)
        settings = Settings(data_dir=data_dir, database_url=url)
        load_started = time.perf_counter()
        load = harness.run_async(
            bulk_load(settings, owners=owners, devices=devices, big_owner_devices=big)
        )
        details["load_seconds"] = round(time.perf_counter() - load_started, 1)
        details["load_timings"] = load.timings
        with harness.eagate_server_with_log(
            data_dir=data_dir, log_path=data_dir / "server.log", env={"EAGATE_DATABASE_URL": url}
        ) as server:
            details["autovacuum_workers_before"] = harness.run_async(_autovacuum_workers(url))
            measured = _measure(server, load, samples, walks)
            details["autovacuum_workers_after"] = harness.run_async(_autovacuum_workers(url))
        details.update(measured)
        details["database"] = harness.run_async(_database_facts(url, load, measured["last_cursor"]))

    paging = details["paging"]
    first = paging["first_page_ms"]["p50"]
    last = paging["last_page_ms"]["p50"]
    ratio = round(last / first, 2) if first and last else None
    plans = details["database"]
    figures = [
        figure(
            f"list first page (limit=50), p99 over {samples} owners",
            details["list_ms"]["p99"],
            "ms",
            target=f"<= {TARGET_LIST_P99_MS:g} ms",
            passed=at_most(details["list_ms"]["p99"], TARGET_LIST_P99_MS),
            note=f"p50 {details['list_ms']['p50']} ms",
        ),
        figure(
            f"get one device, p99 over {samples} owners",
            details["get_ms"]["p99"],
            "ms",
            target=f"<= {TARGET_GET_P99_MS:g} ms",
            passed=at_most(details["get_ms"]["p99"], TARGET_GET_P99_MS),
            note=f"p50 {details['get_ms']['p50']} ms",
        ),
        figure(
            f"paging {paging['devices']:,} devices at limit={PAGE_LIMIT}: first page, p50",
            first,
            "ms",
            note=f"{AB_PAIRS} requests alternating with the last page",
        ),
        figure(
            f"paging: last page (page {paging['pages']}), p50",
            last,
            "ms",
            note=f"{walks} full walks in order: {paging['walk_seconds']} s",
        ),
        figure(
            "paging: last page / first page",
            ratio,
            "x",
            target=f"<= {TARGET_LAST_OVER_FIRST:g}x",
            passed=at_most(ratio, TARGET_LAST_OVER_FIRST),
        ),
        figure(
            "paging: shared buffers touched, first page",
            plans["plan_first_page"]["shared_buffers_touched"],
            note="EXPLAIN (ANALYZE, BUFFERS)",
        ),
        figure(
            "paging: shared buffers touched, last page",
            plans.get("plan_last_page", {}).get("shared_buffers_touched"),
            note="EXPLAIN (ANALYZE, BUFFERS)",
        ),
        figure(
            f"load {devices:,} devices (COPY) + VACUUM (ANALYZE)",
            details["load_seconds"],
            "s",
            note=(
                f"table {plans['devices_table_mib']} MiB"
                f" + indexes {plans['devices_indexes_mib']} MiB"
            ),
        ),
        figure(
            "load generator CPU", details["generator_cpu_percent"], "% of a core", headline=True
        ),
    ]
    out = result(
        NAME,
        quick=quick,
        started=started,
        finished=time.perf_counter(),
        figures=figures,
        details=details,
    )
    print_figures(f"(4) registry at scale: {devices:,} devices, {owners:,} owners", figures)
    harness.save_result(NAME if not quick else f"{NAME}.quick", out)
    return out


if __name__ == "__main__":
    import sys

    run(quick="--quick" in sys.argv)
