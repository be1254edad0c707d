"""Where the public API lives (SPEC 1) and where its device part starts (SPEC 4)."""

API_PREFIX = "/api/v1"
DEVICE_API_PREFIX = f"{API_PREFIX}/device/"
