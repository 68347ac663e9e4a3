"""Rate limits on the real Redis store: per identity, per IP on auth failures, login lockout, exemptions."""
from __future__ import annotations

import uuid

import pytest
import redis as redis_lib
from limits.storage import RedisStorage
from limits.strategies import MovingWindowRateLimiter

from kiosk import security
from tests.display.conftest import connect, live_server, receive  # noqa: F401 - fixture reused
from tests.factories import PASSWORD


@pytest.fixture
def store(redis_url):
    return redis_lib.Redis.from_url(redis_url)


def _limit_keys(store, fragment: str) -> list[str]:
    return [k.decode() for k in store.keys("*") if fragment in k.decode()]


def _assert_429(response):
    assert response.status_code == 429, response.get_data(True)[:200]
    error = response.get_json()["error"]
    assert error["code"] == "rate_limited" and error["message"]
    assert set(error) == {"code", "message", "details"}
    assert int(response.headers["Retry-After"]) >= 1
    return int(response.headers["Retry-After"])


def test_limits_use_a_moving_window_on_redis(app):
    from kiosk.extensions import limiter

    with app.app_context():
        assert isinstance(limiter.limiter, MovingWindowRateLimiter)
        assert isinstance(limiter.limiter.storage, RedisStorage)
        assert app.config["RATELIMIT_STORAGE_URI"] == app.config["REDIS_URL"]


def test_a_user_gets_100_requests_a_minute_then_429(api, app, world, store):
    api.login(world.a.manager_email)
    statuses = [api.get("/api/queues").status_code for _ in range(100)]
    assert statuses == [200] * 100
    retry_after = _assert_429(api.get("/api/queues"))
    assert retry_after <= 61
    assert _limit_keys(store, "identity:user:")  # counted in Redis, not in process memory
    # Another user of the same establishment, same IP, is not throttled by the first.
    other = api.__class__(app.test_client())
    other.login(world.a.agent_email)
    assert other.get("/api/queues").status_code == 200


def test_a_device_gets_100_requests_a_minute_then_429(world, device_client, store):
    device = device_client(world.a.device_id, world.a.device_secret)
    path = f"/iot/payments/{uuid.uuid4()}"
    statuses = [device.get(path).status_code for _ in range(100)]
    assert 429 not in statuses and 401 not in statuses
    _assert_429(device.get(path))
    assert _limit_keys(store, f"identity:device:{world.a.device_id}")
    # Another kiosk behind the same NAT still gets through.
    neighbour = device_client(world.b.device_id, world.b.device_secret)
    assert neighbour.get(path).status_code != 429


def test_failed_authentications_are_limited_per_ip(client, world):
    forged = {"Authorization": "Bearer not.a.token"}
    for _ in range(security_limit(security.AUTH_FAILURE_LIMIT)):
        assert client.get("/api/queues", headers=forged).status_code == 401
    _assert_429(client.get("/api/queues", headers=forged))
    # Brute force from that IP is stopped, even with a good token now...
    assert client.post("/auth/login", json={"email": world.a.manager_email,
                                            "password": PASSWORD}).status_code == 429
    # ...while another IP (another kiosk site) is unaffected.
    other_ip = {"REMOTE_ADDR": "198.51.100.20"}
    response = client.post("/auth/login", json={"email": world.a.manager_email, "password": PASSWORD},
                           environ_base=other_ip)
    assert response.status_code == 200


def security_limit(limit: str) -> int:
    return int(limit.split("/")[0])


def test_login_lockout_per_ip_and_email(client, world, store):
    email = world.a.manager_email
    for _ in range(5):
        assert client.post("/auth/login", json={"email": email, "password": "wrong"}).status_code == 401
    # Locked: even the right password is refused, for about 15 minutes.
    retry_after = _assert_429(client.post("/auth/login", json={"email": email, "password": PASSWORD}))
    assert 14 * 60 <= retry_after <= 15 * 60 + 1
    assert _limit_keys(store, "lockout:login:")
    # The same email from another IP, and another email from this IP, still work.
    assert client.post("/auth/login", json={"email": email, "password": PASSWORD},
                       environ_base={"REMOTE_ADDR": "198.51.100.30"}).status_code == 200
    assert client.post("/auth/login", json={"email": world.a.agent_email, "password": PASSWORD}).status_code == 200


