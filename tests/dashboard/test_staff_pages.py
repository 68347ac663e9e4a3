"""The staff page, the activity log page and the dashboard's logout (which revokes)."""
from __future__ import annotations

import re

import pytest

from tests.dashboard.conftest import cookie, form_token, sign_in


def test_the_staff_page_is_for_managers_in_both_languages(manager, agent, client):
    page = manager.get("/dashboard/staff")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and page.headers["Cache-Control"] == "no-store"
    assert 'data-staff' in html and "/static/dashboard/staff.js" in html
    assert "Ajouter un membre du personnel" in html and 'href="/dashboard/staff"' in html
    assert "<script>" not in html and "onclick" not in html  # strict CSP
    english = manager.get("/dashboard/staff", headers={"Cookie": "lang=en"})
    manager.set_cookie("lang", "en")
    english = manager.get("/dashboard/staff").get_data(as_text=True)
    assert "Add a staff member" in english and "Activity log" in english
    assert agent.get("/dashboard/staff").status_code == 403
    assert client.get("/dashboard/staff").status_code == 302  # to the sign-in page


def test_staff_writes_from_the_page_need_the_csrf_header(manager, world):
    users = manager.get("/api/users")
    assert users.status_code == 200  # reads with the cookie alone
    body = {"email": "csrf@example.test", "password": "long enough", "role": "agent"}
    refused = manager.post("/api/users", json=body)
    assert refused.status_code == 401 and refused.get_json()["error"]["code"] == "csrf_failed"
    csrf = cookie(manager, "csrf_access_token").value
    assert manager.post("/api/users", json=body, headers={"X-CSRF-TOKEN": csrf}).status_code == 201


def test_the_activity_log_shows_who_did_what_in_local_time(manager, world):
    csrf = cookie(manager, "csrf_access_token").value
    manager.post(f"/api/devices/{world.a.device_id}/disable", headers={"X-CSRF-TOKEN": csrf})
    page = manager.get("/dashboard/audit")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    row = re.search(r'<tr data-action="device.disabled">(.*?)</tr>', html, re.S).group(1)
    assert world.a.manager_email in row and "Borne désactivée" in row and "Entrance kiosk" in row
    assert 'data-action="user.created"' in html and "Système" in html  # set-up, by the system
    manager.set_cookie("lang", "en")
    assert "Kiosk disabled" in manager.get("/dashboard/audit").get_data(as_text=True)
    empty = manager.get("/dashboard/audit?from=2020-01-01&to=2020-01-02").get_data(as_text=True)
    assert "data-action" not in empty
    assert manager.get("/dashboard/audit?from=2020-01-09&to=2020-01-02").status_code == 400


def test_the_activity_log_is_for_managers_only(agent):
    assert agent.get("/dashboard/audit").status_code == 403


def test_signing_out_of_the_dashboard_revokes_the_token(app, manager, world):
    token = cookie(manager, "access_token_cookie").value
    bearer = app.test_client()
    assert bearer.get("/api/queues", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    page = manager.get("/dashboard/staff").get_data(as_text=True)
    response = manager.post("/logout", data={"csrf_token": form_token(page)})
    assert response.status_code == 302 and response.headers["Location"].endswith("/login")
    # The cookie's token is dead everywhere, even if someone kept a copy.
    revoked = bearer.get("/api/queues", headers={"Authorization": f"Bearer {token}"})
    assert revoked.status_code == 401 and revoked.get_json()["error"]["code"] == "token_revoked"
    assert sign_in(app.test_client(), world.a.manager_email).status_code == 302


def test_a_deactivated_agent_is_sent_back_to_sign_in(app, manager, agent, world):
    csrf = cookie(manager, "csrf_access_token").value
    agent_id = next(u["id"] for u in manager.get("/api/users").get_json()["users"]
                    if u["email"] == world.a.agent_email)
    assert manager.patch(f"/api/users/{agent_id}", json={"active": False},
                         headers={"X-CSRF-TOKEN": csrf}).status_code == 200
    response = agent.get("/dashboard/counter")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
