"""Device rows cached in each process, dropped everywhere through Redis pub/sub.

The guarantee: a disable, an enable or a secret rotation is seen by every web
process within a second; a process that is not listening reads the database.
"""
from __future__ import annotations

import json
import os
import time
import urllib.error
import urllib.request
import uuid

import pytest
import sqlalchemy as sa

from kiosk.devices import cache as device_cache
from kiosk.devices.signing import signed_headers
from tests.display.conftest import gunicorn_server, web_server  # noqa: F401 - the fixtures
from tests.factories import PASSWORD

BODY = b'{"amount":500}'


def _disable_behind_the_app(owner_engine, device_id: str) -> None:
    with owner_engine.begin() as conn:
        conn.execute(sa.text("UPDATE devices SET status = 'DISABLED' WHERE device_id = :d"), {"d": device_id})


def test_a_hit_reads_neither_the_database_nor_the_secret(app, world, signed, owner_engine):
    """Proof that the row is cached: changed behind the app (no event), it is still served."""
    signed(world.a.device_id, world.a.device_secret, body=BODY)  # starts the listener
    assert device_cache.listener().wait_until_listening(5)
    assert signed(world.a.device_id, world.a.device_secret, body=BODY).status == 200
    _disable_behind_the_app(owner_engine, world.a.device_id)
    assert signed(world.a.device_id, world.a.device_secret, body=BODY).status == 200  # from the cache
    device_cache.listener().drop(world.a.device_id)  # what the TTL does at the latest
    refused = signed(world.a.device_id, world.a.device_secret, body=BODY)
    assert (refused.status, refused.code) == (403, "device_disabled")


def test_the_ttl_is_the_safety_net(app, world, signed, owner_engine, monkeypatch):
    signed(world.a.device_id, world.a.device_secret, body=BODY)
    assert device_cache.listener().wait_until_listening(5)
    assert signed(world.a.device_id, world.a.device_secret, body=BODY).status == 200
    _disable_behind_the_app(owner_engine, world.a.device_id)
    import types

    from kiosk import local_cache

    later = types.SimpleNamespace(monotonic=lambda: time.monotonic() + device_cache.TTL_SECONDS + 0.1,
                                  sleep=time.sleep)
    monkeypatch.setattr(local_cache, "time", later)
    assert signed(world.a.device_id, world.a.device_secret, body=BODY).code == "device_disabled"


def test_a_rotation_whose_message_was_lost_is_accepted_at_once(app, world, signed, owner_engine):
    """The cached row still has the old secret; the guard reads the row again before refusing."""
    from kiosk.devices.services import encrypt_secret

    signed(world.a.device_id, world.a.device_secret, body=BODY)
    assert device_cache.listener().wait_until_listening(5)
    assert signed(world.a.device_id, world.a.device_secret, body=BODY).status == 200  # cached now
    new_secret = "f" * 64
    with app.app_context(), owner_engine.begin() as conn:  # behind the app: no DeviceChanged, no message
        conn.execute(sa.text("UPDATE devices SET secret_encrypted = :s WHERE device_id = :d"),
                     {"s": encrypt_secret(new_secret), "d": world.a.device_id})
    assert signed(world.a.device_id, new_secret, body=BODY).status == 200
    refused = signed(world.a.device_id, "0" * 64, body=BODY)
    assert (refused.status, refused.code) == (401, "invalid_signature")


def test_disable_enable_and_rotate_through_the_api_apply_at_once_in_this_process(world, api, signed):
    device_id, secret = world.a.device_id, world.a.device_secret
    assert signed(device_id, secret, body=BODY).status == 200
    api.login(world.a.manager_email, PASSWORD)
    assert api.post(f"/api/devices/{device_id}/disable").status_code == 200
    assert signed(device_id, secret, body=BODY).code == "device_disabled"
    assert api.post(f"/api/devices/{device_id}/enable").status_code == 200
    assert signed(device_id, secret, body=BODY).status == 200
    new_secret = api.post(f"/api/devices/{device_id}/rotate-secret").get_json()["secret_key"]
    assert signed(device_id, new_secret, body=BODY).status == 200
    assert signed(device_id, secret, body=BODY).status == 200  # the old one, in its 24 h grace


