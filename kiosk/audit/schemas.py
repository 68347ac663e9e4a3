"""Inputs and outputs of the audit API (``GET /api/audit``)."""
from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta, timezone

from flask_babel import lazy_gettext as _l
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from kiosk.base import iso

MAX_RANGE_DAYS = 366
MAX_LIMIT = 1000
DEFAULT_LIMIT = 500
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class InstantField(fields.String):
    """``YYYY-MM-DD`` (a UTC day) or an ISO 8601 date-time with its offset.

    Loaded as ``(aware datetime, is_whole_day)``: a day given as ``to`` is
    inclusive, a date-time is exclusive.
    """

    default_error_messages = {
        "invalid": _l("Not a valid date (YYYY-MM-DD) or date-time with offset (ISO 8601)."),
    }

    def _deserialize(self, value, attr, data, **kwargs) -> tuple[datetime, bool]:
        text = super()._deserialize(value, attr, data, **kwargs).strip()
        try:
            if _DATE.match(text):
                return datetime.combine(date.fromisoformat(text), time.min, tzinfo=timezone.utc), True
            moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            raise self.make_error("invalid") from None
        if moment.tzinfo is None:  # a time without an offset means nothing for a SaaS with many zones
            raise self.make_error("invalid")
        return moment.astimezone(timezone.utc), False


class AuditQuerySchema(Schema):
    """``?from&to[&limit]``: both bounds required, at most 366 days apart."""

    date_from = InstantField(required=True, data_key="from",
                             metadata={"description": "YYYY-MM-DD (UTC day, inclusive) or ISO 8601 date-time "
                                                      "with offset (inclusive)"})
    date_to = InstantField(required=True, data_key="to",
                           metadata={"description": "YYYY-MM-DD (UTC day, inclusive) or ISO 8601 date-time "
                                                    "with offset (exclusive)"})
    limit = fields.Integer(load_default=DEFAULT_LIMIT, validate=validate.Range(min=1, max=MAX_LIMIT),
                           metadata={"description": f"newest events first; at most {MAX_LIMIT}"})

    @validates_schema
    def _range(self, data, **kwargs) -> None:
        if "date_from" not in data or "date_to" not in data:
            return
        start, _ = data["date_from"]
        end, whole_day = data["date_to"]
        if whole_day:
            end += timedelta(days=1)
        if end <= start:
            raise ValidationError(_l("The end must come after the start."), "to")
        if end - start > timedelta(days=MAX_RANGE_DAYS):
            raise ValidationError(_l("At most %(days)s days.", days=MAX_RANGE_DAYS), "to")
        data["start"], data["end"] = start, end


class AuditEventSchema(Schema):
    id = fields.UUID()
    # SQLite hands back naive UTC: always written with its offset.
    occurred_at = fields.Function(lambda event: iso(event.occurred_at),
                                  metadata={"format": "date-time"})
    actor_id = fields.UUID(allow_none=True, metadata={"description": "the staff user; null for the system"})
    action = fields.String(metadata={"example": "user.deactivated"})
    target_type = fields.String(metadata={"example": "user"})
    target_id = fields.String()
    details = fields.Dict()


class AuditPageSchema(Schema):
    start = fields.AwareDateTime(data_key="from", default_timezone=timezone.utc)
    end = fields.AwareDateTime(data_key="to", default_timezone=timezone.utc,
                               metadata={"description": "exclusive"})
    truncated = fields.Boolean(metadata={"description": "more events match: narrow the range"})
    events = fields.List(fields.Nested(AuditEventSchema))
