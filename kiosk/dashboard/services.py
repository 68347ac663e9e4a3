"""Rules behind the dashboard pages: safe redirects, money formatting, date
ranges and the CSV exports (revenue, cash collections). No Flask request objects here.
"""
from __future__ import annotations

import csv
import io
import re
from datetime import date, datetime, timedelta, timezone
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from babel.dates import format_datetime
from babel.numbers import format_currency, format_decimal, get_currency_precision
from flask_babel import lazy_gettext as _l

from kiosk.devices.models import Device
from kiosk.establishments.services import current_establishment
from kiosk.extensions import db
from kiosk.payments import cash
from kiosk.stats import services as stats

MAX_RANGE_DAYS = 366
_NEXT_ALLOWED = re.compile(r"^/[A-Za-z0-9\-._~!$&'()*+,;=:@%/?]*$")


def safe_next(value: str | None) -> str | None:
    """A path on this host to go to after login, or None.

    Only a relative path is accepted: ``/dashboard?from=...``. Anything that a
    browser could read as another host is refused: ``//evil.com``,
    ``https://evil.com``, ``/\\evil.com`` (browsers turn ``\\`` into ``/``),
    whitespace and control characters (stripped by browsers), and URLs with a
    scheme or a network location.
    """
    if not value or len(value) > 512:
        return None
    if not _NEXT_ALLOWED.match(value) or value.startswith("//") or "\\" in value:
        return None
    parts = urlsplit(value)
    if parts.scheme or parts.netloc:
        return None
    return value


def landing_for(role: str) -> str:
    """Managers land on the overview; agents on the counter screen."""
    return "/dashboard" if role == "manager" else "/dashboard/counter"


# --- money ---------------------------------------------------------------------------------

def format_money(minor: int, currency: str, locale: str) -> str:
    """``1500`` XOF in French -> ``1 500 F CFA`` (Babel; the currency's own decimals)."""
    digits = get_currency_precision(currency)
    return format_currency(minor / 10 ** digits if digits else minor, currency, locale=locale)


def format_moment(iso: str | None, tz_name: str, locale: str) -> str:
    """An ISO instant as people read it, in the establishment's time zone (``01/12/2026 18:05``)."""
    if not iso:
        return ""
    return format_datetime(datetime.fromisoformat(iso), format="short", tzinfo=ZoneInfo(tz_name), locale=locale)


def money_format_spec(currency: str, locale: str) -> dict:
    """What the page's script needs to format amounts exactly like ``format_money``.

    Derived from Babel itself (a sample amount split around its number), so the
    script and the server never disagree on symbols, spacing or decimals.
    """
    from babel.numbers import get_decimal_symbol, get_group_symbol

    digits = get_currency_precision(currency)
    sample_number = format_decimal(7, format="0" + ("." + "0" * digits if digits else ""), locale=locale,
                                   decimal_quantization=False)
    sample = format_currency(7, currency, locale=locale)
    prefix, _, suffix = sample.partition(sample_number)
    return {"currency": currency, "digits": digits, "prefix": prefix, "suffix": suffix,
            "group": get_group_symbol(locale), "decimal": get_decimal_symbol(locale)}


# --- dates ---------------------------------------------------------------------------------

def local_today(timezone_name: str, now: datetime | None = None) -> date:
    """Today in the establishment's calendar (stats days are local days)."""
    return (now or datetime.now(timezone.utc)).astimezone(ZoneInfo(timezone_name)).date()


def preset_range(preset: str, today: date) -> tuple[date, date]:
    """``today``, ``7d`` (the last seven days, today included) or ``month`` (this month so far)."""
    if preset == "today":
        return today, today
    if preset == "7d":
        return today - timedelta(days=6), today
    return today.replace(day=1), today


def months_back(end: date, count: int = 12) -> tuple[str, str]:
    """The ``YYYY-MM`` range of ``count`` months ending with ``end``'s month."""
    index = end.year * 12 + end.month - 1 - (count - 1)
    return f"{index // 12:04d}-{index % 12 + 1:02d}", f"{end.year:04d}-{end.month:02d}"


# --- CSV export ----------------------------------------------------------------------------

CSV_COLUMNS = ("date", "revenue_minor", "revenue", "currency", "transactions", "vip_count", "refunded_minor",
               "refunded")


def export_rows(date_from: date, date_to: date, locale: str) -> tuple[dict, list[dict]]:
    """One row per local day of the range: revenue (minor and formatted), transactions, VIP count."""
    revenue = stats.revenue_daily(date_from, date_to)
    vip = {str(day["date"]): day["count"] for day in stats.vip_count(date_from, date_to)["days"]}
    currency = revenue["currency"]
    rows = [{
        "date": str(day["date"]),
        "revenue_minor": day["revenue"],
        "revenue": format_money(day["revenue"], currency, locale),
        "currency": currency,
        "transactions": day["transactions"],
        "vip_count": vip.get(str(day["date"]), 0),
        # Revenue is net of these: refunds count on the day they were made.
        "refunded_minor": day.get("refunded", 0),
        "refunded": format_money(day.get("refunded", 0), currency, locale),
    } for day in revenue["days"]]
    return revenue, rows


