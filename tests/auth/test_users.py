"""Staff accounts run by managers: /api/users (contract section 5, "Staff accounts")."""
from __future__ import annotations

import uuid

import pytest
import sqlalchemy as sa

from kiosk.audit.models import AuditEvent
from kiosk.auth.models import User
from kiosk.extensions import db
from kiosk.tenancy import tenant_scope
from tests.factories import PASSWORD, make_user
from tests.helpers import ApiClient, run_threads

NEW_PASSWORD = "another good secret"


@pytest.fixture
def manager(api, world):
    api.login(world.a.manager_email)
    return api


def _user_id(app, email: str) -> str:
    with app.app_context():
        from kiosk.tenancy import system_scope

        with system_scope():
            return str(db.session.scalar(sa.select(User.id).where(User.email == email)))


def _error(response) -> str:
    return response.get_json()["error"]["code"]


def test_a_manager_adds_an_agent_who_can_then_sign_in(manager, client):
    response = manager.post("/api/users", json={"email": "New.Agent@Example.test", "password": NEW_PASSWORD,
                                                "role": "agent"})
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert set(body) >= {"id", "email", "role", "active"} and "password" not in str(body).lower()
    assert (body["email"], body["role"], body["active"]) == ("new.agent@example.test", "agent", True)
    listed = manager.get("/api/users").get_json()["users"]
    assert body["id"] in [u["id"] for u in listed]
    assert all("password" not in u and "password_hash" not in u for u in listed)
    assert client.post("/auth/login", json={"email": "new.agent@example.test",
                                            "password": NEW_PASSWORD}).status_code == 200


def test_an_email_in_use_anywhere_is_409_email_taken(manager, world):
    for email in (world.a.agent_email, world.b.agent_email, world.a.agent_email.upper()):
        response = manager.post("/api/users", json={"email": email, "password": NEW_PASSWORD, "role": "agent"})
        assert (response.status_code, _error(response)) == (409, "email_taken")


def test_the_list_shows_only_the_own_establishment(manager, world):
    emails = {u["email"] for u in manager.get("/api/users").get_json()["users"]}
    assert emails == {world.a.manager_email, world.a.agent_email}


def test_another_establishments_user_is_404_and_unchanged(manager, world, app):
    other = _user_id(app, world.b.agent_email)
    for body in ({"active": False}, {"role": "manager"}, {"password": NEW_PASSWORD}, {"role": "nonsense"}):
        response = manager.patch(f"/api/users/{other}", json=body)
        assert (response.status_code, _error(response)) == (404, "not_found")
    for unknown in (str(uuid.uuid4()), "not-a-uuid"):
        assert manager.patch(f"/api/users/{unknown}", json={"active": False}).status_code == 404
    api_b = ApiClient(app.test_client())
    api_b.login(world.b.agent_email)  # still active, same password


@pytest.mark.parametrize("body, field", [
    ({"email": "x@example.test", "password": "short", "role": "agent"}, "password"),
    ({"email": "not-an-email", "password": NEW_PASSWORD, "role": "agent"}, "email"),
    ({"email": "x@example.test", "password": NEW_PASSWORD, "role": "owner"}, "role"),
    ({"email": "x@example.test", "password": NEW_PASSWORD}, "role"),
    ({"email": "x@example.test", "password": NEW_PASSWORD, "role": "agent", "active": True}, "active"),
])
def test_bad_new_users_are_validation_errors(manager, body, field):
    response = manager.post("/api/users", json=body)
    assert (response.status_code, _error(response)) == (400, "validation_error")
    assert field in response.get_json()["error"]["details"]


@pytest.mark.parametrize("body", [{}, {"active": "false"}, {"active": 0}, {"role": "boss"},
                                  {"password": "1234567"}, {"password": None}, {"email": "x@example.test"}])
def test_bad_changes_are_validation_errors_and_change_nothing(manager, world, app, body):
    agent = _user_id(app, world.a.agent_email)
    response = manager.patch(f"/api/users/{agent}", json=body)
    assert (response.status_code, _error(response)) == (400, "validation_error")
    ApiClient(app.test_client()).login(world.a.agent_email)


def test_agents_cannot_manage_staff(api, world, app):
    api.login(world.a.agent_email)
    assert api.get("/api/users").status_code == 403
    assert api.post("/api/users", json={"email": "x@example.test", "password": NEW_PASSWORD,
                                        "role": "manager"}).status_code == 403
    assert api.patch(f"/api/users/{_user_id(app, world.a.agent_email)}", json={"role": "manager"}).status_code == 403


