"""Everything under tests/system/ is a system test: real server processes, or other programs,
end to end. Each one is marked `system` here (`-m system` selects them, `-m "not system"`
leaves them out); `make test` runs them all."""

from pathlib import Path

import pytest

SYSTEM = Path(__file__).parent


@pytest.hookimpl(tryfirst=True)  # before -m selects by markers
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.path.is_relative_to(SYSTEM):
            item.add_marker(pytest.mark.system)
