"""Revocation versions cached in each process (kiosk.local_cache), dropped everywhere through Redis pub/sub.

The guarantee: a logout, a deactivation or a password change is refused by
every web process within a second; a process that is not listening, or
whose Redis went silent, reads Redis or the database instead (fail closed).
"""
from __future__ import annotations

import json
import os
import signal
import time
import types
import urllib.error
import urllib.request

import pytest
import redis as redis_lib
import sqlalchemy as sa

from kiosk import local_cache
from kiosk.auth import revocation
from kiosk.extensions import db
from tests.display.conftest import gunicorn_server  # noqa: F401 - the fixture
from tests.factories import PASSWORD
from tests.fault_services import PrivateRedis
from tests.helpers import ApiClient


def _user_id(app, email: str) -> str:
    from kiosk.auth.models import User
    from kiosk.tenancy import system_scope

    with app.app_context(), system_scope():
        return str(db.session.scalar(sa.select(User.id).where(User.email == email)))


def _token(app, email: str) -> str:
    client = ApiClient(app.test_client())
    client.login(email)
    return client.headers["Authorization"]


def test_a_hit_costs_no_redis_round_trip(app, world, redis_url):
    """Proof that the version is cached: changed in Redis behind the app, the copy is still served."""
    agent = ApiClient(app.test_client())
    agent.login(world.a.agent_email)
    assert agent.get("/api/queues").status_code == 200
    assert revocation.local_cache().wait_until_listening(5)
    assert agent.get("/api/queues").status_code == 200  # now held by the process
    user_id = _user_id(app, world.a.agent_email)
    redis_lib.Redis.from_url(redis_url).set(revocation.version_key(user_id), 7)
    assert agent.get("/api/queues").status_code == 200  # from the process's copy
    revocation.local_cache().drop(user_id)  # what the TTL does at the latest
    response = agent.get("/api/queues")
    assert (response.status_code, response.get_json()["error"]["code"]) == (401, "token_revoked")


def test_the_ttl_is_the_safety_net(app, world, redis_url, monkeypatch):
    agent = ApiClient(app.test_client())
    agent.login(world.a.agent_email)
    assert agent.get("/api/queues").status_code == 200
    assert revocation.local_cache().wait_until_listening(5)
    assert agent.get("/api/queues").status_code == 200
    redis_lib.Redis.from_url(redis_url).set(revocation.version_key(_user_id(app, world.a.agent_email)), 7)
    assert revocation.LOCAL_TTL_SECONDS <= 10
    later = types.SimpleNamespace(monotonic=lambda: time.monotonic() + revocation.LOCAL_TTL_SECONDS + 0.1,
                                  sleep=time.sleep)
    monkeypatch.setattr(local_cache, "time", later)
    assert agent.get("/api/queues").status_code == 401


def test_a_silent_redis_stops_the_copies_being_served():
    """A hung Redis (or a cut link) closes no socket: the heartbeat's silence alone must stop the dict."""
    private = PrivateRedis().start()
    cache = local_cache.LocalCache("test:silent", ttl_seconds=600)
    fake_app = types.SimpleNamespace(extensions={"redis": types.SimpleNamespace(embedded=False, client=None)},
                                     config={"REDIS_URL": private.url})
    loads = []
    try:
        cache.get_or_load("k", lambda: loads.append(1) or "v", fake_app)
        assert cache.wait_until_listening(5)
        cache.get_or_load("k", lambda: loads.append(1) or "v", fake_app)
        cache.get_or_load("k", lambda: loads.append(1) or "v", fake_app)
        assert len(loads) == 2  # the first load was before the subscription: not stored
        os.kill(private.process.pid, signal.SIGSTOP)
        deadline = time.monotonic() + local_cache.SILENCE_SECONDS + 3
        while len(loads) == 2 and time.monotonic() < deadline:
            cache.get_or_load("k", lambda: loads.append(1) or "v", fake_app)
            time.sleep(0.05)
        assert len(loads) == 3, "the copy was still served with Redis silent"
        # Resumed: the listener hears Redis again, starts empty, and caches again.
        os.kill(private.process.pid, signal.SIGCONT)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            before = len(loads)
            cache.get_or_load("k", lambda: loads.append(1) or "v", fake_app)
            cache.get_or_load("k", lambda: loads.append(1) or "v", fake_app)
            if len(loads) == before + 1:
                break
            time.sleep(0.05)
        else:
            pytest.fail("the cache never served again after Redis came back")
    finally:
        cache.stop()
        os.kill(private.process.pid, signal.SIGCONT)
        private.stop()


