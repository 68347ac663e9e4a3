"""A controlled clock for tests where time matters.

The app reads "now" from one place, ``kiosk.base.utcnow``, which calls
``kiosk.base.clock``. The fixture replaces that one name, so the whole app
follows (column defaults and ``from kiosk.base import utcnow`` copies
included) and nothing else in the process does.
"""
from __future__ import annotations

from datetime import datetime, timedelta

import kiosk.base


class Clock:
    def __init__(self, start: datetime):
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def set(self, moment: datetime) -> None:
        self.now = moment

    def advance(self, **delta) -> datetime:
        self.now += timedelta(**delta)
        return self.now


def install(monkeypatch, start: datetime) -> Clock:
    clock = Clock(start)
    monkeypatch.setattr(kiosk.base, "clock", clock)
    return clock