def test_a_process_that_is_not_listening_reads_the_database(app, world, signed, owner_engine):
    """No subscription, no cache: a message it cannot receive must not leave it stale."""
    cache = device_cache.LocalCache("devices:changed:test-silent", ttl_seconds=60)
    loads = []
    with app.app_context():
        cache._pid = os.getpid()  # as if its listener had been started, then lost Redis
        for _ in range(3):
            cache.get_or_load("k", lambda: loads.append(1) or "value", app)
    assert len(loads) == 3


def test_an_unknown_device_is_not_cached(app, world, signed):
    """A device registered a moment ago works at once in every process."""
    from kiosk.devices.services import register_device
    from kiosk.extensions import db
    from kiosk.tenancy import tenant_scope

    assert signed("dev_notyetthere01", "x" * 43, body=BODY).code == "invalid_signature"
    with app.app_context(), tenant_scope(world.a.id):
        device, secret = register_device("New kiosk", world.a.queue_id)
        device_id = device.device_id
        db.session.remove()
    assert signed(device_id, secret, body=BODY).status == 200


# --- two real web processes ----------------------------------------------------------------------

def _status(address: str, device_id: str, secret: str) -> tuple[int, str | None]:
    path = f"/iot/payments/{uuid.uuid4()}"
    request = urllib.request.Request(f"http://{address}{path}",
                                     headers=signed_headers(device_id, secret, "GET", path))
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, None
    except urllib.error.HTTPError as exc:
        body = json.loads(exc.read() or b"{}")
        return exc.code, (body.get("error") or {}).get("code")


def _seconds_until(address: str, device_id: str, secret: str, wanted) -> float:
    started = time.monotonic()
    while True:
        answer = _status(address, device_id, secret)
        elapsed = time.monotonic() - started
        if wanted(answer):
            return elapsed
        if elapsed > 5:
            pytest.fail(f"{address} still answers {answer} after 5 s")
        time.sleep(0.01)


@pytest.mark.slow
def test_every_web_process_refuses_a_disabled_device_within_a_second(world, api, web_server, gunicorn_server):
    device_id, secret = world.a.device_id, world.a.device_secret
    # The web process (granian: the cache's listener is a thread) and the
    # display process (gunicorn gevent: a greenlet); the same app in both.
    servers = [web_server(), web_server(), gunicorn_server()]
    authenticated = (404, "not_found")  # a payment id it never sent: signed in, nothing there
    for server in servers:
        for _ in range(3):  # both processes hold the device in their caches
            assert _status(server.address, device_id, secret) == authenticated
    time.sleep(0.5)
    api.login(world.a.manager_email, PASSWORD)

    assert api.post(f"/api/devices/{device_id}/disable").status_code == 200
    waits = [_seconds_until(s.address, device_id, secret, lambda a: a == (403, "device_disabled")) for s in servers]
    print("seconds until seen, per process:", [round(w, 3) for w in waits])
    assert max(waits) < 1.0, waits

    assert api.post(f"/api/devices/{device_id}/enable").status_code == 200
    waits = [_seconds_until(s.address, device_id, secret, lambda a: a == authenticated) for s in servers]
    print("seconds until seen, per process:", [round(w, 3) for w in waits])
    assert max(waits) < 1.0, waits

    new_secret = api.post(f"/api/devices/{device_id}/rotate-secret").get_json()["secret_key"]
    waits = [_seconds_until(s.address, device_id, new_secret, lambda a: a == authenticated) for s in servers]
    print("seconds until seen, per process:", [round(w, 3) for w in waits])
    assert max(waits) < 1.0, waits
