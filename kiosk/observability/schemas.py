"""What the probes answer: ``GET /health`` and ``GET /health/ready``."""
from __future__ import annotations

from marshmallow import Schema, fields


class HealthSchema(Schema):
    status = fields.String(metadata={"description": "always ok: the process answers"})


class CheckSchema(Schema):
    ok = fields.Boolean()
    ms = fields.Float(metadata={"description": "how long the check took"})
    error = fields.String(metadata={"description": "the exception's class name, when not ok"})


class ReadinessSchema(Schema):
    status = fields.String(metadata={"description": "ok | unavailable"})
    checks = fields.Dict(keys=fields.String(), values=fields.Nested(CheckSchema),
                         metadata={"description": "database, redis, broker"})
