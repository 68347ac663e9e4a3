"""Device payment routes (signed, scheme v1; see kiosk/devices/guard.py).

  POST /iot/payments               {"transaction_id", "amount", "currency"?} -> 202 new | 200 retry | 422
  GET  /iot/payments/<id>          the owning device only; else 404
  POST /iot/tickets                {"request_id"} -> 201 first | 200 after (same ticket)
"""
from __future__ import annotations

from flask import Blueprint, g

from kiosk.devices.guard import verify_device_signature
from kiosk.queues.services import issue_free_ticket
from kiosk.observability.openapi import document
from kiosk.observability.request_log import current_request_id
from kiosk.payments import ingest
from kiosk.payments.schemas import (FreeTicketCreateSchema, FreeTicketSchema, PaymentAcceptedSchema,
                                    PaymentCreateSchema, PaymentStatusSchema)
from kiosk.web import json_body

# Payment routes live under /iot and share the device signature guard.
bp = Blueprint("payments", __name__, url_prefix="/iot")

# Schemas hold no per-request state: build them once (the ingest is the hot path).
payment_create_schema = PaymentCreateSchema()
payment_accepted_schema = PaymentAcceptedSchema()
payment_status_schema = PaymentStatusSchema()
free_ticket_create_schema = FreeTicketCreateSchema()
free_ticket_schema = FreeTicketSchema()


@bp.post("/payments")
@document(body=payment_create_schema,
          responses={202: payment_accepted_schema, 200: payment_status_schema},
          summary="Report a payment: 202 when new, 200 with its status on a retry")
@verify_device_signature
def create_payment() -> tuple[dict, int]:
    data = payment_create_schema.load(json_body())
    result = ingest.ingest_payment(g.device, data["transaction_id"], data["amount"], data.get("currency"),
                                     request_id=current_request_id())
    if result.created:
        return payment_accepted_schema.dump(result.body), 202
    return payment_status_schema.dump(result.body), 200


@bp.get("/payments/<transaction_id>")
@document(responses={200: payment_status_schema})
@verify_device_signature
def payment_status(transaction_id: str) -> dict:
    transaction = ingest.get_payment(g.device, transaction_id)
    return payment_status_schema.dump(ingest.describe_payment(transaction))


@bp.post("/tickets")
@document(body=free_ticket_create_schema, responses={201: free_ticket_schema, 200: free_ticket_schema},
          summary="A free STANDARD ticket: 201 the first time, 200 with the same ticket on a retry")
@verify_device_signature
def create_free_ticket() -> tuple[dict, int]:
    data = free_ticket_create_schema.load(json_body())
    ticket, created = issue_free_ticket(g.device.queue_id, g.device.device_id, data["request_id"])
    body = {**ingest.device_ticket(ticket), "request_id": str(data["request_id"])}
    return free_ticket_schema.dump(body), 201 if created else 200
