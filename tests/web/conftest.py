"""The dashboard tests share one real server per module."""

from tests.fixtures.web import server

__all__ = ["server"]
