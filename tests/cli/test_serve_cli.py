"""`eagate serve` refuses configurations it cannot run correctly, with a clear message."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def run_eagate(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("EAGATE_")}
    return subprocess.run(
        [sys.executable, "-m", "eagate", *args],
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_several_workers_without_redis_are_refused(tmp_path: Path) -> None:
    result = run_eagate("serve", "--workers", "2", env={"EAGATE_DATA_DIR": str(tmp_path)})
    assert result.returncode == 2
    assert "EAGATE_REDIS_URL" in result.stderr


def test_production_refuses_generated_keys(tmp_path: Path) -> None:
    result = run_eagate("serve", env={"EAGATE_DATA_DIR": str(tmp_path), "EAGATE_ENV": "production"})
    assert result.returncode == 2
    assert "EAGATE_MASTER_KEY" in result.stderr
    assert "refusing to start" in result.stderr


def test_production_refuses_a_weak_password_hash(tmp_path: Path) -> None:
    result = run_eagate(
        "serve",
        env={
            "EAGATE_DATA_DIR": str(tmp_path),
            "EAGATE_ENV": "production",
            "EAGATE_MASTER_KEY": "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=",
            "EAGATE_JWT_SECRET": "x" * 40,
            "EAGATE_ARGON2_MEMORY_KIB": "1024",
        },
    )
    assert result.returncode == 2
    assert "Argon2" in result.stderr


def test_migrate_brings_a_new_database_to_head(tmp_path: Path) -> None:
    result = run_eagate("migrate", env={"EAGATE_DATA_DIR": str(tmp_path)})
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "eagate.db").exists()
    again = run_eagate("migrate", env={"EAGATE_DATA_DIR": str(tmp_path)})
    assert again.returncode == 0
