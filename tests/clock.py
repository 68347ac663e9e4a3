"""A controlled clock for tests where time matters.

The app reads "now" from one function, ``utcnow`` (CLOCK_MODULE), and every
module, column default and service goes through it. The fixture replaces the
``datetime`` that this one function reads, so a single patch moves the whole
app's clock (including ``from ... import utcnow`` copies and column defaults,
which hold the function itself) and nothing else in the process.
"""
from __future__ import annotations

import importlib
from datetime import datetime, timedelta, timezone

CLOCK_MODULE = "kiosk.auth.models"


class Clock:
    def __init__(self, start: datetime):
        self.now = start

    def set(self, moment: datetime) -> None:
        self.now = moment

    def advance(self, **delta) -> datetime:
        self.now += timedelta(**delta)
        return self.now


def install(monkeypatch, start: datetime) -> Clock:
    clock = Clock(start)

    class ControlledDatetime(datetime):
        @classmethod
        def now(cls, tz=None):  # noqa: ANN001, ANN206 - mirrors datetime.now
            return clock.now.astimezone(tz) if tz else clock.now.astimezone(timezone.utc).replace(tzinfo=None)

    monkeypatch.setattr(importlib.import_module(CLOCK_MODULE), "datetime", ControlledDatetime)
    return clock
