"""One JSON error shape for the whole app, registered once.

    {"error": {"code": "...", "message": "...", "details": {...}}}

`code` is stable English; `message` is translated for people. Error log
lines get the request's id, route, tenant, device and user from a logging
filter that observability installs on this module's logger.
"""
from __future__ import annotations

import logging
import time

import redis
from flask import Flask, Response, jsonify, request
from flask_babel import lazy_gettext as _l
from marshmallow import ValidationError
from sqlalchemy.exc import DBAPIError, OperationalError
from werkzeug.exceptions import HTTPException

from kiosk.extensions import db, limiter

log = logging.getLogger(__name__)

_HTTP_CODES = {
    400: ("bad_request", _l("The request could not be understood.")),
    401: ("unauthorized", _l("Authentication is required.")),
    403: ("forbidden", _l("You are not allowed to do this.")),
    404: ("not_found", _l("Not found.")),
    405: ("method_not_allowed", _l("This method is not allowed here.")),
    409: ("conflict", _l("The request conflicts with the current state.")),
    413: ("payload_too_large", _l("The request body is too large.")),
    415: ("unsupported_media_type", _l("The request body must be JSON.")),
    422: ("unprocessable", _l("The request could not be processed.")),
    429: ("rate_limited", _l("Too many requests; slow down.")),
    500: ("internal_error", _l("Something went wrong on our side.")),
    503: ("service_unavailable", _l("The service is temporarily unavailable; retry shortly.")),
}


class ApiError(Exception):
    """Raise from services or routes to answer with the contract's error shape."""

    def __init__(self, status: int, code: str, message=None, details: dict | None = None,
                 headers: dict | None = None):
        super().__init__(code)
        self.status = status
        self.code = code
        self.message = message
        self.details = details or {}
        self.headers = headers or {}


class NotFound(ApiError):
    def __init__(self, message=None):
        super().__init__(404, "not_found", message or _l("Not found."))


def error_response(status: int, code: str | None = None, message=None,
                   details: dict | None = None, headers: dict | None = None) -> Response:
    default_code, default_message = _HTTP_CODES.get(status, ("error", _l("Error.")))
    body = {"error": {
        "code": code or default_code,
        "message": str(message or default_message),
        "details": details or {},
    }}
    response = jsonify(body)
    response.status_code = status
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def _flatten(messages) -> dict:
    # marshmallow nests messages by field; keep them as-is, they are per field.
    return messages if isinstance(messages, dict) else {"_schema": messages}


def register_errorhandlers(app: Flask) -> None:
    @app.errorhandler(ApiError)
    def handle_api_error(exc: ApiError):
        return error_response(exc.status, exc.code, exc.message, exc.details, exc.headers)

    @app.errorhandler(ValidationError)
    def handle_validation_error(exc: ValidationError):
        return error_response(400, "validation_error", _l("Some fields are invalid."),
                              _flatten(exc.messages))

    @app.errorhandler(HTTPException)
    def handle_http_exception(exc: HTTPException):
        status = exc.code or 500
        headers = {}
        if status == 429:
            headers["Retry-After"] = _retry_after(exc)
        if status == 405 and exc.valid_methods:
            headers["Allow"] = ", ".join(exc.valid_methods)
        if status in (404, 405) and _wants_html():
            return exc
        return error_response(status, headers=headers)

    @app.errorhandler(OperationalError)
    @app.errorhandler(DBAPIError)
    def handle_database_down(exc):
        log.error("database unavailable", extra={"error": type(exc).__name__})
        _rollback_quietly()
        return error_response(503, "service_unavailable", headers={"Retry-After": "5"})

    @app.errorhandler(redis.exceptions.ConnectionError)
    @app.errorhandler(redis.exceptions.TimeoutError)
    def handle_redis_down(exc):
        log.error("redis unavailable", extra={"error": type(exc).__name__})
        return error_response(503, "service_unavailable", headers={"Retry-After": "5"})

    @app.teardown_appcontext
    def _remove_session_quietly(exc=None) -> None:
        # Runs before Flask-SQLAlchemy's own teardown (registered later). When
        # Postgres died mid-request, closing the session fails on the dead
        # connection; raised here it would escape Flask as a bare 500 after
        # the 503 was already built. Drop the session instead.
        try:
            db.session.remove()
        except Exception as error:  # noqa: BLE001
            log.warning("database session cleanup failed", extra={"error": type(error).__name__})
            db.session.registry.clear()

    @app.errorhandler(Exception)
    def handle_unexpected(exc: Exception):
        # Logged with its trace for us; the client only gets the shape.
        log.critical("unhandled error", extra={"error": type(exc).__name__}, exc_info=exc)
        _rollback_quietly()
        return error_response(500)


def _retry_after(exc: HTTPException) -> str:
    """Seconds until the breached flask-limiter window frees a slot."""
    try:
        current = limiter.current_limit
        if current is not None and current.reset_at:
            return str(max(1, int(current.reset_at - time.time()) + 1))
    except Exception:  # noqa: BLE001 - the header must be present whatever happens
        pass
    return "60"


def _wants_html() -> bool:
    path = request.path
    api_prefixes = ("/api/", "/iot/", "/auth/", "/stats/", "/health", "/openapi", "/metrics")
    if path.startswith(api_prefixes) or path.endswith(".json"):
        return False
    best = request.accept_mimetypes.best_match(["application/json", "text/html"])
    return best == "text/html" and request.accept_mimetypes[best] > request.accept_mimetypes["application/json"]


def _rollback_quietly() -> None:
    try:
        db.session.rollback()
    except Exception:  # noqa: BLE001 - the connection may already be gone
        pass
