"""What instances share: replay cache, throttling counters, wake-ups and credential freshness,
in memory or in Redis. Imports only kit; domain objects reach it as callbacks."""
