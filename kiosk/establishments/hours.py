"""Opening hours: when a quiet TV deserves a warning.

``Establishment.opening_hours`` is a JSON object keyed by weekday (``mon`` ..
``sun``), in the establishment's local time. A day holds one interval
``["08:00", "18:00"]`` or several ``[["08:00", "12:00"], ["14:00", "18:00"]]``;
an absent day (or ``[]``) is closed. An interval whose end is not after its
start runs past midnight (``["20:00", "02:00"]``). An empty object means the
default below: most walk-in establishments open on weekday and Saturday
daytimes, and a warning at 3 a.m. about a TV that is switched off is noise.

Malformed entries are ignored rather than raised on: this only decides
whether to show a warning, and a typo must not break the displays page.
"""
from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DEFAULT_OPENING_HOURS: dict = {day: [["08:00", "18:00"]] for day in DAYS[:6]}


def _parse_time(value) -> time | None:
    try:
        hours, minutes = str(value).split(":")
        if str(value) == "24:00":
            return time(23, 59, 59)
        return time(int(hours), int(minutes))
    except (ValueError, TypeError):
        return None


def intervals(opening_hours: dict | None, day: str) -> list[tuple[time, time]]:
    """The valid (start, end) pairs of one weekday."""
    hours = opening_hours or DEFAULT_OPENING_HOURS
    if not isinstance(hours, dict):
        hours = DEFAULT_OPENING_HOURS
    result = []
    for start_text, end_text in raw_intervals(hours, day):
        start, end = _parse_time(start_text), _parse_time(end_text)
        if start is not None and end is not None:
            result.append((start, end))
    return result


def raw_intervals(opening_hours, day: str) -> list[tuple]:
    """One weekday's well-shaped ``(start, end)`` pairs, still as written.

    A single interval or a list of them; anything that is not a pair is
    skipped. Callers parse the times by their own rule ("24:00" is the last
    second of the day for a TV, midnight for the service day's closing).
    """
    if not isinstance(opening_hours, dict):
        return []
    entries = opening_hours.get(day) or []
    if entries and not isinstance(entries[0], (list, tuple)):
        entries = [entries]
    return [tuple(entry) for entry in entries if isinstance(entry, (list, tuple)) and len(entry) == 2]


def is_open(opening_hours: dict | None, timezone: str, moment: datetime) -> bool:
    """Whether ``moment`` (aware) falls in the opening hours, in local time."""
    try:
        local = moment.astimezone(ZoneInfo(timezone))
    except (ZoneInfoNotFoundError, ValueError):
        local = moment
    now = local.time()
    today = DAYS[local.weekday()]
    yesterday = DAYS[(local - timedelta(days=1)).weekday()]
    for start, end in intervals(opening_hours, today):
        if start < end and start <= now < end:
            return True
        if end <= start and now >= start:  # opens today, closes after midnight
            return True
    return any(end <= start and now < end for start, end in intervals(opening_hours, yesterday))
