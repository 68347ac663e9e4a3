"""Device payment routes (signed, scheme v1; see kiosk/devices/guard.py).

  POST /iot/payments               {"transaction_id", "amount", "currency"?} -> 202 new | 200 retry | 422
  GET  /iot/payments/<id>          the owning device only; else 404
  POST /iot/tickets                {"request_id"} -> 201 first | 200 after (same ticket)

Cash boxes (manager JWT; the rules are in ``kiosk/payments/cash.py``):

  GET  /api/devices/<device_id>/cash            what the coin box should hold since its last collection
  POST /api/devices/<device_id>/collections     {"counted", "last_collection_id"?} -> 201 | 409 collection_conflict
  GET  /api/devices/<device_id>/collections     newest first (?limit=1..1000, default 100)
  GET  /api/settings/cash, PUT|PATCH            {"difference_threshold"}: differences beyond it are highlighted
"""
from __future__ import annotations

import uuid

from flask import Blueprint, g, request

from kiosk.auth.access import manager_required
from kiosk.devices.guard import verify_device_signature
from kiosk.observability.request_log import current_request_id
from kiosk.payments import cash, ingest
from kiosk.payments.schemas import (CashBoxSchema, CashSettingsSchema, CollectionCreateSchema, CollectionListSchema,
                                    CollectionSchema, CollectionsQuerySchema, FreeTicketCreateSchema, FreeTicketSchema,
                                    PaymentAcceptedSchema, PaymentCreateSchema, PaymentStatusSchema)
from kiosk.queues.services import issue_free_ticket
from kiosk.web import json_body

# Payment routes live under /iot and share the device signature guard.
bp = Blueprint("payments", __name__, url_prefix="/iot")
# The cash boxes keep the contract's /api/devices/... paths; they read payments, so they live here.
cash_bp = Blueprint("cash", __name__, url_prefix="/api")

blueprints = [bp, cash_bp]

# Schemas hold no per-request state: build them once (the ingest is the hot path).
payment_create = PaymentCreateSchema()
payment_accepted = PaymentAcceptedSchema()
payment_status_schema = PaymentStatusSchema()


@bp.post("/payments")
@verify_device_signature
def create_payment() -> tuple[dict, int]:
    data = payment_create.load(json_body())
    result = ingest.ingest_payment(g.device, data["transaction_id"], data["amount"], data.get("currency"),
                                     request_id=current_request_id())
    if result.created:
        return payment_accepted.dump(result.body), 202
    return payment_status_schema.dump(result.body), 200


@bp.get("/payments/<transaction_id>")
@verify_device_signature
def payment_status(transaction_id: str) -> dict:
    transaction = ingest.get_payment(g.device, transaction_id)
    return payment_status_schema.dump(ingest.describe_payment(transaction))


@bp.post("/tickets")
@verify_device_signature
def create_free_ticket() -> tuple[dict, int]:
    data = FreeTicketCreateSchema().load(json_body())
    ticket, created = issue_free_ticket(g.device.queue_id, g.device.device_id, data["request_id"])
    body = {**ingest.device_ticket(ticket), "request_id": str(data["request_id"])}
    return FreeTicketSchema().dump(body), 201 if created else 200


# --- cash boxes --------------------------------------------------------------------------------

@cash_bp.get("/devices/<device_id>/cash")
@manager_required
def cash_box(device_id: str) -> dict:
    return CashBoxSchema().dump(cash.cash_box(device_id))


@cash_bp.post("/devices/<device_id>/collections")
@manager_required
def create_collection(device_id: str) -> tuple[dict, int]:
    cash.box_device(device_id)  # another establishment's kiosk is a 404 whatever the body
    data = CollectionCreateSchema().load(json_body())
    collection = cash.collect(device_id, data["counted"],
                              last_collection_id=data.get("last_collection_id", cash.NOT_GIVEN),
                              user_id=uuid.UUID(g.user_id))
    return CollectionSchema().dump(cash.describe_collections([collection])[0]), 201


@cash_bp.get("/devices/<device_id>/collections")
@manager_required
def list_collections(device_id: str) -> dict:
    query = CollectionsQuerySchema().load(request.args)
    rows = cash.collections(device_id, query["limit"])
    return CollectionListSchema().dump({"device_id": device_id, "collections": cash.describe_collections(rows)})


@cash_bp.get("/settings/cash")
@manager_required
def get_cash_settings() -> dict:
    return CashSettingsSchema().dump(cash.cash_settings())


@cash_bp.route("/settings/cash", methods=["PUT", "PATCH"])
@manager_required
def update_cash_settings() -> dict:
    data = CashSettingsSchema().load(json_body())
    return CashSettingsSchema().dump(cash.update_cash_settings(data["difference_threshold"]))
