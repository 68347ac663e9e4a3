"""Revocation: logout, deactivation, role and password changes end every earlier token at once
(401 token_revoked), with the version check cached in Redis and the database behind it."""
from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlalchemy import event

from kiosk.auth import revocation
from kiosk.extensions import db
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
def redis_outage():
    """Points the app's Redis client at a closed port (every cache call fails) until ``end()``."""
    import redis as redis_lib

    from kiosk.extensions import redis_client

    saved = redis_client._client  # noqa: SLF001 - the fault is injected from outside the app

    class Outage:
        def start(self):
            redis_client._client = redis_lib.Redis(port=free_port(), socket_connect_timeout=0.2)  # noqa: SLF001

        def end(self):
            redis_client._client = saved  # noqa: SLF001

    outage = Outage()
    yield outage
    outage.end()


def test_with_redis_down_the_database_decides_and_revocation_still_holds(app, world, redis_url, redis_outage):
    import redis as redis_lib

    agent, manager = _session(app, world.a.agent_email), _session(app, world.a.manager_email)
    assert agent.get("/api/queues").status_code == 200 and manager.get("/api/queues").status_code == 200
    redis_outage.start()
    # Valid tokens still work (the database answers), and revocations take effect at once.
    assert agent.get("/api/queues").status_code == 200
    assert agent.post("/auth/logout").status_code == 204
    _assert_revoked(agent.get("/api/queues"))
    assert manager.patch(f"/api/users/{_user_id(app, world.a.agent_email)}", json={"active": False}).status_code == 200
    assert _session(app, world.a.manager_email).get("/api/queues").status_code == 200
    # Redis comes back empty (it keeps nothing on disk here): still refused, and re-cached right.
    redis_lib.Redis.from_url(redis_url).flushdb()
    redis_outage.end()
    _assert_revoked(agent.get("/api/queues"))
    assert manager.get("/api/queues").status_code == 200


def test_a_cache_entry_missed_by_a_writer_lives_at_most_a_minute(app, world, redis_url, redis_outage):
    """The one window left (documented): a writer cut off from a Redis that kept its data."""
    import redis as redis_lib

    agent = _session(app, world.a.agent_email)
    assert agent.get("/api/queues").status_code == 200  # cached
    redis_outage.start()
    assert agent.post("/auth/logout").status_code == 204
    redis_outage.end()
    ttl = redis_lib.Redis.from_url(redis_url).ttl(revocation.version_key(_user_id(app, world.a.agent_email)))
    assert 0 < ttl <= revocation.CACHE_SECONDS <= 60
