"""Prometheus metrics, counted cheaply on the hot path and rendered at scrape time.

prometheus-client's own metric objects take a lock and resolve labels on every call, a
noticeable share of a signed poll. Here a request costs a few dict and list increments; a
custom collector turns them into standard Prometheus families when ``/metrics`` is scraped.
"""

from __future__ import annotations

import bisect
import uuid
from collections.abc import Awaitable, Callable, Iterable

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)

REQUEST_BUCKETS = (
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    30.0,
)
ACK_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0)


class _Histogram:
    __slots__ = ("bounds", "counts", "total")

    def __init__(self, bounds: tuple[float, ...]) -> None:
        self.bounds = bounds
        self.counts = [0] * (len(bounds) + 1)  # the last one is +Inf
        self.total = 0.0

    def observe(self, value: float) -> None:
        self.counts[bisect.bisect_left(self.bounds, value)] += 1
        self.total += value

    def buckets(self) -> list[tuple[str, float]]:
        cumulative = 0
        out: list[tuple[str, float]] = []
        for bound, count in zip((*self.bounds, float("inf")), self.counts, strict=True):
            cumulative += count
            out.append(("+Inf" if bound == float("inf") else repr(bound), cumulative))
        return out


def uuid7_seconds(value: uuid.UUID) -> float:
    """The creation time a UUIDv7 carries (its first 48 bits, in milliseconds)."""
    return (value.int >> 80) / 1000


class Metrics:
    def __init__(self) -> None:
        self._requests: dict[tuple[str, str, int], int] = {}
        self._durations: dict[tuple[str, str], _Histogram] = {}
        self._auth_failures: dict[str, int] = {}
        self._ack_latency = _Histogram(ACK_BUCKETS)
        self._acks: dict[str, int] = {}
        # Filled in by the app: gauges read at scrape time.
        self.long_polls: Callable[[], int] = lambda: 0
        self.deliveries_by_status: Callable[[], dict[str, int]] = dict
        # Run before each scrape, to refresh what is costly to count (set up by the runtime).
        self.before_scrape: list[Callable[[], Awaitable[None]]] = []
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(self)

    def request(self, method: str, route: str, status: int, seconds: float) -> None:
        key = (method, route, status)
        self._requests[key] = self._requests.get(key, 0) + 1
        histogram = self._durations.get((method, route))
        if histogram is None:
            if len(self._durations) >= 512:  # unmatched paths must not grow this forever
                route = "<other>"
            histogram = self._durations.setdefault((method, route), _Histogram(REQUEST_BUCKETS))
        histogram.observe(seconds)

    def auth_failure(self, code: str) -> None:
        self._auth_failures[code] = self._auth_failures.get(code, 0) + 1

    def ack(self, status: str, signal_id: uuid.UUID, recorded_at: float) -> None:
        self._acks[status] = self._acks.get(status, 0) + 1
        self._ack_latency.observe(max(0.0, recorded_at - uuid7_seconds(signal_id)))

    def collect(self) -> Iterable[Metric]:
        requests = CounterMetricFamily(
            "eagate_http_requests", "HTTP requests answered", labels=["method", "route", "status"]
        )
        for (method, route, code), count in list(self._requests.items()):
            requests.add_metric([method, route, str(code)], count)
        yield requests
        durations = HistogramMetricFamily(
            "eagate_http_request_duration_seconds",
            "Time to answer an HTTP request",
            labels=["method", "route"],
        )
        for (method, route), histogram in list(self._durations.items()):
            durations.add_metric([method, route], histogram.buckets(), histogram.total)
        yield durations
        failures = CounterMetricFamily(
            "eagate_device_auth_failures", "Refused device requests", labels=["code"]
        )
        for reason, count in list(self._auth_failures.items()):
            failures.add_metric([reason], count)
        yield failures
        yield GaugeMetricFamily(
            "eagate_long_polls_in_progress", "Device long-polls being held", value=self.long_polls()
        )
        deliveries = GaugeMetricFamily(
            "eagate_deliveries", "Deliveries by status", labels=["status"]
        )
        for status, count in sorted(self.deliveries_by_status().items()):
            deliveries.add_metric([status], count)
        yield deliveries
        acks = CounterMetricFamily("eagate_acks", "Acknowledgements recorded", labels=["status"])
        for status, count in list(self._acks.items()):
            acks.add_metric([status], count)
        yield acks
        latency = HistogramMetricFamily(
            "eagate_signal_ack_latency_seconds",
            "From a signal's creation to a device's acknowledgement",
        )
        latency.add_metric([], self._ack_latency.buckets(), self._ack_latency.total)
        yield latency

    async def scrape(self) -> bytes:
        """The exposition text, after refreshing what needs it."""
        for refresh in self.before_scrape:
            await refresh()
        return self.render()

    def render(self) -> bytes:
        return generate_latest(self.registry)
