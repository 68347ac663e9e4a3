"""Stats API (manager JWT): revenue per local day and month, VIP tickets per day.

  GET /stats/revenue/daily?from=YYYY-MM-DD&to=YYYY-MM-DD
  GET /stats/revenue/monthly?from=YYYY-MM&to=YYYY-MM
  GET /stats/vip/count?from=YYYY-MM-DD&to=YYYY-MM-DD
  GET /stats/revenue/devices?from=YYYY-MM-DD&to=YYYY-MM-DD   revenue per kiosk

The services build the contract's JSON shape and cache its JSON text; the
views send that text as is (``as_json=True``: a cache hit is one Redis
round trip, no decode/encode). ``schemas.Revenue*Schema`` document it (declared only:
nothing dumps through them).
"""
from __future__ import annotations

from flask import Blueprint, Response, request

from kiosk.auth.access import manager_required
from kiosk.observability.openapi import document
from kiosk.stats import services
from kiosk.stats.schemas import (DayRangeQuerySchema, DeviceRevenueSchema, MonthRangeQuerySchema,
                                 RevenueDailySchema, RevenueMonthlySchema, VipCountSchema)

bp = Blueprint("stats", __name__, url_prefix="/stats")

day_range_schema = DayRangeQuerySchema()
month_range_schema = MonthRangeQuerySchema()
device_revenue_schema = DeviceRevenueSchema()


@bp.get("/revenue/daily")
@document(query=day_range_schema, responses={200: RevenueDailySchema},
          summary="Revenue per local day (CONFIRMED payments, minor units)")
@manager_required
def revenue_daily() -> Response:
    query = day_range_schema.load(request.args)
    return _json(services.revenue_daily(query["date_from"], query["date_to"], as_json=True))


@bp.get("/revenue/monthly")
@document(query=month_range_schema, responses={200: RevenueMonthlySchema},
          summary="Revenue per local month (CONFIRMED payments, minor units)")
@manager_required
def revenue_monthly() -> Response:
    query = month_range_schema.load(request.args)
    return _json(services.revenue_monthly(query["month_from"], query["month_to"], as_json=True))


@bp.get("/vip/count")
@document(query=day_range_schema, responses={200: VipCountSchema}, summary="VIP tickets issued per local day")
@manager_required
def vip_count() -> Response:
    query = day_range_schema.load(request.args)
    return _json(services.vip_count(query["date_from"], query["date_to"], as_json=True))


@bp.get("/revenue/devices")
@document(query=day_range_schema, responses={200: device_revenue_schema},
          summary="Revenue per kiosk over local days (CONFIRMED payments, every kiosk listed)")
@manager_required
def revenue_by_device() -> dict:
    query = day_range_schema.load(request.args)
    return device_revenue_schema.dump(services.revenue_by_device(query["date_from"], query["date_to"]))


def _json(payload: bytes) -> Response:
    return Response(payload, mimetype="application/json")