def test_a_deactivated_user_cannot_sign_in_and_a_reactivated_one_can(manager, world, app, client):
    agent = _user_id(app, world.a.agent_email)
    body = manager.patch(f"/api/users/{agent}", json={"active": False}).get_json()
    assert body["active"] is False
    refused = client.post("/auth/login", json={"email": world.a.agent_email, "password": PASSWORD})
    assert (refused.status_code, _error(refused)) == (401, "invalid_credentials")  # same answer as a wrong password
    assert manager.patch(f"/api/users/{agent}", json={"active": True}).status_code == 200
    again = ApiClient(app.test_client())
    again.login(world.a.agent_email)
    assert again.get("/api/queues").status_code == 200  # the cache did not keep "inactive"


def test_a_password_reset_replaces_the_password(manager, world, app, client):
    agent = _user_id(app, world.a.agent_email)
    assert manager.patch(f"/api/users/{agent}", json={"password": NEW_PASSWORD}).status_code == 200
    assert client.post("/auth/login", json={"email": world.a.agent_email, "password": PASSWORD}).status_code == 401
    assert client.post("/auth/login", json={"email": world.a.agent_email,
                                            "password": NEW_PASSWORD}).status_code == 200


@pytest.mark.parametrize("body", [{"active": False}, {"role": "agent"}, {"role": "agent", "active": False}])
def test_the_last_manager_cannot_deactivate_or_demote_themself(manager, world, app, body):
    me = _user_id(app, world.a.manager_email)
    response = manager.patch(f"/api/users/{me}", json=body)
    assert (response.status_code, _error(response)) == (409, "last_manager")
    assert response.get_json()["error"]["message"]
    assert manager.get("/api/users").status_code == 200  # still a manager, still signed in


def test_with_a_second_manager_one_may_step_down(manager, world, app):
    with app.app_context():
        second = make_user(world.a.id, "manager")
    me = _user_id(app, world.a.manager_email)
    assert manager.patch(f"/api/users/{me}", json={"role": "agent"}).status_code == 200
    other = ApiClient(app.test_client())
    other.login(second.email)
    # ...and now the remaining one is the last.
    response = other.patch(f"/api/users/{second.id}", json={"active": False})
    assert (response.status_code, _error(response)) == (409, "last_manager")
    # An inactive manager is not counted: deactivating another agent is fine.
    assert other.patch(f"/api/users/{_user_id(app, world.a.agent_email)}", json={"active": False}).status_code == 200


def test_two_managers_demoting_each_other_at_once_leave_one_manager(app, world):
    with app.app_context():
        second = make_user(world.a.id, "manager")
    first = _user_id(app, world.a.manager_email)
    clients = [ApiClient(app.test_client()), ApiClient(app.test_client())]
    clients[0].login(world.a.manager_email)
    clients[1].login(second.email)
    targets = [str(second.id), first]

    def work(index: int) -> int:
        return clients[index].patch(f"/api/users/{targets[index]}", json={"active": False}).status_code

    statuses = run_threads(app, 2, work)
    assert sorted(statuses) == [200, 409]
    with app.app_context(), tenant_scope(world.a.id):
        active = db.session.scalars(sa.select(User).where(User.role == "manager", User.active.is_(True))).all()
    assert len(active) == 1


def test_every_staff_change_is_audited_with_its_actor(manager, world, app):
    me = _user_id(app, world.a.manager_email)
    created = manager.post("/api/users", json={"email": "audited@example.test", "password": NEW_PASSWORD,
                                               "role": "agent"}).get_json()
    manager.patch(f"/api/users/{created['id']}", json={"role": "manager"})
    manager.patch(f"/api/users/{created['id']}", json={"password": NEW_PASSWORD + "!"})
    manager.patch(f"/api/users/{created['id']}", json={"active": False})
    with app.app_context(), tenant_scope(world.a.id):
        events = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.target_id == created["id"])
                                    .order_by(AuditEvent.occurred_at)).all()
    assert [e.action for e in events] == ["user.created", "user.role_changed", "user.password_reset",
                                          "user.deactivated"]
    assert {str(e.actor_id) for e in events} == {me}
    assert events[1].details == {"email": "audited@example.test", "from": "agent", "to": "manager"}
    assert NEW_PASSWORD not in str([e.details for e in events])
