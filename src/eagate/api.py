"""The public API's base path (SPEC 1)."""

API_PREFIX = "/api/v1"
