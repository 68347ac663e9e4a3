"""Display payloads: what managers send, and what they get back."""
from __future__ import annotations

from marshmallow import Schema, fields, validate


class DisplayLabelSchema(Schema):
    """Body of POST /api/displays and PATCH /api/displays/<id>."""

    label = fields.String(required=True, validate=validate.Length(min=1, max=120))


class DisplayCreatedSchema(Schema):
    id = fields.UUID()
    token = fields.String()
    url = fields.String()
    label = fields.String()


class DisplaySchema(Schema):
    id = fields.UUID()
    label = fields.String()
    token = fields.String()
    url = fields.String()
    last_heartbeat = fields.DateTime(allow_none=True)
    created_at = fields.DateTime()
    revoked_at = fields.DateTime(allow_none=True)
    status = fields.String(metadata={"description": "live | quiet | never | revoked"})
    quiet_for_seconds = fields.Integer(allow_none=True)
    open_now = fields.Boolean()
    warning = fields.String(allow_none=True, metadata={"description": "quiet_during_opening_hours or null"})
    warning_message = fields.String(allow_none=True)


class DisplayListSchema(Schema):
    displays = fields.List(fields.Nested(DisplaySchema))
