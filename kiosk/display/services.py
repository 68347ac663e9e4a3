"""Displays (TV screens): tokens, state snapshots, heartbeats."""
from __future__ import annotations

import secrets

from kiosk.display.models import Display
from kiosk.extensions import db


def create_display(label: str) -> Display:
    display = Display(label=label, token=secrets.token_urlsafe(24))
    db.session.add(display)
    db.session.commit()
    return display
