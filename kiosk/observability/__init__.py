"""Logs, request ids, metrics, Sentry, health and the OpenAPI document.

Part of the core: it knows no domain. Domains feed it (metrics gauges,
event subscribers) from ``create_app``. This file stays empty on purpose:
gunicorn's master imports ``observability.logging`` before any worker
exists, and must not pull in the metrics registry with it.
"""
