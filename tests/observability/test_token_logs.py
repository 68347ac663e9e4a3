"""Tracking and display tokens are bearer secrets: the real JSON formatter's output
shows the route template and at most a token's first four characters."""
from __future__ import annotations

import io
import json
import logging
import time

import pytest
import sqlalchemy as sa

from kiosk.observability.logging import json_formatter
from kiosk.observability.sentry import before_breadcrumb, before_send
from tests.display.conftest import connect, live_server, receive  # noqa: F401 - fixture reused


@pytest.fixture
def log_output():
    """What the production handler would write: the real formatter, on the root logger."""
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    handler.setFormatter(json_formatter())
    root = logging.getLogger()
    root.addHandler(handler)
    yield buffer
    root.removeHandler(handler)


def _lines(buffer: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in buffer.getvalue().splitlines() if line.strip()]


def _request_line(buffer, route: str, timeout: float = 5) -> dict:
    deadline = time.time() + timeout
    while time.time() < deadline:
        for line in _lines(buffer):
            if line.get("message") == "request" and line.get("route") == route:
                return line
        time.sleep(0.05)
    raise AssertionError(f"no request line for {route}: {buffer.getvalue()[-2000:]}")


def _assert_token_hidden(output: str, token: str) -> None:
    assert token not in output
    assert token[:5] not in output  # four characters at most


def _tracking_token(app, world) -> str:
    from kiosk.extensions import db
    from kiosk.queues.models import Ticket
    from kiosk.tenancy import tenant_scope

    with app.app_context(), tenant_scope(world.a.id):
        return db.session.scalar(sa.select(Ticket.tracking_token).limit(1))


def test_a_ticket_page_is_logged_by_its_route_template(client, app, world, log_output):
    token = _tracking_token(app, world)
    assert client.get(f"/t/{token}").status_code == 200
    line = _request_line(log_output, "/t/<token>")
    assert line["path"] == f"/t/{token[:4]}..." and line["status"] == 200
    _assert_token_hidden(log_output.getvalue(), token)


def test_a_tv_poll_is_logged_by_its_route_template(client, world, log_output):
    token = world.a.display_token
    assert client.get(f"/display/{token}/state.json").status_code == 200
    line = _request_line(log_output, "/display/<token>/state.json")
    assert line["path"] == f"/display/{token[:4]}.../state.json"
    _assert_token_hidden(log_output.getvalue(), token)


def test_a_display_websocket_is_logged_by_its_route_template(world, live_server, log_output):
    token = world.a.display_token
    ws = connect(live_server, token)
    assert receive(ws)["type"] == "snapshot"
    ws.close()
    line = _request_line(log_output, "/ws/display/<token>")
    assert line["path"] == f"/ws/display/{token[:4]}..."
    _assert_token_hidden(log_output.getvalue(), token)


def test_unknown_tokens_and_error_logs_are_cut_too(client, log_output):
    token = "Zq9-unknown_token_value_1234567890"
    client.get(f"/t/{token}.json")
    client.get(f"/display/{token}")
    logging.getLogger("kiosk.test").error("upstream failed for https://kiosk.example/display/%s?x=1", token)
    logging.getLogger("kiosk.test").warning("socket", extra={"url": f"/ws/display/{token}"})
    output = log_output.getvalue()
    _assert_token_hidden(output, token)
    lines = _lines(log_output)
    assert {"/t/Zq9-....json", "/display/Zq9-..."} <= {line.get("path") for line in lines}
    assert "https://kiosk.example/display/Zq9-...?x=1" in lines[-2]["message"]
    assert lines[-1]["url"] == "/ws/display/Zq9-..."


def test_sentry_breadcrumbs_and_events_keep_four_characters_at_most():
    token = "AbCdEfGhIjKlMnOpQrStUvWx"
    crumb = before_breadcrumb({"message": f"GET /t/{token}", "data": {"url": f"http://x/display/{token}"}}, None)
    event = before_send({"request": {"url": f"http://x/ws/display/{token}"}, "transaction": f"/t/{token}",
                         "breadcrumbs": {"values": [{"message": f"/display/{token}/state.json"}]}}, None)
    _assert_token_hidden(json.dumps(crumb) + json.dumps(event), token)
    assert crumb["message"] == "GET /t/AbCd..."
