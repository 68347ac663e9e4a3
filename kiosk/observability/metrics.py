"""Prometheus metrics. Filled in by the hardening work; no-op safe now."""
from __future__ import annotations

from prometheus_client import Counter, Histogram

REQUEST_LATENCY = Histogram(
    "kiosk_request_duration_seconds", "HTTP request latency", ["method", "route", "status"],
)


def observe_request(method: str, route: str, status: int, duration_ms: float | None) -> None:
    if duration_ms is not None:
        REQUEST_LATENCY.labels(method, route, str(status)).observe(duration_ms / 1000)
