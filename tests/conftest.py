"""Registers the fixtures every test can use; they live in tests/fixtures/."""

pytest_plugins = ["tests.fixtures.databases", "tests.fixtures.app"]
