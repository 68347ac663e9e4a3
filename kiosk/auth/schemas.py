from flask_babel import lazy_gettext as _l
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from kiosk.auth.models import ROLES
from kiosk.base import iso


class LoginSchema(Schema):
    email = fields.Email(required=True, validate=validate.Length(max=254))
    password = fields.String(required=True, validate=validate.Length(min=1, max=256))


class TokenSchema(Schema):
    access_token = fields.String()
    token_type = fields.String()
    expires_in = fields.Integer()


class EstablishmentCreateSchema(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=120))
    timezone = fields.String(required=True)
    currency = fields.String(required=True, validate=validate.Regexp(r"^[A-Z]{3}$"))
    vip_price = fields.Integer(required=True, strict=True, validate=validate.Range(min=1))
    locale = fields.String(load_default="fr", validate=validate.OneOf(["fr", "en"]))


PASSWORD_LENGTH = validate.Length(min=8, max=256)


class StrictBoolean(fields.Boolean):
    """JSON true or false only: ``1``, ``"true"`` or ``"yes"`` are validation errors."""

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, bool):
            raise self.make_error("invalid")
        return value


class UserCreateSchema(Schema):
    email = fields.Email(required=True, validate=validate.Length(max=254))
    password = fields.String(required=True, validate=PASSWORD_LENGTH)
    role = fields.String(required=True, validate=validate.OneOf(ROLES))


class UserUpdateSchema(Schema):
    """``PATCH /api/users/<id>``: any of role, active, password; at least one."""

    role = fields.String(validate=validate.OneOf(ROLES))
    active = StrictBoolean()
    password = fields.String(validate=PASSWORD_LENGTH, load_only=True)

    @validates_schema
    def _something(self, data, **kwargs) -> None:
        if not data:
            raise ValidationError(_l("Give at least one of role, active, password."), "_schema")


class UserSchema(Schema):
    id = fields.UUID()
    email = fields.String()
    role = fields.String()
    active = fields.Boolean()
    created_at = fields.Function(lambda user: iso(user.created_at),
                                 metadata={"format": "date-time"})


class UserListSchema(Schema):
    users = fields.List(fields.Nested(UserSchema))


class EstablishmentSchema(Schema):
    id = fields.UUID()
    name = fields.String()
    slug = fields.String()
    timezone = fields.String()
    currency = fields.String()
    locale = fields.String()
    vip_price = fields.Integer()
    theme = fields.Dict()
    vip_streak_max = fields.Integer()
    max_standard_wait_min = fields.Integer()
