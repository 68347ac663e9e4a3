"""Revenue and VIP statistics on the establishment's local calendar.

Every figure is aggregated in SQL (GROUP BY local day or month) over one
index range scan; Python only builds the list of days/months (zeros
included) and the UTC bounds of the range.

Local calendar: a payment at 23:30 local time counts for that local day,
whatever the UTC date. The range [from 00:00 local, to+1 00:00 local) is
turned into UTC bounds with zoneinfo, so the WHERE clause stays sargable on
``created_at``. The bucket of each row is computed by the database:

- Postgres: ``timezone(tz, created_at)`` (``created_at AT TIME ZONE tz``),
  cast to a date or truncated to the month; DST is Postgres's own tz data.
- SQLite (embedded demo): no time-zone support, so the UTC offsets in force
  over the range are computed in Python (a handful of periods: one more per
  DST change) and the row is shifted with ``date(created_at, CASE ... END)``.

Only CONFIRMED payments count, net of refunds: a refund (a paid ticket
that ended unserved, its money handed back) is taken off the revenue of the
local day it was refunded on, not the day of the payment, so a day already
closed in the books never changes. Each day and month also carries
``refunded``. The VIP count is the number of VIP tickets
issued (a VIP ticket exists only for a CONFIRMED payment; cancelled or
no-show VIP tickets were still paid, so they count).

All three are cached (see ``cache.cached``), keyed by establishment and
range, and invalidated on every ticket change or confirmed payment.
"""
from __future__ import annotations

import logging
from datetime import date, datetime, time, timedelta, timezone
from typing import Callable
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from kiosk.devices.models import Device
from kiosk.establishments.models import Establishment
from kiosk.errors import ApiError
from kiosk.extensions import db
from kiosk.payments.models import Transaction
from kiosk.queues.models import Ticket
from kiosk.stats import models as _indexes  # noqa: F401 - declares the indexes these queries use
from kiosk.cache import cached
from kiosk.tenancy import require_establishment_id, system_scope, tenant_scope

log = logging.getLogger(__name__)

MAX_DAYS = 366
MAX_MONTHS = 12
# A business calendar, not a proleptic one: keeps UTC conversion in range.
EARLIEST = date(2000, 1, 1)
LATEST = date(2099, 12, 31)
UTC = timezone.utc


# --- public API (used by routes and by the dashboard) ---------------------------------------

def revenue_daily(date_from: date, date_to: date, *, as_json: bool = False) -> dict | bytes:
    """Revenue per local day, every day of the range present (zeros included).

    ``as_json=True`` returns the same answer as JSON bytes (what the API sends).

    :raise ApiError 400 validation_error: reversed, out of bounds or over 366 days.
    """
    _check_day_range(date_from, date_to)
    return _cached(f"revenue-daily:{date_from}:{date_to}", lambda: _revenue_daily(date_from, date_to), as_json)


def revenue_monthly(month_from: str | date, month_to: str | date, *, as_json: bool = False) -> dict | bytes:
    """Revenue per local month (``YYYY-MM``), every month of the range present.

    :raise ApiError 400 validation_error: malformed, reversed, out of bounds or over 12 months.
    """
    first = _parse_month(month_from, "from")
    last = _parse_month(month_to, "to")
    _check_month_range(first, last)
    return _cached(f"revenue-monthly:{first:%Y-%m}:{last:%Y-%m}", lambda: _revenue_monthly(first, last), as_json)


def vip_count(date_from: date, date_to: date, *, as_json: bool = False) -> dict | bytes:
    """VIP tickets issued per local day, every day of the range present.

    :raise ApiError 400 validation_error: reversed, out of bounds or over 366 days.
    """
    _check_day_range(date_from, date_to)
    return _cached(f"vip-count:{date_from}:{date_to}", lambda: _vip_count(date_from, date_to), as_json)


