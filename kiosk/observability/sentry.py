"""Sentry for Flask and Celery when SENTRY_DSN is set, with secrets scrubbed."""
from __future__ import annotations

from flask import Flask

from kiosk.observability.logging import REDACTED, scrub

_SENSITIVE_HEADERS = {"x-signature", "authorization", "cookie", "x-nonce"}


def before_send(event, hint):
    request = event.get("request") or {}
    headers = request.get("headers")
    if isinstance(headers, dict):
        request["headers"] = {k: (REDACTED if k.lower() in _SENSITIVE_HEADERS else v) for k, v in headers.items()}
    if "data" in request:
        request["data"] = scrub(request["data"])
    if "cookies" in request:
        request["cookies"] = REDACTED
    for key in ("extra", "contexts"):
        if key in event:
            event[key] = scrub(event[key])
    return event


def init_sentry(app: Flask) -> None:
    dsn = app.config.get("SENTRY_DSN")
    if not dsn:
        return
    import sentry_sdk
    from sentry_sdk.integrations.celery import CeleryIntegration
    from sentry_sdk.integrations.flask import FlaskIntegration

    sentry_sdk.init(
        dsn=dsn,
        integrations=[FlaskIntegration(), CeleryIntegration()],
        send_default_pii=False,
        before_send=before_send,
        release=app.config.get("RELEASE"),
        environment=app.config.get("KIOSK_ENV"),
        traces_sample_rate=0.0,
    )
