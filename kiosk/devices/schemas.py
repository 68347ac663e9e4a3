"""Device payloads: what managers and kiosks send, and what they get back.

The secret appears in exactly two schemas, ``RegisteredSchema`` and
``RotatedSchema``: the one-time reveals. ``DeviceSchema`` has no secret field
at all, so a listing cannot leak one by accident.
"""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from marshmallow import Schema, ValidationError, fields, validate


def _not_blank(value: str) -> None:
    if not value.strip():
        raise ValidationError(str(_l("This field cannot be blank.")))


class DeviceSetupSchema(Schema):
    """Body of ``POST /iot/register`` (manager JWT) and ``POST /api/devices/claims``."""

    label = fields.String(required=True, validate=[validate.Length(min=1, max=120), _not_blank])
    queue_id = fields.UUID(required=True)


class ClaimCodeSchema(Schema):
    """Body of ``POST /iot/register`` for a kiosk holding a claim code."""

    claim_code = fields.String(required=True, validate=validate.Length(min=1, max=64))


class ClaimCreatedSchema(Schema):
    claim_code = fields.String(metadata={"description": "one use, 15 minutes; shown once"})
    expires_at = fields.DateTime()


class RegisteredSchema(Schema):
    device_id = fields.String()
    secret_key = fields.String(metadata={"description": "64 hex chars; shown this once"})
    establishment_id = fields.UUID()
    queue_id = fields.UUID(allow_none=True)


class RotatedSchema(Schema):
    device_id = fields.String()
    secret_key = fields.String(metadata={"description": "the new secret; shown this once"})


class DeviceSchema(Schema):
    device_id = fields.String()
    label = fields.String()
    status = fields.String(metadata={"description": "ACTIVE | DISABLED"})
    last_seen = fields.DateTime(allow_none=True, metadata={"description": "updated at most once a minute"})
    queue_id = fields.UUID(allow_none=True)
    queue_name = fields.String(allow_none=True)
    created_at = fields.DateTime()
    rotated_at = fields.DateTime(allow_none=True)
    previous_secret_valid_until = fields.DateTime(
        allow_none=True, metadata={"description": "end of the previous secret's grace period, if any"})


class DeviceListSchema(Schema):
    devices = fields.List(fields.Nested(DeviceSchema))
