"""Retry-After means "come back later": only 429 and 503 carry it."""
from __future__ import annotations

import sqlalchemy as sa

from tests.factories import PASSWORD


def _tracking_token(app, world) -> str:
    from kiosk.extensions import db
    from kiosk.queues.models import Ticket
    from kiosk.tenancy import system_scope

    with app.app_context(), system_scope():
        return db.session.execute(sa.select(Ticket.tracking_token).where(
            Ticket.id == world.a.extra["ticket_id"])).scalar_one()


def test_ordinary_responses_carry_no_retry_after(app, client, api, world, device_client):
    api.login(world.a.manager_email)
    token = _tracking_token(app, world)
    responses = {
        "health": client.get("/health"),
        "static": client.get("/static/display/sw.js"),
        "unknown api": client.get("/api/nothing-here"),
        "unauthenticated": client.get("/api/queues"),
        "authenticated": api.get("/api/queues"),
        "tracking json (flask-limiter limits)": client.get(f"/t/{token}.json"),
        "login": client.post("/auth/login", json={"email": world.a.agent_email, "password": PASSWORD}),
        "bad login": client.post("/auth/login", json={"email": world.a.agent_email, "password": "nope"}),
        "signed device request": device_client(world.a.device_id, world.a.device_secret).get("/iot/payments/x"),
    }
    for name, response in responses.items():
        assert response.status_code not in (429, 503), name
        assert "Retry-After" not in response.headers, (name, response.status_code)


def test_flask_limiter_429_has_retry_after_and_error_shape(app, client, world):
    token = _tracking_token(app, world)
    app.config["TRACKING_TOKEN_LIMIT"] = "2/minute"
    try:
        statuses = [client.get(f"/t/{token}.json") for _ in range(3)]
    finally:
        app.config.pop("TRACKING_TOKEN_LIMIT")
    assert [r.status_code for r in statuses[:2]] == [200, 200]
    limited = statuses[2]
    assert limited.status_code == 429
    assert limited.get_json()["error"]["code"] == "rate_limited"
    assert 1 <= int(limited.headers["Retry-After"]) <= 61
    assert "Retry-After" not in statuses[0].headers


def test_login_lockout_429_keeps_its_own_retry_after(client, world):
    for _ in range(5):
        client.post("/auth/login", json={"email": world.a.manager_email, "password": "x"})
    locked = client.post("/auth/login", json={"email": world.a.manager_email, "password": PASSWORD})
    assert locked.status_code == 429
    # The login window is 15 minutes: the header says so, not the 60 s of a per-minute limit.
    assert 60 < int(locked.headers["Retry-After"]) <= 15 * 60 + 1
