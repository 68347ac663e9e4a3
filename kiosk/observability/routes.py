"""Liveness, readiness and the Prometheus scrape."""
from __future__ import annotations

import hmac
import ipaddress
import time

import sqlalchemy as sa
from flask import Blueprint, Response, current_app, jsonify, request
from prometheus_client import CONTENT_TYPE_LATEST

from kiosk.errors import NotFound
from kiosk.observability.metrics import render
from kiosk.observability.openapi import document, json_object, openapi_document
from kiosk.observability.schemas import HealthSchema, ReadinessSchema

from kiosk.extensions import db, redis_client, talisman

bp = Blueprint("observability", __name__)

health_schema = HealthSchema()
readiness_schema = ReadinessSchema()


@bp.get("/health")
@document(responses={200: health_schema}, summary="Liveness (no I/O)")
# Probes speak plain HTTP inside the cluster: never redirected to HTTPS.
@talisman(force_https=False)
def health() -> dict:
    return health_schema.dump({"status": "ok"})


def _timed(check) -> dict:
    started = time.perf_counter()
    try:
        check()
        ok, error = True, None
    except Exception as exc:  # noqa: BLE001 - any failure means not ready
        ok, error = False, type(exc).__name__
    result = {"ok": ok, "ms": round((time.perf_counter() - started) * 1000, 2)}
    if error:
        result["error"] = error
    return result


def _check_broker() -> None:
    if current_app.config["CELERY"].get("task_always_eager"):
        return
    celery = current_app.extensions["celery"]
    with celery.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1, timeout=1)


@bp.get("/health/ready")
@document(responses={200: readiness_schema, 503: readiness_schema},
          summary="Readiness: database, Redis and broker, with timings (503 with Retry-After when one is down)")
@talisman(force_https=False)
def ready() -> Response:
    checks = {
        "database": _timed(lambda: db.session.execute(sa.text("SELECT 1"))),
        "redis": _timed(lambda: redis_client.ping()),
        "broker": _timed(_check_broker),
    }
    db.session.rollback()
    healthy = all(c["ok"] for c in checks.values())
    response = jsonify(readiness_schema.dump({"status": "ok" if healthy else "unavailable", "checks": checks}))
    response.status_code = 200 if healthy else 503
    if not healthy:
        response.headers["Retry-After"] = "5"
    return response


def _metrics_allowed() -> bool:
    """A bearer METRICS_TOKEN, or a client address inside METRICS_ALLOWED_NETWORKS."""
    token = current_app.config.get("METRICS_TOKEN") or ""
    given = request.headers.get("Authorization", "")
    if token and given.startswith("Bearer ") and hmac.compare_digest(given[7:].encode(), token.encode()):
        return True
    networks = [n.strip() for n in (current_app.config.get("METRICS_ALLOWED_NETWORKS") or "").split(",") if n.strip()]
    try:
        address = ipaddress.ip_address(request.remote_addr or "")
    except ValueError:
        return False
    return any(address in ipaddress.ip_network(n, strict=False) for n in networks)


@bp.get("/metrics")
@talisman(force_https=False)
def metrics() -> Response:
    # Refused scrapes look like any unknown path: the public learns nothing.
    if not _metrics_allowed():
        raise NotFound()
    return Response(render(current_app), mimetype=CONTENT_TYPE_LATEST)


@bp.get("/openapi.json")
@document(responses={200: json_object("This OpenAPI 3 document")}, summary="The OpenAPI 3 document of the JSON API")
def openapi() -> Response:
    return jsonify(openapi_document(current_app))
