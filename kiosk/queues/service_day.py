"""The service day: the local date a ticket belongs to, and when that day closes.

Pure functions over an establishment's time zone and opening hours (no
database, no clock of their own).

``opening_hours`` is keyed by weekday (``mon`` .. ``sun``) in local time: one
interval ``["08:00", "18:00"]`` or several; an interval whose end is not after
its start runs past midnight (``["20:00", "02:00"]``).

- A day *closes* at the end of its last opening interval (the next morning
  for an interval past midnight), or at local midnight when the day has no
  opening hours (none configured at all, or none for that weekday).
- A ticket of that day still WAITING or CALLED then expires if it was issued
  before the closing. One issued after it (staff working late) is served as
  usual, and expires at the *deadline*: the later of the closing and the
  local midnight that ends its day. So no ticket ever reaches the next
  morning's waiting list.
"""
from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from kiosk.establishments.hours import raw_intervals

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
UTC = timezone.utc


def zone_of(tz_name: str) -> ZoneInfo:
    try:
        return ZoneInfo(tz_name)
    except (ZoneInfoNotFoundError, ValueError):
        # A time zone is validated when it is set; an old bad row still gets a calendar.
        return ZoneInfo("UTC")


def local_day(tz_name: str, moment: datetime) -> date:
    """The service day of an instant: its local date in the establishment's time zone."""
    return moment.astimezone(zone_of(tz_name)).date()


def _parse(value) -> time | None:
    text = str(value)
    if text == "24:00":
        return None  # handled as midnight by the caller
    try:
        hours, minutes = text.split(":")
        return time(int(hours), int(minutes))
    except (ValueError, TypeError):
        return None


def _intervals(opening_hours, weekday: str) -> list[tuple[time, time | None]]:
    """(start, end) of one weekday; an end of None means midnight (``24:00``). Malformed entries are skipped."""
    result = []
    for start_text, end_text in raw_intervals(opening_hours, weekday):
        start, end = _parse(start_text), _parse(end_text)
        if start is not None and (end is not None or str(end_text) == "24:00"):
            result.append((start, end))
    return result


def _at(day: date, moment: time, zone: ZoneInfo) -> datetime:
    # fold=0: on a DST fall-back night, the first of the two local times.
    return datetime.combine(day, moment, tzinfo=zone).astimezone(UTC)


def midnight_after(tz_name: str, day: date) -> datetime:
    """The UTC instant the local day ends."""
    return _at(day + timedelta(days=1), time(0), zone_of(tz_name))


def closing(tz_name: str, opening_hours, day: date) -> datetime:
    """The UTC instant the service day ``day`` closes (see the module docstring)."""
    zone = zone_of(tz_name)
    ends = []
    for start, end in _intervals(opening_hours, DAYS[day.weekday()]):
        if end is None:
            ends.append(midnight_after(tz_name, day))
        elif end <= start:
            ends.append(_at(day + timedelta(days=1), end, zone))
        else:
            ends.append(_at(day, end, zone))
    return max(ends) if ends else midnight_after(tz_name, day)


def deadline(tz_name: str, opening_hours, day: date) -> datetime:
    """When every ticket of ``day`` has expired, even one issued after the closing."""
    return max(closing(tz_name, opening_hours, day), midnight_after(tz_name, day))


def closed_days(tz_name: str, opening_hours, days, now: datetime) -> dict[date, tuple[datetime, datetime]]:
    """Of ``days``, those whose closing has passed at ``now``: ``{day: (closing, deadline)}``."""
    result = {}
    for day in days:
        closes = closing(tz_name, opening_hours, day)
        if now >= closes:
            result[day] = (closes, deadline(tz_name, opening_hours, day))
    return result