def revenue_by_device(date_from: date, date_to: date) -> dict:
    """Revenue per kiosk over a range of local days: every kiosk of the establishment, zeros included.

    The sums are cached like the other stats; the list of kiosks is read
    fresh, so a kiosk registered a minute ago is listed (with zero) at once.

    :raise ApiError 400 validation_error: reversed, out of bounds or over 366 days.
    """
    _check_day_range(date_from, date_to)
    sums = _cached(f"revenue-devices:{date_from}:{date_to}", lambda: _device_sums(date_from, date_to), False)
    by_device = sums["devices"]
    devices = db.session.execute(sa.select(Device.device_id, Device.label).order_by(Device.label, Device.device_id))
    rows = [{"device_id": d.device_id, "label": d.label, "revenue": by_device.get(d.device_id, [0, 0])[0],
             "transactions": by_device.get(d.device_id, [0, 0])[1]} for d in devices]
    # Payments whose device row is gone still count, so the total matches the daily revenue.
    listed = {r["device_id"] for r in rows}
    rows += [{"device_id": device_id, "label": None, "revenue": revenue, "transactions": count}
             for device_id, (revenue, count) in sorted(by_device.items()) if device_id not in listed]
    return {"currency": sums["currency"], "timezone": sums["timezone"], "from": date_from.isoformat(),
            "to": date_to.isoformat(), "total": sum(r["revenue"] for r in rows),
            "transactions": sum(r["transactions"] for r in rows), "devices": rows}


def warm_up() -> int:
    """Recompute and store what the dashboard asks first (this month so far, the last 12 months).

    Run by Celery beat more often than the TTL, so a manager opening the
    dashboard of a quiet establishment is served from Redis. Returns the
    number of entries written.
    """
    today = local_today()
    first = today.replace(day=1)
    year_ago = _month_start(_month_index(today) - MAX_MONTHS + 1)
    _cached(f"revenue-daily:{first}:{today}", lambda: _revenue_daily(first, today), True, refresh=True)
    _cached(f"vip-count:{first}:{today}", lambda: _vip_count(first, today), True, refresh=True)
    _cached(f"revenue-monthly:{year_ago:%Y-%m}:{today:%Y-%m}", lambda: _revenue_monthly(year_ago, first), True,
            refresh=True)
    return 3


def warm_up_all() -> dict:
    """``warm_up`` for every establishment, each in its own tenant scope; one failure never stops the rest."""
    with system_scope():
        ids = db.session.scalars(sa.select(Establishment.id).order_by(Establishment.id)).all()
    db.session.rollback()
    warmed, failed = 0, 0
    for establishment_id in ids:
        try:
            with tenant_scope(establishment_id):
                warmed += warm_up()
                db.session.rollback()  # read-only: end the transaction inside the scope it was opened in
        except Exception:  # noqa: BLE001 - logged; the next establishment still gets its warm-up
            db.session.rollback()
            failed += 1
            log.exception("stats warm-up failed", extra={"establishment_id": str(establishment_id)})
    return {"establishments": len(ids), "entries": warmed, "failed": failed}


def local_today() -> date:
    """Today on the current establishment's calendar (for presets like "today", "this month")."""
    return datetime.now(UTC).astimezone(ZoneInfo(_establishment().timezone)).date()


# --- validation -----------------------------------------------------------------------------

def _invalid(field: str, message) -> ApiError:
    return ApiError(400, "validation_error", _l("Some fields are invalid."), {field: [str(message)]})


def _check_bounds(first: date, last: date) -> None:
    for field, value in (("from", first), ("to", last)):
        if not isinstance(value, date) or isinstance(value, datetime):
            raise _invalid(field, _l("Not a valid date (YYYY-MM-DD)."))
        if not EARLIEST <= value <= LATEST:
            raise _invalid(field, _l("Dates must be between %(first)s and %(last)s.",
                                     first=EARLIEST.isoformat(), last=LATEST.isoformat()))
    if last < first:
        raise _invalid("to", _l("The end of the range is before its start."))


def _check_day_range(first: date, last: date) -> None:
    _check_bounds(first, last)
    if (last - first).days + 1 > MAX_DAYS:
        raise _invalid("to", _l("The range is longer than %(days)s days.", days=MAX_DAYS))


def _check_month_range(first: date, last: date) -> None:
    _check_bounds(first, last)
    if _month_index(last) - _month_index(first) + 1 > MAX_MONTHS:
        raise _invalid("to", _l("The range is longer than %(months)s months.", months=MAX_MONTHS))


def _parse_month(value: str | date, field: str) -> date:
    if isinstance(value, date) and not isinstance(value, datetime):
        return value.replace(day=1)
    text = value if isinstance(value, str) else ""
    if len(text) == 7 and text[4] == "-" and text[:4].isdigit() and text[5:].isdigit() and 1 <= int(text[5:]) <= 12:
        return date(int(text[:4]), int(text[5:]), 1)
    raise _invalid(field, _l("Not a valid month (YYYY-MM)."))


def _month_index(value: date) -> int:
    return value.year * 12 + value.month - 1


