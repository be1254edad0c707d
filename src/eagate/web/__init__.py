"""The owner dashboard: server-rendered pages under /ui."""