def export_csv(rows: list[dict]) -> str:
    """CSV text with a UTF-8 BOM, so spreadsheets read the currency symbols right."""
    buffer = io.StringIO()
    buffer.write("\ufeff")
    writer = csv.DictWriter(buffer, fieldnames=CSV_COLUMNS, lineterminator="\r\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


# --- activity log (audit trail) -------------------------------------------------------------
AUDIT_ACTIONS = {
    "user.created": _l("Staff account created"),
    "user.deactivated": _l("Staff account deactivated"),
    "user.reactivated": _l("Staff account reactivated"),
    "user.role_changed": _l("Role changed"),
    "user.password_reset": _l("Password reset"),
    "device.registered": _l("Kiosk registered"),
    "device.claim_issued": _l("Kiosk claim code issued"),
    "device.claimed": _l("Kiosk installed with a claim code"),
    "device.disabled": _l("Kiosk disabled"),
    "device.enabled": _l("Kiosk enabled"),
    "device.secret_rotated": _l("Kiosk secret replaced"),
}
ROLE_NAMES = {"manager": _l("Manager"), "agent": _l("Agent")}


def local_day_bounds(date_from: date, date_to: date, timezone_name: str) -> tuple[datetime, datetime]:
    """``[start of date_from, start of the day after date_to)`` in the establishment's calendar, as UTC."""
    zone = ZoneInfo(timezone_name)
    start = datetime.combine(date_from, datetime.min.time(), tzinfo=zone)
    end = datetime.combine(date_to + timedelta(days=1), datetime.min.time(), tzinfo=zone)
    return start.astimezone(timezone.utc), end.astimezone(timezone.utc)


def describe_audit_event(event, emails: dict, timezone_name: str, locale: str, system_label) -> dict:
    """One row of the activity log, for people: local time, who, what, on what."""
    details = event.details or {}
    occurred = event.occurred_at if event.occurred_at.tzinfo else event.occurred_at.replace(tzinfo=timezone.utc)
    what = str(AUDIT_ACTIONS.get(event.action, event.action))
    if event.action == "user.role_changed":
        what += f" ({ROLE_NAMES.get(details.get('from'), details.get('from'))} → " \
                f"{ROLE_NAMES.get(details.get('to'), details.get('to'))})"
    target = details.get("email") or details.get("label") or event.target_id
    return {
        "iso": occurred.isoformat(),
        "when": format_datetime(occurred, "short", tzinfo=ZoneInfo(timezone_name), locale=locale),
        "who": emails.get(event.actor_id, str(system_label)) if event.actor_id else str(system_label),
        "what": what,
        "action": event.action,
        "target": target,
    }


# --- cash collections export -----------------------------------------------------------------

COLLECTION_CSV_COLUMNS = ("number", "kiosk", "device_id", "collected_at", "since", "currency", "expected_minor",
                          "expected", "counted_minor", "counted", "difference_minor", "difference", "payments",
                          "collected_by", "beyond_threshold")
# A cell starting with one of these is a formula to a spreadsheet (CSV injection).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _text_cell(value: str | None) -> str:
    value = value or ""
    return "'" + value if value.startswith(_FORMULA_START) else value


def collection_export_rows(date_from: date, date_to: date, device_id: str | None, locale: str) -> list[dict]:
    """Every collection of the range (local days), newest first, amounts in minor units and formatted.

    :raise NotFound: ``device_id`` is not one of the establishment's kiosks.
    """
    establishment = current_establishment()
    zone = ZoneInfo(establishment.timezone)
    start, end = local_day_bounds(date_from, date_to, establishment.timezone)
    collections = cash.collections_between(start, end, device_id)
    described = cash.describe_collections(collections)
    labels = dict(db.session.execute(sa.select(Device.device_id, Device.label)).tuples().all())
    rows = []
    for item in described:
        currency = item["currency"]
        rows.append({
            "number": item["number"],
            "kiosk": _text_cell(labels.get(item["device_id"])),
            "device_id": item["device_id"],
            "collected_at": item["collected_at"].astimezone(zone).isoformat(timespec="seconds"),
            "since": item["since"].astimezone(zone).isoformat(timespec="seconds"),
            "currency": currency,
            "expected_minor": item["expected"],
            "expected": format_money(item["expected"], currency, locale),
            "counted_minor": item["counted"],
            "counted": format_money(item["counted"], currency, locale),
            "difference_minor": item["difference"],
            "difference": format_money(item["difference"], currency, locale),
            "payments": item["payments"],
            "collected_by": _text_cell(item["collected_by"]),
            "beyond_threshold": "true" if item["beyond_threshold"] else "false",
        })
    return rows


def collections_csv(rows: list[dict]) -> str:
    """CSV text with a UTF-8 BOM, like the revenue export."""
    buffer = io.StringIO()
    buffer.write("\ufeff")
    writer = csv.DictWriter(buffer, fieldnames=COLLECTION_CSV_COLUMNS, lineterminator="\r\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()
