"""Sentry for Flask and Celery when SENTRY_DSN is set, with secrets scrubbed.

Three layers, so one forgotten field cannot leak a secret:
- ``send_default_pii=False`` and no local variables in stack frames (a list
  of candidate device secrets has an innocent name);
- Sentry's own EventScrubber with our key list, recursively;
- ``before_send`` / ``before_breadcrumb``: sensitive headers and cookies
  replaced, bodies and every text (exception messages, log messages, URLs)
  passed through the same scrubber as the logs, which also cuts capability
  tokens in URLs (/t/<token>, /display/<token>, /ws/display/<token>) to
  their first four characters.
"""
from __future__ import annotations

from flask import Flask

from kiosk.observability.logging import REDACTED, scrub, scrub_text

SENSITIVE_HEADERS = {"x-signature", "authorization", "cookie", "set-cookie", "x-nonce", "x-csrf-token",
                     "proxy-authorization"}
SENSITIVE_KEYS = ["secret_key", "secret", "password", "token", "access_token", "signature", "x_signature",
                  "authorization", "cookie", "cookies", "claim_code", "csrf_token", "api_key", "session",
                  "device_secret_keys", "jwt_secret_key", "sentry_dsn", "metrics_token"]


def _text(value):
    return scrub_text(value) if isinstance(value, str) else scrub(value)


def _scrub_request(request: dict) -> None:
    headers = request.get("headers")
    if isinstance(headers, dict):
        request["headers"] = {k: (REDACTED if k.lower() in SENSITIVE_HEADERS else _text(v))
                              for k, v in headers.items()}
    if "cookies" in request:
        request["cookies"] = REDACTED
    if "data" in request:
        request["data"] = scrub(request["data"]) if not isinstance(request["data"], str) else _text(
            request["data"])
    for key in ("url", "query_string"):
        if isinstance(request.get(key), str):
            request[key] = _text(request[key])


def _scrub_exceptions(event: dict) -> None:
    for exception in (event.get("exception") or {}).get("values") or []:
        if isinstance(exception.get("value"), str):
            exception["value"] = _text(exception["value"])
        for frame in (exception.get("stacktrace") or {}).get("frames") or []:
            frame.pop("vars", None)
            for key in ("context_line", "pre_context", "post_context"):
                if key in frame:
                    frame[key] = _text(frame[key])


def before_send(event, hint):
    if isinstance(event.get("request"), dict):
        _scrub_request(event["request"])
    _scrub_exceptions(event)
    for key in ("extra", "contexts", "tags", "user"):
        if key in event:
            event[key] = scrub(event[key])
    logentry = event.get("logentry") or event.get("message")
    if isinstance(logentry, dict):
        for key in ("message", "formatted"):
            if isinstance(logentry.get(key), str):
                logentry[key] = _text(logentry[key])
        if "params" in logentry:
            logentry["params"] = [_text(p) if isinstance(p, str) else scrub(p) for p in logentry["params"]]
    elif isinstance(logentry, str):
        event["message"] = _text(logentry)
    if isinstance(event.get("transaction"), str):
        event["transaction"] = _text(event["transaction"])
    breadcrumbs = event.get("breadcrumbs")
    values = breadcrumbs.get("values") if isinstance(breadcrumbs, dict) else breadcrumbs
    for crumb in values or []:
        before_breadcrumb(crumb, None)
    return event


def before_breadcrumb(crumb, hint):
    if isinstance(crumb.get("message"), str):
        crumb["message"] = _text(crumb["message"])
    if "data" in crumb:
        crumb["data"] = scrub(crumb["data"])
    return crumb


def init_sentry(app: Flask) -> None:
    dsn = app.config.get("SENTRY_DSN")
    if not dsn:
        return
    import sentry_sdk
    from sentry_sdk.integrations.celery import CeleryIntegration
    from sentry_sdk.integrations.flask import FlaskIntegration
    from sentry_sdk.scrubber import DEFAULT_DENYLIST, EventScrubber

    sentry_sdk.init(
        dsn=dsn,
        integrations=[FlaskIntegration(), CeleryIntegration()],
        send_default_pii=False,
        include_local_variables=False,
        event_scrubber=EventScrubber(denylist=sorted(set(DEFAULT_DENYLIST) | set(SENSITIVE_KEYS)),
                                     recursive=True),
        before_send=before_send,
        before_breadcrumb=before_breadcrumb,
        release=app.config.get("RELEASE"),
        environment=app.config.get("KIOSK_ENV"),
        traces_sample_rate=float(app.config.get("SENTRY_TRACES_SAMPLE_RATE") or 0.0),
    )
