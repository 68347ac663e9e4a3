from marshmallow import Schema, fields, validate

from kiosk.auth.models import ROLES


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


class UserCreateSchema(Schema):
    email = fields.Email(required=True)
    password = fields.String(required=True, validate=validate.Length(min=8, max=256))
    role = fields.String(required=True, validate=validate.OneOf(ROLES))


class UserSchema(Schema):
    id = fields.UUID()
    establishment_id = fields.UUID()
    email = fields.String()
    role = fields.String()


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
