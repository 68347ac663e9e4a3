"""Every input and output of the payments API, validated and documented here.

Types are strict: a device that sends ``"500"`` or ``12.5`` for an amount has
a bug, and guessing what it meant is how money goes missing.
"""
from __future__ import annotations

from babel.numbers import list_currencies
from flask_babel import lazy_gettext as _l
from marshmallow import Schema, ValidationError, fields, validate

from kiosk.queues.schemas import EtaSchema

_ISO_4217 = frozenset(list_currencies())


# A sanity ceiling far above any coin box, well inside a BIGINT.
MAX_AMOUNT = 10**12


def strict_amount(**kwargs) -> fields.Integer:
    """A JSON integer > 0. ``strict`` refuses strings and floats; marshmallow refuses booleans."""
    return fields.Integer(strict=True, validate=validate.Range(min=1, max=MAX_AMOUNT), **kwargs)


def _iso_currency(value: str) -> None:
    if value not in _ISO_4217:
        raise ValidationError(str(_l("Not an ISO 4217 currency code.")))


class PaymentCreateSchema(Schema):
    transaction_id = fields.UUID(required=True, metadata={"description": "chosen by the device; reuse it on retry"})
    amount = strict_amount(required=True, metadata={"description": "integer, in the currency's minor unit"})
    currency = fields.String(validate=[validate.Regexp(r"^[A-Z]{3}$", error=_l("Use a 3-letter ISO 4217 code.")),
                                       _iso_currency],
                             metadata={"description": "ISO 4217; defaults to the establishment's"})


class DeviceTicketSchema(Schema):
    ticket_id = fields.String()
    code = fields.String()
    kind = fields.String()
    status = fields.String()
    position = fields.Integer(allow_none=True,
                              metadata={"description": "1 = called next; 0 once called; null when finished"})
    eta_minutes = fields.Nested(EtaSchema, allow_none=True)
    tracking_url = fields.String()


class PaymentAcceptedSchema(Schema):
    transaction_id = fields.String()
    status = fields.String(metadata={"description": "PENDING | CONFIRMED | FAILED"})
    status_url = fields.String()


class PaymentStatusSchema(Schema):
    transaction_id = fields.String()
    status = fields.String(metadata={"description": "PENDING | CONFIRMED | FAILED"})
    amount = fields.Integer()
    currency = fields.String()
    failure_reason = fields.String(allow_none=True)
    ticket = fields.Nested(DeviceTicketSchema, allow_none=True)
    status_url = fields.String()


class FreeTicketCreateSchema(Schema):
    request_id = fields.UUID(required=True, metadata={"description": "chosen by the device; reuse it on retry"})


class FreeTicketSchema(DeviceTicketSchema):
    request_id = fields.String()


# --- refunds (manager JWT) --------------------------------------------------------------------

class RefundListQuerySchema(Schema):
    status = fields.String(load_default="due", validate=validate.OneOf(("due", "refunded")))
    limit = fields.Integer(load_default=200, validate=validate.Range(min=1, max=1000))


class RefundSchema(Schema):
    ticket_id = fields.String()
    code = fields.String()
    status = fields.String()
    amount = fields.Integer()
    currency = fields.String()
    transaction_id = fields.String()
    created_at = fields.String()
    refunded_at = fields.String(allow_none=True)
    refunded_by = fields.String(allow_none=True)
    queue_id = fields.String()
    queue_name = fields.String(allow_none=True)
    service_day = fields.String()
    finished_at = fields.String(allow_none=True)


class RefundListSchema(Schema):
    status = fields.String()
    refunds = fields.List(fields.Nested(RefundSchema))
# --- cash boxes (manager API) ----------------------------------------------------------------

class CollectionCreateSchema(Schema):
    """Body of ``POST /api/devices/<device_id>/collections``."""

    counted = fields.Integer(required=True, strict=True, validate=validate.Range(min=0, max=MAX_AMOUNT),
                             metadata={"description": "what was found in the box: whole number >= 0, minor units"})
    last_collection_id = fields.UUID(allow_none=True, metadata={
        "description": "optional: the last_collection_id GET .../cash showed (null: never collected). "
                       "If another collection happened since, 409 collection_conflict"})


class CollectionsQuerySchema(Schema):
    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=1000))


class CashPaymentSchema(Schema):
    transaction_id = fields.String()
    amount = fields.Integer(metadata={"description": "minor units of `currency`"})
    currency = fields.String()
    status = fields.String(metadata={"description": "PENDING | CONFIRMED | FAILED: the coins are in the box"})
    created_at = fields.DateTime()


class CashBoxSchema(Schema):
    device_id = fields.String()
    label = fields.String()
    currency = fields.String(metadata={"description": "the establishment's; amounts are in its minor unit"})
    since = fields.DateTime(metadata={"description": "the last collection (or the kiosk's registration)"})
    expected = fields.Integer(metadata={"description": "sum of the payments below in `currency`"})
    other_currencies = fields.Dict(keys=fields.String(), values=fields.Integer(), metadata={
        "description": "sums of payments a misconfigured kiosk reported in another currency (not in expected)"})
    payments = fields.List(fields.Nested(CashPaymentSchema))
    last_collection_id = fields.UUID(allow_none=True)


class CollectionSchema(Schema):
    id = fields.UUID()
    number = fields.Integer(metadata={"description": "1, 2, 3... per kiosk"})
    device_id = fields.String()
    collected_at = fields.DateTime()
    since = fields.DateTime(metadata={"description": "the previous collection (or the kiosk's registration)"})
    currency = fields.String()
    expected = fields.Integer()
    counted = fields.Integer()
    difference = fields.Integer(metadata={"description": "counted - expected (negative: a shortfall)"})
    payments = fields.Integer(metadata={"description": "payments this collection counted"})
    collected_by = fields.String(allow_none=True, metadata={"description": "the manager's email"})
    beyond_threshold = fields.Boolean(metadata={"description": "|difference| > the establishment's threshold"})


class CollectionListSchema(Schema):
    device_id = fields.String()
    collections = fields.List(fields.Nested(CollectionSchema), metadata={"description": "newest first"})


class CashSettingsSchema(Schema):
    difference_threshold = fields.Integer(required=True, strict=True, validate=validate.Range(min=0, max=MAX_AMOUNT),
                                          metadata={"description": "minor units; a larger |difference| is "
                                                                   "highlighted (0: any difference)"})
    currency = fields.String(dump_only=True)
