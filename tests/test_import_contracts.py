"""The house's arrows (docs/ARCHITECTURE.md) are contracts that `lint-imports` checks in
`make test`. Here they are shown to bite: a copy of the source with one forbidden import added
fails them, naming the contract and the import."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def lint_imports(project: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(LINT_IMPORTS), "--config", str(project / "pyproject.toml"), "--no-cache"],
        cwd=project,
        env={**os.environ, "PYTHONPATH": str(project / "src")},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture
def project_copy(tmp_path: Path) -> Path:
    shutil.copytree(ROOT / "src", tmp_path / "src", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def add_import(module: Path, line: str) -> None:
    text = module.read_text()
    marker = "from __future__ import annotations\n"
    assert marker in text
    module.write_text(text.replace(marker, f"{marker}\n{line}  # noqa\n", 1))


def test_the_source_keeps_every_contract(project_copy: Path) -> None:
    result = lint_imports(project_copy)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "BROKEN" not in result.stdout


@pytest.mark.parametrize(
    ("module", "line", "contract"),
    [
        # A helper reaching up into a domain: an arrow pointing up.
        (
            "kit/clock.py",
            "import eagate.devices.service",
            "Layers: arrows point down only",
        ),
        # A domain importing the one above it (the cycle the hooks replaced).
        (
            "devices/service.py",
            "import eagate.signals.delivery",
            "Layers: arrows point down only",
        ),
        # A service that knows about HTTP.
        ("signals/service.py", "import fastapi", "Domain rules know nothing of HTTP"),
        # The operator CLI pulling in the web stack.
        ("cli/common.py", "import eagate.http.edge", "Operator commands start without the web"),
    ],
)
def test_a_forbidden_import_breaks_its_contract(
    project_copy: Path, module: str, line: str, contract: str
) -> None:
    add_import(project_copy / "src" / "eagate" / module, line)
    result = lint_imports(project_copy)
    assert result.returncode == 1, result.stdout + result.stderr
    broken = [row for row in result.stdout.splitlines() if " BROKEN" in row]
    assert any(row.startswith(contract) for row in broken), result.stdout
    imported = line.removeprefix("import ")
    assert imported.split(".")[0] in result.stdout  # the report names what was imported
