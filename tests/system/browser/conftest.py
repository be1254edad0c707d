"""The browser test shares one real server per module, and a headless Chromium."""

from tests.fixtures.web import browser, screenshots, server

__all__ = ["browser", "screenshots", "server"]
