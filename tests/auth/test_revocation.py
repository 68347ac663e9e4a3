"""Revocation: logout, deactivation, role and password changes end every earlier token at once
(401 token_revoked), with the version check cached in Redis and the database behind it."""
from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlalchemy import event

from kiosk import create_app
from kiosk.auth import revocation
from kiosk.extensions import db
from tests.conftest import make_config
from tests.factories import PASSWORD
from tests.fault_services import free_port
from tests.helpers import ApiClient


def _session(app, email: str) -> ApiClient:
    client = ApiClient(app.test_client())
    client.login(email)
    return client


def _user_id(app, email: str) -> str:
    from kiosk.auth.models import User
    from kiosk.tenancy import system_scope

    with app.app_context(), system_scope():
        return str(db.session.scalar(sa.select(User.id).where(User.email == email)))


def _assert_revoked(response) -> None:
    assert response.status_code == 401, response.get_data(True)[:200]
    assert response.get_json()["error"]["code"] == "token_revoked"
    assert response.get_json()["error"]["message"]


def test_logout_revokes_every_token_of_that_user(app, world):
    phone, desk = _session(app, world.a.agent_email), _session(app, world.a.agent_email)
    assert phone.get("/api/queues").status_code == 200
    response = phone.post("/auth/logout")
    assert response.status_code == 204 and not response.get_data()
    _assert_revoked(phone.get("/api/queues"))
    _assert_revoked(desk.get("/api/queues"))  # signed out everywhere
    _assert_revoked(phone.post("/auth/logout"))
    # Signing in again gives a working token; other users were never affected.
    assert _session(app, world.a.agent_email).get("/api/queues").status_code == 200


def test_logout_without_a_valid_token_is_401(client):
    assert client.post("/auth/logout").status_code == 401
    assert client.post("/auth/logout", headers={"Authorization": "Bearer x.y.z"}).status_code == 401


@pytest.mark.parametrize("change", [{"active": False}, {"role": "manager"}, {"password": "a brand new one"}])
def test_a_managers_change_revokes_the_users_tokens_at_once(app, world, change):
    agent = _session(app, world.a.agent_email)
    manager = _session(app, world.a.manager_email)
    assert agent.get("/api/queues").status_code == 200
    assert manager.patch(f"/api/users/{_user_id(app, world.a.agent_email)}", json=change).status_code == 200
    _assert_revoked(agent.get("/api/queues"))
    assert manager.get("/api/queues").status_code == 200  # the manager's own session is untouched


def test_changing_nothing_that_matters_revokes_nothing(app, world):
    agent = _session(app, world.a.agent_email)
    manager = _session(app, world.a.manager_email)
    agent_id = _user_id(app, world.a.agent_email)
    assert manager.patch(f"/api/users/{agent_id}", json={"role": "agent", "active": True}).status_code == 200
    assert agent.get("/api/queues").status_code == 200


def test_a_cached_version_check_costs_no_database_query(app, world):
    agent = _session(app, world.a.agent_email)
    assert agent.get("/api/queues").status_code == 200  # warms the cache
    user_id = _user_id(app, world.a.agent_email)
    statements = []
    with app.app_context():
        listener = lambda *args: statements.append(args[2])  # noqa: E731
        event.listen(db.engine, "before_cursor_execute", listener)
        try:
            assert revocation.current_version(user_id) == 0
        finally:
            event.remove(db.engine, "before_cursor_execute", listener)
    assert statements == []


def test_a_revocation_is_seen_through_a_stale_read(app, world, redis_url):
    """A reader that loaded the old version before the commit cannot put it back in the cache."""
    import redis as redis_lib

    agent = _session(app, world.a.agent_email)
    user_id = _user_id(app, world.a.agent_email)
    store = redis_lib.Redis.from_url(redis_url)
    agent.post("/auth/logout")
    # What a slow reader would do with the version it read before the commit: SET NX.
    assert not store.set(revocation.version_key(user_id), 0, nx=True)
    _assert_revoked(agent.get("/api/queues"))


@pytest.fixture
def redis_down_app(database_url, app):
    """The same database, with Redis unreachable (a closed port): every cache read fails."""
    down = create_app(make_config(database_url, f"redis://127.0.0.1:{free_port()}/0"))
    yield down
    app.extensions["celery"].set_default()
    with down.app_context():
        db.session.remove()
        db.engine.dispose()


def test_with_redis_down_the_database_decides_and_revocation_still_holds(app, redis_down_app, world):
    agent = _session(redis_down_app, world.a.agent_email)
    assert agent.get("/api/queues").status_code == 200
    assert agent.post("/auth/logout").status_code == 204
    _assert_revoked(agent.get("/api/queues"))
    # Revoked while Redis was up, checked while it is down: still refused.
    manager = _session(app, world.a.manager_email)
    assert manager.get("/api/queues").status_code == 200
    manager_elsewhere = ApiClient(redis_down_app.test_client())
    manager_elsewhere.headers = manager.headers
    assert manager_elsewhere.get("/api/queues").status_code == 200
    assert manager.post("/auth/logout").status_code == 204
    _assert_revoked(manager_elsewhere.get("/api/queues"))
    # And a deactivation made while Redis is down is seen by both.
    fresh_manager = _session(app, world.a.manager_email)
    other = _session(app, world.b.agent_email)
    down_manager = ApiClient(redis_down_app.test_client())
    down_manager.login(world.a.manager_email, PASSWORD)
    assert down_manager.patch(f"/api/users/{_user_id(app, world.a.agent_email)}",
                              json={"active": False}).status_code == 200
    assert fresh_manager.get("/api/queues").status_code == 200
    assert other.get("/api/queues").status_code == 200
