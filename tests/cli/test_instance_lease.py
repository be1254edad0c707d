"""Issue 10, defect 5: two `eagate serve` on one database without Redis would each accept a
captured request once, so the second refuses to start (SPEC 4), on SQLite and PostgreSQL, in
any EAGATE_ENV. Operator commands are not instances; instances sharing Redis share the lease."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.fixtures.servers import (
    PRODUCTION,
    assert_refused_without_redis,
    eagate_process,
    eagate_serve,
    free_port,
)

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("env", ["development", "production"])
def test_a_second_instance_without_redis_refuses_to_start(
    shared_database: dict[str, str], env: str, tmp_path: Path
) -> None:
    settings = {**shared_database, **(PRODUCTION if env == "production" else {})}
    with eagate_serve(tmp_path / "a", name="a", **settings) as first:
        # Another data dir, same database: the database is what they would share.
        second = eagate_process(tmp_path / "b", "serve", "--port", str(free_port()), **settings)
        assert_refused_without_redis(second)
        assert httpx.get(first.url + "/readyz", timeout=5).status_code == 200
        # Operator commands are not instances.
        migrate = eagate_process(tmp_path / "a", "migrate", **settings)
        assert migrate.returncode == 0, migrate.stderr
    # Once the first has stopped, the lease is free again.
    with eagate_serve(tmp_path / "b", name="b", **settings) as again:
        assert httpx.get(again.url + "/healthz", timeout=5).status_code == 200
