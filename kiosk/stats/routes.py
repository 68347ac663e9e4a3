"""Stats API (manager JWT): revenue per local day and month, VIP tickets per day.

  GET /stats/revenue/daily?from=YYYY-MM-DD&to=YYYY-MM-DD
  GET /stats/revenue/monthly?from=YYYY-MM&to=YYYY-MM
  GET /stats/vip/count?from=YYYY-MM-DD&to=YYYY-MM-DD

The services return the contract's JSON shape (and cache it as such), so
the views return it as is; ``schemas.Revenue*Schema`` document it.
"""
from __future__ import annotations

from flask import Blueprint, request

from kiosk.auth.access import manager_required
from kiosk.stats import services
from kiosk.stats.schemas import DayRangeQuerySchema, MonthRangeQuerySchema

bp = Blueprint("stats", __name__, url_prefix="/stats")


@bp.get("/revenue/daily")
@manager_required
def revenue_daily() -> dict:
    query = DayRangeQuerySchema().load(request.args)
    return services.revenue_daily(query["date_from"], query["date_to"])


@bp.get("/revenue/monthly")
@manager_required
def revenue_monthly() -> dict:
    query = MonthRangeQuerySchema().load(request.args)
    return services.revenue_monthly(query["month_from"], query["month_to"])


@bp.get("/vip/count")
@manager_required
def vip_count() -> dict:
    query = DayRangeQuerySchema().load(request.args)
    return services.vip_count(query["date_from"], query["date_to"])