def test_health_and_static_are_exempt(client, world, store):
    # Display WebSocket handshakes are identity-guarded (below and tests/security/test_nat.py).
    for path in ("/health", "/health/ready", "/static/display/sw.js"):
        client.get(path)
    assert not _limit_keys(store, "LIMITER"), store.keys("*")
    client.get("/login")
    assert _limit_keys(store, "LIMITER")  # the per-IP ceiling counts ordinary requests


def test_the_per_ip_ceiling_is_looser_than_the_identity_limit(app):
    from limits import parse

    ceiling = parse(app.config["RATELIMIT_DEFAULT"])
    assert ceiling.amount / ceiling.get_expiry() > parse(security.IDENTITY_LIMIT).amount / 60


def test_guarded_routes_skip_the_per_ip_ceiling(api, world, device_client, store):
    """Signed kiosk routes and staff routes are limited per identity and per failure, not per IP."""
    device = device_client(world.a.device_id, world.a.device_secret)
    assert device.get(f"/iot/payments/{uuid.uuid4()}").status_code == 404
    api.login(world.a.manager_email)
    assert api.get("/api/queues").status_code == 200
    per_ip = [k for k in _limit_keys(store, "LIMITER") if "identity:" not in k and "authfail" not in k
              and "login" not in k]
    assert per_ip == []
    assert _limit_keys(store, "identity:device:") and _limit_keys(store, "identity:user:")


def test_a_valid_display_socket_handshake_skips_the_per_ip_ceiling(world, live_server, store):
    """A valid token is the identity; only failed tokens count, per IP (tests/security/test_nat.py)."""
    ws = connect(live_server, world.a.display_token)
    try:
        assert receive(ws)["type"] == "snapshot"
    finally:
        ws.close()
    assert _limit_keys(store, "LIMITER") == []


def test_a_signed_request_makes_one_redis_round_trip(world, device_client, monkeypatch):
    """Nonce, identity limit and last_seen gate run as one script (docs/performance.md)."""
    import redis

    device = device_client(world.a.device_id, world.a.device_secret)
    path = f"/iot/payments/{uuid.uuid4()}"
    device.get(path)  # the first request of the minute also writes last_seen
    sent = []
    real = redis.Redis.execute_command
    monkeypatch.setattr(redis.Redis, "execute_command",
                        lambda self, *args, **kwargs: sent.append(args[0]) or real(self, *args, **kwargs))
    assert device.get(path).status_code == 404
    # The guard's one script; then the view's own read of its snapshot (kiosk/payments/polls.py).
    assert sent == ["EVALSHA", "MGET"], sent


def test_the_one_script_keeps_replays_and_limits_exact(world, device_client, store):
    """A replayed nonce counts nothing; the 101st request is refused and spends its nonce."""
    from kiosk.devices.signing import signed_headers

    device = device_client(world.a.device_id, world.a.device_secret)
    path = f"/iot/payments/{uuid.uuid4()}"
    headers = signed_headers(world.a.device_id, world.a.device_secret, "GET", path)
    assert device.client.get(path, headers=headers).status_code == 404
    replay = device.client.get(path, headers=headers)
    assert (replay.status_code, replay.get_json()["error"]["code"]) == (401, "replayed_request")
    (window,) = _limit_keys(store, f"identity:device:{world.a.device_id}")
    assert store.llen(window) == 1  # the replay was not counted
    for _ in range(99):
        assert device.get(path).status_code == 404
    refused = signed_headers(world.a.device_id, world.a.device_secret, "GET", path)
    _assert_429(device.client.get(path, headers=refused))
    replay = device.client.get(path, headers=refused)
    assert replay.get_json()["error"]["code"] == "replayed_request"
