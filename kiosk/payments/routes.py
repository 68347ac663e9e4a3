"""Device payment routes (signed, scheme v1; see kiosk/devices/guard.py).

  POST /iot/payments               {"transaction_id", "amount", "currency"?} -> 202 new | 200 retry | 422
  GET  /iot/payments/<id>          the owning device only; else 404
  POST /iot/tickets                {"request_id"} -> 201 first | 200 after (same ticket)

Refunds (manager JWT; a refund is about a paid ticket, so it lives with payments):

  GET  /api/refunds?status=due|refunded      -> 200 {"status", "refunds": [...]}
  POST /api/tickets/<id>/refund              -> 200 | 404 | 409 already_refunded | 409 not_refundable
"""
from __future__ import annotations

from flask import Blueprint, g, request

from kiosk.auth.access import manager_required
from kiosk.devices.guard import verify_device_signature
from kiosk.observability import current_request_id
from kiosk.observability.openapi import document
from kiosk.payments import refunds, services
from kiosk.payments.schemas import (FreeTicketCreateSchema, FreeTicketSchema, PaymentAcceptedSchema,
                                    PaymentCreateSchema, PaymentStatusSchema, RefundListQuerySchema,
                                    RefundListSchema, RefundSchema)
from kiosk.web import json_body

# Payment routes live under /iot and share the device signature guard.
bp = Blueprint("payments", __name__, url_prefix="/iot")
refunds_bp = Blueprint("refunds", __name__, url_prefix="/api")
blueprints = [bp, refunds_bp]

# Schemas hold no per-request state: build them once (the ingest is the hot path).
payment_create = PaymentCreateSchema()
payment_accepted = PaymentAcceptedSchema()
payment_status_schema = PaymentStatusSchema()


@bp.post("/payments")
@verify_device_signature
def create_payment() -> tuple[dict, int]:
    data = payment_create.load(json_body())
    result = services.ingest_payment(g.device, data["transaction_id"], data["amount"], data.get("currency"),
                                     request_id=current_request_id())
    if result.created:
        return payment_accepted.dump(result.body), 202
    return payment_status_schema.dump(result.body), 200


@bp.get("/payments/<transaction_id>")
@verify_device_signature
def payment_status(transaction_id: str) -> dict:
    transaction = services.get_payment(g.device, transaction_id)
    return payment_status_schema.dump(services.describe_payment(transaction))


@bp.post("/tickets")
@verify_device_signature
def create_free_ticket() -> tuple[dict, int]:
    data = FreeTicketCreateSchema().load(json_body())
    ticket, created = services.issue_free_ticket(g.device, data["request_id"])
    body = {**services.device_ticket(ticket), "request_id": str(data["request_id"])}
    return FreeTicketSchema().dump(body), 201 if created else 200


@refunds_bp.get("/refunds")
@document(responses={200: RefundListSchema}, summary="Paid tickets that ended unserved: due or refunded")
@manager_required
def list_refunds() -> dict:
    query = RefundListQuerySchema().load(request.args)
    return RefundListSchema().dump({"status": query["status"],
                                    "refunds": refunds.list_refunds(query["status"], query["limit"])})


@refunds_bp.post("/tickets/<ticket_id>/refund")
@document(responses={200: RefundSchema, 409: "already_refunded | not_refundable"},
          summary="Record that a paid, unserved ticket's money was handed back")
@manager_required
def refund_ticket(ticket_id: str) -> dict:
    return RefundSchema().dump(refunds.refund_ticket(ticket_id, g.user_id))
