"""Displays API (managers), the TV page, state.json and the service worker route."""
from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta, timezone

import sqlalchemy as sa

from tests.display.conftest import call_ticket, issue
from tests.factories import PASSWORD


def _manager(api, tenant):
    api.login(tenant.manager_email)
    return api


def test_a_manager_creates_a_display_and_gets_its_token_and_url(api, world):
    response = _manager(api, world.a).post("/api/displays", json={"label": "Hall TV"})
    assert response.status_code == 201
    body = response.get_json()
    assert set(body) >= {"id", "token", "url"}
    assert len(body["token"]) >= 32
    assert body["url"] == f"http://localhost/display/{body['token']}"
    listed = api.get("/api/displays").get_json()["displays"]
    assert [d["label"] for d in listed] == ["Waiting room", "Hall TV"]


def test_the_list_shows_last_heartbeat_and_health(app, api, world):
    from kiosk.display.models import Display
    from kiosk.extensions import db
    from kiosk.tenancy import tenant_scope

    with app.app_context(), tenant_scope(world.a.id):
        display = db.session.execute(sa.select(Display)).scalar_one()
        display.last_heartbeat = datetime.now(timezone.utc) - timedelta(seconds=30)
        db.session.commit()
    listed = _manager(api, world.a).get("/api/displays").get_json()["displays"]
    assert listed[0]["last_heartbeat"] is not None
    assert listed[0]["status"] == "live"
    assert 25 <= listed[0]["quiet_for_seconds"] <= 40
    assert listed[0]["warning"] is None


def test_display_creation_validates_its_input(api, world):
    _manager(api, world.a)
    for body in ({}, {"label": ""}, {"label": "x" * 121}, {"label": 12}, {"label": "ok", "token": "mine"}):
        response = api.post("/api/displays", json=body)
        assert response.status_code == 400, body
        assert response.get_json()["error"]["code"] == "validation_error"
    assert api.post("/api/displays", data="label", headers={"Content-Type": "text/plain"}).status_code == 415


def test_agents_cannot_manage_displays(api, world):
    api.login(world.a.agent_email)
    assert api.get("/api/displays").status_code == 403
    assert api.post("/api/displays", json={"label": "x"}).status_code == 403


def test_unauthenticated_calls_are_refused(client):
    assert client.get("/api/displays").status_code == 401


def test_rename_and_revoke(api, client, world):
    _manager(api, world.a)
    renamed = api.patch(f"/api/displays/{world.a.display_id}", json={"label": "Entrance"})
    assert renamed.status_code == 200 and renamed.get_json()["label"] == "Entrance"
    assert client.get(f"/display/{world.a.display_token}").status_code == 200
    revoked = api.post(f"/api/displays/{world.a.display_id}/revoke")
    assert revoked.status_code == 200
    assert revoked.get_json()["status"] == "revoked" and revoked.get_json()["revoked_at"]
    assert api.post(f"/api/displays/{world.a.display_id}/revoke").status_code == 200  # idempotent
    assert client.get(f"/display/{world.a.display_token}").status_code == 404
    state = client.get(f"/display/{world.a.display_token}/state.json")
    assert state.status_code == 404 and state.get_json()["error"]["code"] == "not_found"


def test_another_tenants_display_is_not_found(api, world):
    _manager(api, world.a)
    other = world.b.display_id
    assert api.get(f"/api/displays/{other}").status_code == 404
    assert api.patch(f"/api/displays/{other}", json={"label": "mine now"}).status_code == 404
    assert api.post(f"/api/displays/{other}/revoke").status_code == 404
    assert api.get(f"/api/displays/{uuid.uuid4()}").status_code == 404
    assert api.get("/api/displays/not-a-uuid").status_code == 404
    assert [d["id"] for d in api.get("/api/displays").get_json()["displays"]] == [world.a.display_id]