# --- real web processes ------------------------------------------------------------------------------

def _answer(address: str, token: str) -> tuple[int, str | None]:
    request = urllib.request.Request(f"http://{address}/api/queues", headers={"Authorization": token})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, None
    except urllib.error.HTTPError as exc:
        body = json.loads(exc.read() or b"{}")
        return exc.code, (body.get("error") or {}).get("code")


def _seconds_until_refused(address: str, token: str, limit: float = 5) -> float:
    started = time.monotonic()
    while True:
        answer = _answer(address, token)
        elapsed = time.monotonic() - started
        if answer == (401, "token_revoked"):
            return elapsed
        if elapsed > limit:
            pytest.fail(f"{address} still answers {answer} after {limit} s")
        time.sleep(0.01)


def _warm(servers, token: str) -> None:
    for server in servers:
        for _ in range(3):  # every process holds the version in its cache
            assert _answer(server.address, token) == (200, None)
    time.sleep(0.5)


@pytest.mark.slow
def test_every_web_process_refuses_a_revoked_token_within_a_second(app, world, gunicorn_server):
    servers = [gunicorn_server(), gunicorn_server()]
    agent_id = _user_id(app, world.a.agent_email)

    # Logout, through one of the processes: the other must follow.
    token = _token(app, world.a.agent_email)
    _warm(servers, token)
    request = urllib.request.Request(f"http://{servers[0].address}/auth/logout", method="POST",
                                     headers={"Authorization": token})
    assert urllib.request.urlopen(request, timeout=5).status == 204
    waits = [_seconds_until_refused(s.address, token) for s in servers]
    print("logout: seconds until refused, per process:", [round(w, 3) for w in waits])
    assert max(waits) < 1.0, waits

    # A manager's password change and deactivation (in a third process: the test's app).
    manager = ApiClient(app.test_client())
    manager.login(world.a.manager_email, PASSWORD)
    for change in ({"password": "another one entirely"}, {"active": False}):
        token = _token(app, world.a.agent_email) if change.get("active") is None else token
        _warm(servers, token)
        assert manager.patch(f"/api/users/{agent_id}", json=change).status_code == 200
        waits = [_seconds_until_refused(s.address, token) for s in servers]
        print(f"{change}: seconds until refused, per process:", [round(w, 3) for w in waits])
        assert max(waits) < 1.0, waits
        if "password" in change:  # signs in with the new password for the next round
            client = ApiClient(app.test_client())
            client.login(world.a.agent_email, "another one entirely")
            token = client.headers["Authorization"]


@pytest.mark.slow
def test_with_redis_gone_a_process_stops_trusting_its_copies(app, world, gunicorn_server, owner_engine):
    """Redis dies; a revocation committed meanwhile (its messages lost) is refused at once: the database decides."""
    private = PrivateRedis().start()
    try:
        server = gunicorn_server(redis=private.url)
        token = _token(app, world.a.agent_email)
        _warm([server], token)
        private.stop()
        with owner_engine.begin() as conn:
            conn.execute(sa.text("UPDATE users SET token_version = token_version + 1 WHERE email = :e"),
                         {"e": world.a.agent_email})
        wait = _seconds_until_refused(server.address, token)
        print("seconds until refused with Redis down:", round(wait, 3))
        assert wait < 1.0
        # Valid tokens still work meanwhile (the database answers), and keep working once Redis is back.
        fresh = _token(app, world.a.agent_email)
        assert _answer(server.address, fresh) == (200, None)
        private.start()
        deadline = time.monotonic() + 15
        while _answer(server.address, token) != (401, "token_revoked") or _answer(server.address, fresh) != (200, None):
            assert time.monotonic() < deadline
            time.sleep(0.2)
    finally:
        private.stop()
