"""Every input and output of the queues API, validated and documented here."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from marshmallow import Schema, ValidationError, fields, validate, validates


_PREFIX = validate.Regexp(r"^[A-Za-z]{1,3}$", error=_l("Use 1 to 3 letters."))


def _strict_bool() -> fields.Boolean:
    # Only JSON true/false: "yes" or 1 are mistakes, not intentions.
    return fields.Boolean(truthy={True}, falsy={False})


class QueueCreateSchema(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=120))
    prefix = fields.String(required=True, validate=_PREFIX)

    @validates("prefix")
    def _not_vip_prefix(self, value: str, **_kwargs) -> None:
        # VIP codes are "V" + the queue's prefix ("VA-007"): a standard "VA" would collide with them.
        if value.upper().startswith("V"):
            raise ValidationError(str(_l("Prefixes starting with V are reserved for VIP tickets.")))


class QueueUpdateSchema(QueueCreateSchema):
    name = fields.String(validate=validate.Length(min=1, max=120))
    prefix = fields.String(validate=_PREFIX)
    active = _strict_bool()


class QueueSchema(Schema):
    id = fields.String()
    name = fields.String()
    prefix = fields.String()
    vip_prefix = fields.String()
    active = fields.Boolean()
    mean_service_seconds = fields.Float()
    created_at = fields.String()


class EtaSchema(Schema):
    min = fields.Integer()
    max = fields.Integer()


class TicketSchema(Schema):
    ticket_id = fields.String()
    code = fields.String()
    kind = fields.String()
    status = fields.String()
    queue_id = fields.String()
    position = fields.Integer(allow_none=True,
                              metadata={"description": "1 = called next; 0 once called; null when finished"})
    counter = fields.String(allow_none=True)
    tracking_url = fields.String()
    created_at = fields.String()
    called_at = fields.String(allow_none=True)
    served_at = fields.String(allow_none=True)
    eta_minutes = fields.Nested(EtaSchema, allow_none=True)


class QueueListSchema(Schema):
    queues = fields.List(fields.Nested(QueueSchema))


class QueueDetailSchema(QueueSchema):
    waiting = fields.List(fields.Nested(TicketSchema), metadata={"description": "in calling order"})
    waiting_count = fields.Integer()
    called = fields.List(fields.Nested(TicketSchema), metadata={"description": "tickets at a counter now"})
    vip_streak = fields.Integer()
    counters_open = fields.Integer()


class TicketCreateSchema(Schema):
    kind = fields.String(load_default="STANDARD", validate=validate.OneOf(
        ["STANDARD"], error=_l("Staff issue STANDARD tickets; VIP tickets are sold by the kiosk.")))


class CounterField(fields.Field):
    """A counter's label: a short string, or a number (kept as text)."""

    def _deserialize(self, value, attr, data, **kwargs) -> str:
        if isinstance(value, bool) or not isinstance(value, (str, int)):
            raise ValidationError(str(_l("Give the counter as a short text or a number.")))
        text = str(value).strip()
        if not 1 <= len(text) <= 32:
            raise ValidationError(str(_l("Use 1 to 32 characters.")))
        return text


class CallNextSchema(Schema):
    counter = CounterField(required=True)


class CloseDaySchema(Schema):
    expired = fields.Integer(metadata={"description": "tickets that were WAITING or CALLED and are now EXPIRED"})
