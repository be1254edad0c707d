"""The EA's inputs, as the source declares them, are the ones its documents name."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SOURCE = ROOT / "ea" / "MQL5" / "Experts" / "EagateEA.mq5"


def declared_inputs() -> list[str]:
    names = re.findall(r"^input\s+\w+\s+(Inp\w+)\s*=", SOURCE.read_text(), flags=re.M)
    assert names, "no inputs found in EagateEA.mq5"
    return names


def test_the_trader_guide_documents_every_input() -> None:
    guide = (ROOT / "docs" / "EA.md").read_text()
    table = {row.split("`")[1] for row in guide.splitlines() if row.startswith("| `Inp")}
    assert table == set(declared_inputs())


def test_the_dashboard_set_up_page_names_every_input() -> None:
    page = (ROOT / "src" / "eagate" / "web" / "templates" / "secret.html").read_text()
    assert set(re.findall(r"<code>(Inp\w+)</code>", page)) == set(declared_inputs())
    assert "docs/EA.md" in page
