"""Forms and query strings of the dashboard pages (marshmallow, unknown fields refused)."""
from __future__ import annotations

from marshmallow import Schema, ValidationError, fields, post_load, validate, validates_schema

from kiosk.dashboard.services import MAX_RANGE_DAYS


class LoginFormSchema(Schema):
    email = fields.Email(required=True, validate=validate.Length(max=254))
    password = fields.String(required=True, validate=validate.Length(min=1, max=256))
    next = fields.String(load_default=None, validate=validate.Length(max=512))
    csrf_token = fields.String(load_default="", validate=validate.Length(max=200))


class LogoutFormSchema(Schema):
    csrf_token = fields.String(load_default="", validate=validate.Length(max=200))


class DateRangeSchema(Schema):
    """``from`` and ``to`` (YYYY-MM-DD, local days, inclusive), at most 366 days, not reversed."""

    date_from = fields.Date(required=True, data_key="from", format="%Y-%m-%d")
    date_to = fields.Date(required=True, data_key="to", format="%Y-%m-%d")

    @validates_schema
    def _check_range(self, data: dict, **kwargs) -> None:
        if data["date_from"] > data["date_to"]:
            raise ValidationError("The start date is after the end date.", "to")
        if (data["date_to"] - data["date_from"]).days + 1 > MAX_RANGE_DAYS:
            raise ValidationError(f"The range is longer than {MAX_RANGE_DAYS} days.", "to")


class CollectionExportQuerySchema(DateRangeSchema):
    """The cash collections CSV: a range of local days, one kiosk or all of them."""

    device = fields.String(load_default=None, validate=validate.Length(max=40))
    lang = fields.String(load_default=None)

    @post_load
    def _empty_is_all(self, data: dict, **kwargs) -> dict:
        data["device"] = data.get("device") or None  # the form's "All kiosks" option is ""
        return data


class OverviewQuerySchema(Schema):
    """The overview's optional initial range (bookmarkable): a preset, or from/to."""

    preset = fields.String(load_default=None, validate=validate.OneOf(["today", "7d", "month", "custom"]))
    date_from = fields.Date(load_default=None, data_key="from", format="%Y-%m-%d")
    date_to = fields.Date(load_default=None, data_key="to", format="%Y-%m-%d")
    lang = fields.String(load_default=None)
