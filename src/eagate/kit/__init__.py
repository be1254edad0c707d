"""Framework-free helpers: no FastAPI or Starlette, nothing else of eagate but its settings."""
