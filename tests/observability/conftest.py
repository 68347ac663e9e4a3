from __future__ import annotations

import io
import json
import logging

import pytest


class LogCapture:
    """The app's real JSON formatter on an in-memory stream, every kiosk logger at DEBUG."""

    def __init__(self) -> None:
        from kiosk.observability.logging import json_formatter

        self.stream = io.StringIO()
        self.handler = logging.StreamHandler(self.stream)
        self.handler.setFormatter(json_formatter())

    @property
    def text(self) -> str:
        return self.stream.getvalue()

    def lines(self) -> list[dict]:
        return [json.loads(line) for line in self.text.splitlines() if line.strip()]

    def requests(self) -> list[dict]:
        return [line for line in self.lines() if line.get("logger") == "kiosk.request"]


@pytest.fixture
def logs():
    capture = LogCapture()
    root, kiosk_logger = logging.getLogger(), logging.getLogger("kiosk")
    previous = kiosk_logger.level
    root.addHandler(capture.handler)
    kiosk_logger.setLevel(logging.DEBUG)
    yield capture
    root.removeHandler(capture.handler)
    kiosk_logger.setLevel(previous)


@pytest.fixture(autouse=True)
def session_app_stays_default(app):
    """Tests that build a second app (other settings) leave the session app's Celery as the default."""
    yield
    app.extensions["celery"].set_default()
