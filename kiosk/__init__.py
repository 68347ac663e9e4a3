"""Kiosk: paid priority queueing. ``create_app`` is the only entry point."""
from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from flask import Flask


def create_app(config: dict | None = None) -> "Flask":
    """Build the app (kiosk/app.py).

    Imported on call, not with the package: gunicorn's master imports
    ``kiosk.observability.logging`` for its log format before any worker
    exists, and must not load the whole app (workers monkey-patch for
    gevent first, and metrics need their multi-process directory).
    """
    from kiosk.app import create_app as build

    return build(config)
