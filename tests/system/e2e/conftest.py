"""The end-to-end tests share one real server per database backend."""

from tests.fixtures.servers import backend, server

__all__ = ["backend", "server"]
