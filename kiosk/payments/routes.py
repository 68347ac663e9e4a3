"""Device payment routes (signed, scheme v1; see kiosk/devices/guard.py).

  POST /iot/payments               {"transaction_id", "amount", "currency"?} -> 202 new | 200 retry | 422
  GET  /iot/payments/<id>          the owning device only; else 404
  POST /iot/tickets                {"request_id"} -> 201 first | 200 after (same ticket)

Refunds (manager JWT; a refund is about a paid ticket, so it lives with payments):

  GET  /api/refunds?status=due|refunded      -> 200 {"status", "refunds": [...]}
  POST /api/tickets/<id>/refund              -> 200 | 404 | 409 already_refunded | 409 not_refundable
Cash boxes (manager JWT; the rules are in ``kiosk/payments/cash.py``):

  GET  /api/devices/<device_id>/cash            what the coin box should hold since its last collection
  POST /api/devices/<device_id>/collections     {"counted", "last_collection_id"?} -> 201 | 409 collection_conflict
  GET  /api/devices/<device_id>/collections     newest first (?limit=1..1000, default 100)
  GET  /api/settings/cash, PUT|PATCH            {"difference_threshold"}: differences beyond it are highlighted
"""
from __future__ import annotations

import uuid

from flask import Blueprint, Response, current_app, g, request

from kiosk.auth.access import manager_required
from kiosk.devices.guard import verify_device_signature
from kiosk.observability.openapi import document
from kiosk.observability.request_log import current_request_id
from kiosk.payments import cash, ingest, polls, refunds
from kiosk.payments.schemas import (CashBoxSchema, CashSettingsSchema, CollectionCreateSchema, CollectionListSchema,
                                    CollectionSchema, CollectionsQuerySchema, FreeTicketCreateSchema, FreeTicketSchema,
                                    PaymentAcceptedSchema, PaymentCreateSchema, PaymentStatusSchema,
                                    RefundListQuerySchema, RefundListSchema, RefundSchema)
from kiosk.queues.services import issue_free_ticket
from kiosk.web import json_body

# Payment routes live under /iot and share the device signature guard.
bp = Blueprint("payments", __name__, url_prefix="/iot")
# The cash boxes keep the contract's /api/devices/... paths; they read payments, so they live here.
cash_bp = Blueprint("cash", __name__, url_prefix="/api")
refunds_bp = Blueprint("refunds", __name__, url_prefix="/api")

blueprints = [bp, cash_bp, refunds_bp]

# Schemas hold no per-request state: build them once (the ingest is the hot path).
payment_create_schema = PaymentCreateSchema()
payment_accepted_schema = PaymentAcceptedSchema()
payment_status_schema = PaymentStatusSchema()
free_ticket_create_schema = FreeTicketCreateSchema()
free_ticket_schema = FreeTicketSchema()
refund_list_query_schema = RefundListQuerySchema()
refund_list_schema = RefundListSchema()
refund_schema = RefundSchema()


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
def payment_status(transaction_id: str) -> Response:
    device = g.device

    def load():
        transaction = ingest.get_payment(device, transaction_id)
        # The bytes Flask would send for the dict: a snapshot hit sends the same.
        body = current_app.json.response(payment_status_schema.dump(ingest.describe_payment(transaction)))
        return transaction, body.get_data()

    # Kiosks poll this about once a second: answered from a snapshot while nothing changed (polls.py).
    return Response(polls.status_json(device, transaction_id, load), mimetype=current_app.json.mimetype)


@bp.post("/tickets")
@document(body=free_ticket_create_schema, responses={201: free_ticket_schema, 200: free_ticket_schema},
          summary="A free STANDARD ticket: 201 the first time, 200 with the same ticket on a retry")
@verify_device_signature
def create_free_ticket() -> tuple[dict, int]:
    data = free_ticket_create_schema.load(json_body())
    ticket, created = issue_free_ticket(g.device.queue_id, g.device.device_id, data["request_id"])
    body = {**ingest.device_ticket(ticket), "request_id": str(data["request_id"])}
    return free_ticket_schema.dump(body), 201 if created else 200


@refunds_bp.get("/refunds")
@document(query=refund_list_query_schema, responses={200: refund_list_schema},
          summary="Paid tickets that ended unserved: due, or already refunded")
@manager_required
def list_refunds() -> dict:
    query = refund_list_query_schema.load(request.args)
    return refund_list_schema.dump({"status": query["status"],
                                    "refunds": refunds.list_refunds(query["status"], query["limit"])})


@refunds_bp.post("/tickets/<ticket_id>/refund")
@document(responses={200: refund_schema, 409: "already_refunded | not_refundable"},
          summary="Record that a paid, unserved ticket's money was handed back")
@manager_required
def refund_ticket(ticket_id: str) -> dict:
    return refund_schema.dump(refunds.refund_ticket(ticket_id, g.user_id))
# --- cash boxes --------------------------------------------------------------------------------

cash_box_schema = CashBoxSchema()
collection_create_schema = CollectionCreateSchema()
collection_schema = CollectionSchema()
collection_list_schema = CollectionListSchema()
collections_query_schema = CollectionsQuerySchema()
cash_settings_schema = CashSettingsSchema()


@cash_bp.get("/devices/<device_id>/cash")
@document(responses={200: cash_box_schema},
          summary="What the kiosk's coin box should hold since its last collection")
@manager_required
def cash_box(device_id: str) -> dict:
    return cash_box_schema.dump(cash.cash_box(device_id))


@cash_bp.post("/devices/<device_id>/collections")
@document(body=collection_create_schema, responses={201: collection_schema},
          summary="Record a collection of the box: counted, expected, difference; 409 collection_conflict")
@manager_required
def create_collection(device_id: str) -> tuple[dict, int]:
    cash.box_device(device_id)  # another establishment's kiosk is a 404 whatever the body
    data = collection_create_schema.load(json_body())
    collection = cash.collect(device_id, data["counted"],
                              last_collection_id=data.get("last_collection_id", cash.NOT_GIVEN),
                              user_id=uuid.UUID(g.user_id))
    return collection_schema.dump(cash.describe_collections([collection])[0]), 201


@cash_bp.get("/devices/<device_id>/collections")
@document(query=collections_query_schema, responses={200: collection_list_schema},
          summary="The kiosk's collections, newest first")
@manager_required
def list_collections(device_id: str) -> dict:
    query = collections_query_schema.load(request.args)
    rows = cash.collections(device_id, query["limit"])
    return collection_list_schema.dump({"device_id": device_id, "collections": cash.describe_collections(rows)})


@cash_bp.get("/settings/cash")
@document(responses={200: cash_settings_schema})
@manager_required
def get_cash_settings() -> dict:
    return cash_settings_schema.dump(cash.cash_settings())


@cash_bp.route("/settings/cash", methods=["PUT", "PATCH"])
@document(body=cash_settings_schema, responses={200: cash_settings_schema},
          summary="The difference beyond which a collection is highlighted")
@manager_required
def update_cash_settings() -> dict:
    data = cash_settings_schema.load(json_body())
    return cash_settings_schema.dump(cash.update_cash_settings(data["difference_threshold"]))
