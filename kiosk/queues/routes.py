"""Queues and tickets: the staff API and the public ticket page.

Staff (JWT, tenant-filtered; other-tenant ids are 404 before any body check):
  GET  /api/queues                      list             POST /api/queues (manager) -> 201
  GET  /api/queues/<id>                 queue + waiting list in calling order (cached)
  PATCH /api/queues/<id>                manager: name, prefix, active
  POST /api/queues/<id>/tickets         {"kind": "STANDARD"} -> 201 ticket
  POST /api/queues/<id>/call-next       {"counter"} -> 200 ticket | 204
  POST /api/queues/<id>/close-day       manager: WAITING/CALLED tickets -> EXPIRED now -> 200 {"expired": n}
  GET  /api/tickets/<id>;  POST /api/tickets/<id>/recall|serve|no-show|cancel -> 200 | 409
Public (the token is the secret):
  /t/<token>, /t/<token>.json, /t/<token>/qr.svg, /t/<token>/theme.css
"""
from __future__ import annotations

import io

import segno
from flask import Blueprint, Response, current_app, g, render_template, request
from flask_limiter.util import get_remote_address

from kiosk.auth.access import manager_required, staff_required
from kiosk.errors import NotFound
from kiosk.extensions import limiter
from kiosk.establishments import theme as theme_rules
from kiosk.observability.openapi import document, json_object
from kiosk.queues import closing, services, tracking
from kiosk.queues.presentation import describe_queue, describe_ticket
from kiosk.queues.schemas import (CallNextSchema, CloseDaySchema, QueueCreateSchema, QueueDetailSchema, QueueListSchema,
                                  QueueSchema, QueueUpdateSchema, TicketCreateSchema, TicketSchema)
from kiosk.security import auth_failure
from kiosk.web import json_body, optional_json_body

bp = Blueprint("queues", __name__)
public_bp = Blueprint("tracking", __name__)
blueprints = [bp, public_bp]

staff = staff_required()

queue_create_schema = QueueCreateSchema()
queue_update_schema = QueueUpdateSchema()
queue_schema = QueueSchema()
queue_list_schema = QueueListSchema()
queue_detail_schema = QueueDetailSchema()
ticket_create_schema = TicketCreateSchema()
call_next_schema = CallNextSchema()
ticket_schema = TicketSchema()
close_day_schema = CloseDaySchema()


# --- queues ------------------------------------------------------------------------------

@bp.get("/api/queues")
@document(responses={200: queue_list_schema})
@staff
def list_queues() -> dict:
    return queue_list_schema.dump({"queues": [describe_queue(q) for q in services.list_queues()]})


@bp.post("/api/queues")
@document(body=queue_create_schema, responses={201: queue_schema})
@manager_required
def create_queue() -> tuple[dict, int]:
    data = queue_create_schema.load(json_body())
    queue = services.create_queue(data["name"], data["prefix"])
    return queue_schema.dump(describe_queue(queue)), 201


@bp.get("/api/queues/<queue_id>")
@document(responses={200: queue_detail_schema}, summary="A queue with its waiting list in calling order")
@staff
def get_queue(queue_id: str) -> dict:
    queue = services.get_queue(queue_id)
    return queue_detail_schema.dump(describe_queue(queue, with_waiting=True))


@bp.patch("/api/queues/<queue_id>")
@document(body=queue_update_schema, responses={200: queue_schema})
@manager_required
def update_queue(queue_id: str) -> dict:
    services.get_queue(queue_id)
    changes = queue_update_schema.load(json_body())
    return queue_schema.dump(describe_queue(services.update_queue(queue_id, changes)))


@bp.post("/api/queues/<queue_id>/tickets")
@document(body=ticket_create_schema, body_required=False, responses={201: ticket_schema},
          summary="Issue a STANDARD ticket (the body may be omitted)")
@staff
def issue_ticket(queue_id: str) -> tuple[dict, int]:
    queue = services.get_queue(queue_id)
    data = ticket_create_schema.load(optional_json_body())
    ticket = services.issue_ticket(queue, data["kind"])
    return ticket_schema.dump(describe_ticket(ticket)), 201


@bp.post("/api/queues/<queue_id>/call-next")
@document(body=call_next_schema, responses={200: ticket_schema, 204: "Nobody is waiting"},
          summary="Call the next ticket to a counter")
@staff
def call_next(queue_id: str) -> Response | dict:
    queue = services.get_queue(queue_id)
    data = call_next_schema.load(json_body())
    ticket = services.call_next(queue, data["counter"])
    if ticket is None:
        return Response(status=204)
    return ticket_schema.dump(describe_ticket(ticket))