def _month_start(index: int) -> date:
    return date(index // 12, index % 12 + 1, 1)


# --- cache and context ----------------------------------------------------------------------

def _cached(name: str, compute: Callable[[], dict], as_json: bool, refresh: bool = False) -> dict | bytes:
    # The one place stats go through the read-through cache.
    return cached(require_establishment_id(), f"stats:{name}", compute, raw=as_json, refresh=refresh)


def _establishment() -> Establishment:
    tid = require_establishment_id()
    return db.session.execute(sa.select(Establishment).where(Establishment.id == tid)).scalar_one()


def _utc_midnight(day: date, zone: ZoneInfo) -> datetime:
    """The UTC instant the local day starts (a midnight skipped by DST starts at the first real time)."""
    return datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)


# --- the bucket expression, per dialect -----------------------------------------------------

def _offset_periods(zone: ZoneInfo, start: datetime, end: datetime) -> list[tuple[datetime, int]]:
    """[(from_utc, utc_offset_seconds), ...] covering [start, end), one entry per offset change.

    Offsets are sampled every 6 hours and each change is located to the second
    by bisection: DST changes are at least weeks apart.
    """
    def offset(moment: datetime) -> int:
        return int(moment.astimezone(zone).utcoffset().total_seconds())

    periods = [(start, offset(start))]
    step = timedelta(hours=6)
    cursor = start
    while cursor < end:
        nxt = min(cursor + step, end)
        if offset(nxt) != periods[-1][1]:
            low, high = cursor, nxt  # offset(low) is the old one, offset(high) the new one
            while high - low > timedelta(seconds=1):
                middle = low + (high - low) / 2
                if offset(middle) == periods[-1][1]:
                    low = middle
                else:
                    high = middle
            periods.append((high.replace(microsecond=0), offset(nxt)))
        cursor = nxt
    return periods


def _local_bucket(column, tz_name: str, start: datetime, end: datetime, unit: str):
    """SQL expression: the local day or month of a UTC timestamp.

    Postgres gives a date (a timestamp for months), SQLite the text
    ``YYYY-MM-DD`` (``YYYY-MM``); ``_bucket_key`` makes both text.
    """
    dialect = db.session.get_bind().dialect.name
    if dialect == "postgresql":
        # Group on a date/timestamp (cheaper per row than to_char); keys are formatted after.
        local = sa.func.timezone(tz_name, column)
        return sa.cast(local, sa.Date) if unit == "day" else sa.func.date_trunc("month", local)
    periods = _offset_periods(ZoneInfo(tz_name), start, end)
    modifiers = [f"{seconds:+d} seconds" for _, seconds in periods]
    if len(periods) == 1:
        shift = sa.literal(modifiers[0])
    else:
        shift = sa.case(*[(column < sa.literal(periods[i + 1][0].replace(tzinfo=None), sa.DateTime()),
                           modifiers[i]) for i in range(len(periods) - 1)], else_=modifiers[-1])
    # Whole seconds: SQLite rounds '23:59:59.9999' up to the next day.
    seconds = sa.func.substr(column, 1, 19)
    return sa.func.strftime("%Y-%m-%d" if unit == "day" else "%Y-%m", seconds, shift)


def _bound(moment: datetime, dialect: str):
    # SQLite stores naive UTC text; Postgres compares timestamptz.
    return moment if dialect == "postgresql" else moment.replace(tzinfo=None)


def _grouped_statement(model, value_columns: list, where: list, tz_name: str, start: datetime, end: datetime,
                       unit: str, moment=None) -> sa.Select:
    """SELECT bucket, <values> ... WHERE <establishment, UTC range> GROUP BY bucket (one index range scan).

    ``moment`` is the timestamp that places a row on the calendar (``created_at`` by default).
    """
    dialect = db.session.get_bind().dialect.name
    moment = model.created_at if moment is None else moment
    bucket = _local_bucket(moment, tz_name, start, end, unit).label("bucket")
    return (
        sa.select(bucket, *value_columns)
        .where(model.establishment_id == require_establishment_id(), *where,
               moment >= _bound(start, dialect), moment < _bound(end, dialect))
        .group_by(bucket)
    )


def _grouped(model, value_columns: list, where: list, tz_name: str, start: datetime, end: datetime,
             unit: str, moment=None, joins: tuple = ()) -> dict[str, tuple]:
    statement = _grouped_statement(model, value_columns, where, tz_name, start, end, unit, moment)
    for target, on in joins:
        statement = statement.join(target, on)
    return {_bucket_key(row[0], unit): tuple(row[1:]) for row in db.session.execute(statement)}


