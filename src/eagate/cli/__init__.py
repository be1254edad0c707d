"""The `eagate` command line."""

from eagate.cli.main import app, main

__all__ = ["app", "main"]