def test_the_tv_page_is_csp_clean_and_carries_the_contract_hooks(client, world):
    response = client.get(f"/display/{world.a.display_token}")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert 'data-connection="' in html and "data-latest-call" in html
    assert "<script>" not in html and "style=" not in html and "onclick" not in html
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    assert '<html lang="fr">' in html  # the establishment's locale
    assert "/static/display/waiting-display.js?v=" in html


def test_unknown_tokens_are_not_found(client):
    assert client.get("/display/no-such-token-at-all-000000").status_code == 404
    assert client.get("/display/no-such-token-at-all-000000/state.json").status_code == 404


def test_state_json_is_the_snapshot_with_calls_next_tickets_and_vip_marked(app, client, world):
    vip = issue(app, world.a.id, world.a.queue_id, "VIP")
    call_ticket(app, world.a.id, world.a.extra["ticket_id"], "2")
    issue(app, world.a.id, world.a.queue_id)
    response = client.get(f"/display/{world.a.display_token}/state.json")
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    state = response.get_json()
    assert state["type"] == "snapshot" and state["seq"] >= 3
    general = state["queues"][0]
    assert general["waiting"] == 2
    assert [(t["code"], t["vip"]) for t in general["next"]] == [("VA-001", True), ("A-002", False)]
    assert general["next"][0]["ticket_id"] == vip
    assert [(s["counter"], s["code"]) for s in state["now_serving"]] == [("2", "A-001")]
    assert state["recent_calls"][0]["code"] == "A-001"
    assert "tracking_token" not in json.dumps(state)


def test_a_served_ticket_leaves_now_serving_but_stays_in_recent_calls(app, client, world):
    from kiosk.extensions import db
    from kiosk.queues.models import Ticket
    from kiosk.tenancy import tenant_scope

    call_ticket(app, world.a.id, world.a.extra["ticket_id"], "1")
    with app.app_context(), tenant_scope(world.a.id):
        db.session.execute(sa.update(Ticket).values(status="SERVED"))
        db.session.commit()
    state = client.get(f"/display/{world.a.display_token}/state.json").get_json()
    assert state["now_serving"] == []
    assert [c["code"] for c in state["recent_calls"]] == ["A-001"]


def test_polling_state_json_records_a_heartbeat(app, client, world):
    from kiosk.display import services

    services._heartbeat_written.clear()
    client.get(f"/display/{world.a.display_token}/state.json")
    with app.test_client() as manager:
        from tests.helpers import ApiClient

        api = ApiClient(manager)
        api.login(world.a.manager_email)
        assert api.get("/api/displays").get_json()["displays"][0]["status"] == "live"


def test_the_service_worker_is_served_for_the_display_scope(client):
    response = client.get("/display/sw.js")
    assert response.status_code == 200
    assert response.headers["Service-Worker-Allowed"] == "/display/"
    assert response.mimetype == "text/javascript"
    assert response.headers["Cache-Control"] == "no-cache"


def _cookie_login(client, email):
    """Log in as the dashboard does: the JWT in an HttpOnly cookie, plus the CSRF cookie."""
    import jwt as pyjwt

    token = client.post("/auth/login", json={"email": email, "password": PASSWORD}).get_json()["access_token"]
    client.set_cookie("access_token_cookie", token)
    client.set_cookie("csrf_access_token", pyjwt.decode(token, options={"verify_signature": False})["csrf"])
    return token


def test_the_displays_page_is_for_managers(app, world):
    with app.test_client() as anonymous:
        response = anonymous.get("/dashboard/displays")
        assert response.status_code == 302 and response.headers["Location"].startswith("/login")
    with app.test_client() as agent:
        _cookie_login(agent, world.a.agent_email)
        assert agent.get("/dashboard/displays").status_code == 403
    with app.test_client() as manager:
        _cookie_login(manager, world.a.manager_email)
        page = manager.get("/dashboard/displays")
        assert page.status_code == 200
        html = page.get_data(as_text=True)
        assert "/static/display/manage.js?v=" in html and "<script>" not in html and "style=" not in html
