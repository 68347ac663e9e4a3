"""Inputs and outputs of the stats API.

Formats are checked here (a bad date, an unknown parameter -> 400
``validation_error``); range rules (reversed, too long) live in the
services, so the dashboard that calls them directly gets the same answers.
"""
from __future__ import annotations

import re
from datetime import date

from flask_babel import lazy_gettext as _l
from marshmallow import Schema, ValidationError, fields

_MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


class MonthField(fields.String):
    """A calendar month written ``YYYY-MM``; loaded as the month's first day."""

    default_error_messages = {"invalid": _l("Not a valid month (YYYY-MM).")}

    def _deserialize(self, value, attr, data, **kwargs) -> date:
        text = super()._deserialize(value, attr, data, **kwargs)
        if not _MONTH.match(text):
            raise self.make_error("invalid")
        return date(int(text[:4]), int(text[5:7]), 1)


def _date(name: str) -> fields.Date:
    return fields.Date(required=True, data_key=name, format="%Y-%m-%d",
                       metadata={"description": f"local calendar day, YYYY-MM-DD ({name} is inclusive)"},
                       error_messages={"invalid": _l("Not a valid date (YYYY-MM-DD)."),
                                       "required": _l("Missing data for required field.")})


def _month(name: str) -> MonthField:
    return MonthField(required=True, data_key=name,
                      metadata={"description": f"local calendar month, YYYY-MM ({name} is inclusive)",
                                "pattern": _MONTH.pattern, "example": "2026-03"},
                      error_messages={"required": _l("Missing data for required field.")})


class DayRangeQuerySchema(Schema):
    """``?from=YYYY-MM-DD&to=YYYY-MM-DD``, both inclusive, at most 366 days."""

    date_from = _date("from")
    date_to = _date("to")


class MonthRangeQuerySchema(Schema):
    """``?from=YYYY-MM&to=YYYY-MM``, both inclusive, at most 12 months."""

    month_from = _month("from")
    month_to = _month("to")


class RevenueDaySchema(Schema):
    date = fields.String(metadata={"description": "YYYY-MM-DD, establishment's local calendar"})
    revenue = fields.Integer(metadata={"description": "minor units of `currency`: CONFIRMED payments that day "
                                                     "minus the refunds made that day"})
    transactions = fields.Integer(metadata={"description": "CONFIRMED payments that day"})
    refunded = fields.Integer(metadata={"description": "refunds made that day, minor units"})


class RevenueMonthSchema(Schema):
    month = fields.String(metadata={"description": "YYYY-MM, establishment's local calendar"})
    revenue = fields.Integer()
    transactions = fields.Integer()
    refunded = fields.Integer()


class _RevenueBase(Schema):
    currency = fields.String(metadata={"description": "ISO 4217"})
    timezone = fields.String(metadata={"description": "IANA time zone the days are counted in"})
    from_ = fields.String(data_key="from", attribute="from")
    to = fields.String()
    total = fields.Integer(metadata={"description": "sum of CONFIRMED amounts net of refunds, minor units"})
    refunded = fields.Integer(metadata={"description": "refunds made in the range, minor units"})


class RevenueDailySchema(_RevenueBase):
    days = fields.List(fields.Nested(RevenueDaySchema))


class RevenueMonthlySchema(_RevenueBase):
    months = fields.List(fields.Nested(RevenueMonthSchema))


class VipDaySchema(Schema):
    date = fields.String()
    count = fields.Integer()


class VipCountSchema(Schema):
    total = fields.Integer(metadata={"description": "VIP tickets issued in the range"})
    days = fields.List(fields.Nested(VipDaySchema))


class KioskRevenueSchema(Schema):
    device_id = fields.String()
    label = fields.String(allow_none=True, metadata={"description": "null for a kiosk no longer registered"})
    revenue = fields.Integer(metadata={"description": "CONFIRMED amounts, minor units of `currency`"})
    transactions = fields.Integer()


class DeviceRevenueSchema(_RevenueBase):
    transactions = fields.Integer(metadata={"description": "CONFIRMED payments in the range"})
    devices = fields.List(fields.Nested(KioskRevenueSchema), metadata={"description": "every kiosk, zeros included"})


__all__ = ["DayRangeQuerySchema", "MonthRangeQuerySchema", "RevenueDailySchema", "RevenueMonthlySchema",
           "VipCountSchema", "DeviceRevenueSchema", "ValidationError"]