def _bucket_key(value, unit: str) -> str:
    if isinstance(value, (date, datetime)):  # Postgres
        return f"{value:%Y-%m-%d}" if unit == "day" else f"{value:%Y-%m}"
    return value  # SQLite: already text


# --- computations (cache misses) ------------------------------------------------------------

def _revenue_rows(first: date, last_exclusive: date, unit: str) -> tuple[Establishment, dict, dict]:
    """Confirmed payments per bucket ``(sum, count)``, and refunds per bucket of their refund day ``(sum,)``."""
    establishment = _establishment()
    zone = ZoneInfo(establishment.timezone)
    start, end = _utc_midnight(first, zone), _utc_midnight(last_exclusive, zone)
    rows = _grouped(Transaction, [sa.func.coalesce(sa.func.sum(Transaction.amount), 0), sa.func.count()],
                    [Transaction.status == "CONFIRMED"], establishment.timezone, start, end, unit)
    refunds = _grouped(Ticket, [sa.func.coalesce(sa.func.sum(Transaction.amount), 0)],
                       [Ticket.refunded_at.is_not(None), Transaction.status == "CONFIRMED"],
                       establishment.timezone, start, end, unit, moment=Ticket.refunded_at,
                       joins=((Transaction, Transaction.transaction_id == Ticket.transaction_id),))
    return establishment, rows, refunds


def _net(rows: dict, refunds: dict, key: str) -> dict:
    confirmed, count = rows.get(key, (0, 0))
    refunded = int(refunds.get(key, (0,))[0])
    return {"revenue": int(confirmed) - refunded, "transactions": int(count), "refunded": refunded}


def _revenue_daily(first: date, last: date) -> dict:
    establishment, rows, refunds = _revenue_rows(first, last + timedelta(days=1), "day")
    days = []
    for offset in range((last - first).days + 1):
        key = (first + timedelta(days=offset)).isoformat()
        days.append({"date": key, **_net(rows, refunds, key)})
    return {"currency": establishment.currency, "timezone": establishment.timezone,
            "from": first.isoformat(), "to": last.isoformat(),
            "total": sum(d["revenue"] for d in days), "refunded": sum(d["refunded"] for d in days), "days": days}


def _revenue_monthly(first: date, last: date) -> dict:
    indexes = range(_month_index(first), _month_index(last) + 1)
    establishment, rows, refunds = _revenue_rows(first, _month_start(indexes[-1] + 1), "month")
    months = []
    for index in indexes:
        key = f"{_month_start(index):%Y-%m}"
        months.append({"month": key, **_net(rows, refunds, key)})
    return {"currency": establishment.currency, "timezone": establishment.timezone,
            "from": f"{first:%Y-%m}", "to": f"{last:%Y-%m}",
            "total": sum(m["revenue"] for m in months), "refunded": sum(m["refunded"] for m in months),
            "months": months}


def _device_sums(first: date, last: date) -> dict:
    """{device_id: [revenue, transactions]} of CONFIRMED payments in the local range (one index range scan)."""
    establishment = _establishment()
    zone = ZoneInfo(establishment.timezone)
    start, end = _utc_midnight(first, zone), _utc_midnight(last + timedelta(days=1), zone)
    dialect = db.session.get_bind().dialect.name
    statement = (
        sa.select(Transaction.device_id, sa.func.coalesce(sa.func.sum(Transaction.amount), 0), sa.func.count())
        .where(Transaction.establishment_id == require_establishment_id(), Transaction.status == "CONFIRMED",
               Transaction.created_at >= _bound(start, dialect), Transaction.created_at < _bound(end, dialect))
        .group_by(Transaction.device_id)
    )
    sums = {row[0]: [int(row[1]), int(row[2])] for row in db.session.execute(statement)}
    return {"currency": establishment.currency, "timezone": establishment.timezone, "devices": sums}


def _vip_count(first: date, last: date) -> dict:
    establishment = _establishment()
    zone = ZoneInfo(establishment.timezone)
    start, end = _utc_midnight(first, zone), _utc_midnight(last + timedelta(days=1), zone)
    rows = _grouped(Ticket, [sa.func.count()], [Ticket.kind == "VIP"], establishment.timezone, start, end, "day")
    days = []
    for offset in range((last - first).days + 1):
        key = (first + timedelta(days=offset)).isoformat()
        days.append({"date": key, "count": int(rows.get(key, (0,))[0])})
    return {"total": sum(d["count"] for d in days), "days": days}