@bp.post("/api/queues/<queue_id>/close-day")
@document(responses={200: close_day_schema}, summary="End the service day of one queue now: open tickets expire")
@manager_required
def close_day(queue_id: str) -> dict:
    return close_day_schema.dump({"expired": closing.close_day(queue_id, actor_id=g.user_id)})


# --- tickets -----------------------------------------------------------------------------

@bp.get("/api/tickets/<ticket_id>")
@document(responses={200: ticket_schema})
@staff
def get_ticket(ticket_id: str) -> dict:
    return ticket_schema.dump(describe_ticket(services.get_ticket(ticket_id)))


def _transition(ticket_id: str, action: str) -> dict:
    return ticket_schema.dump(describe_ticket(services.transition(ticket_id, action)))


@bp.post("/api/tickets/<ticket_id>/recall")
@document(responses={200: ticket_schema})
@staff
def recall(ticket_id: str) -> dict:
    return _transition(ticket_id, "recall")


@bp.post("/api/tickets/<ticket_id>/serve")
@document(responses={200: ticket_schema})
@staff
def serve(ticket_id: str) -> dict:
    return _transition(ticket_id, "serve")


@bp.post("/api/tickets/<ticket_id>/no-show")
@document(responses={200: ticket_schema})
@staff
def no_show(ticket_id: str) -> dict:
    return _transition(ticket_id, "no-show")


@bp.post("/api/tickets/<ticket_id>/cancel")
@document(responses={200: ticket_schema})
@staff
def cancel(ticket_id: str) -> dict:
    return _transition(ticket_id, "cancel")


# --- public ticket page -------------------------------------------------------------------

def _enter_tenant_for(state: dict) -> None:
    # Lets Babel pick the establishment's language and time zone for the page.
    g.establishment_locale = state["establishment"]["locale"]
    g.establishment_timezone = state["establishment"]["timezone"]


def _tracking_state(token: str) -> dict:
    """The ticket's public state; an unknown token counts as a failed authentication (per IP)."""
    try:
        return tracking.public_state(token)
    except NotFound as exc:
        raise auth_failure(exc) from None


def _tracking_limit(name: str, default: str):
    return lambda: current_app.config.get(name, default)


@public_bp.get("/t/<token>.json")
@document(responses={200: json_object("Everything the ticket page shows (ETag; 304 when unchanged)"),
                     304: "Not modified (If-None-Match)"},
          summary="A ticket's public state (the token is the secret)")
# Phones on an establishment's Wi-Fi share one public IP and poll about 80 times
# a minute each: the per-IP default would throttle a full waiting room. Limit
# per token instead, with a per-IP ceiling far above a waiting room.
@limiter.limit(_tracking_limit("TRACKING_TOKEN_LIMIT", "300/minute"),
               key_func=lambda: "track:" + (request.view_args or {}).get("token", ""))
@limiter.limit(_tracking_limit("TRACKING_IP_LIMIT", "30000/minute"), key_func=get_remote_address)
def ticket_json(token: str) -> Response:
    try:
        body, etag = tracking.public_state_json(token)
    except NotFound as exc:
        raise auth_failure(exc) from None
    response = Response(body, mimetype="application/json")
    response.set_etag(etag)
    # Phones poll every second: a 304 costs no body, and no proxy keeps a stale copy.
    response.headers["Cache-Control"] = "no-cache"
    return response.make_conditional(request)


@public_bp.get("/t/<token>")
def ticket_page(token: str) -> str:
    state = _tracking_state(token)
    _enter_tenant_for(state)
    return render_template("queues/ticket.html", state=state, token=token)


@public_bp.get("/t/<token>/qr.svg")
def ticket_qr(token: str) -> Response:
    state = _tracking_state(token)
    buffer = io.BytesIO()
    segno.make(state["ticket"]["tracking_url"], error="m").save(
        buffer, kind="svg", scale=6, border=4, xmldecl=False, svgclass=None, lineclass=None)
    response = Response(buffer.getvalue(), mimetype="image/svg+xml")
    response.headers["Cache-Control"] = "private, max-age=86400"
    return response


@public_bp.get("/t/<token>/theme.css")
def ticket_theme(token: str) -> Response:
    state = _tracking_state(token)
    response = Response(theme_rules.stylesheet(state["theme"]), mimetype="text/css")
    # The page links it with ?v=<theme version>, so it may be cached for long.
    response.headers["Cache-Control"] = "public, max-age=3600"
    return response
