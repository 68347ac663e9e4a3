"""Verify first, then count failures (contract section 5, rate limits), on the real Redis store.

A kiosk fleet behind one NAT shares its IP with whoever else is there. Requests
that fail authentication count against that IP (30 a minute) and, past the
limit, the failing ones get 429; a correctly signed request or a valid token
still passes. Guessable secrets (passwords) stay throttled per IP and per IP + email.
"""
from __future__ import annotations

import json
import uuid

import pytest

from kiosk.devices.signing import signed_headers
from tests.display.conftest import connect, live_server, receive  # noqa: F401 - fixture reused
from tests.factories import PASSWORD

NEIGHBOUR = {"REMOTE_ADDR": "203.0.113.7"}  # the fleet and the script share this address
ELSEWHERE = {"REMOTE_ADDR": "198.51.100.99"}
BAD_SIGNATURE = "v1=" + "ab" * 32
HANDSHAKE = {"Upgrade": "websocket", "Connection": "Upgrade", "Sec-WebSocket-Version": "13",
             "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="}


def _assert_rate_limited(response) -> None:
    assert response.status_code == 429, response.get_data(True)[:200]
    assert response.get_json()["error"]["code"] == "rate_limited"
    assert int(response.headers["Retry-After"]) >= 1


def _signed_payment(client, world, amount: int = 500):
    body = json.dumps({"transaction_id": str(uuid.uuid4()), "amount": amount}).encode()
    headers = signed_headers(world.a.device_id, world.a.device_secret, "POST", "/iot/payments", body)
    return client.post("/iot/payments", data=body, headers=headers, content_type="application/json",
                       environ_base=NEIGHBOUR)


def _forged_payment(client, world):
    body = json.dumps({"transaction_id": str(uuid.uuid4()), "amount": 500}).encode()
    headers = signed_headers(world.a.device_id, world.a.device_secret, "POST", "/iot/payments", body)
    headers["X-Signature"] = BAD_SIGNATURE
    return client.post("/iot/payments", data=body, headers=headers, content_type="application/json",
                       environ_base=NEIGHBOUR)


def test_forty_bad_signatures_then_a_correctly_signed_payment_is_accepted(client, world):
    statuses = [_forged_payment(client, world).status_code for _ in range(40)]
    assert statuses[:30] == [401] * 30
    assert set(statuses[30:]) == {429}  # brute force is stopped...
    _assert_rate_limited(_forged_payment(client, world))
    response = _signed_payment(client, world)  # ...while the kiosk next to it is not
    assert response.status_code == 202, response.get_json()
    assert response.get_json()["transaction_id"]


def test_forty_garbage_bearer_tokens_then_a_valid_token_is_served(client, world):
    token = client.post("/auth/login", json={"email": world.a.agent_email, "password": PASSWORD},
                        environ_base=NEIGHBOUR).get_json()["access_token"]
    statuses = [client.get("/api/queues", headers={"Authorization": f"Bearer garbage.{i}.token"},
                           environ_base=NEIGHBOUR).status_code for i in range(40)]
    assert statuses[:30] == [401] * 30 and set(statuses[30:]) == {429}
    response = client.get("/api/queues", headers={"Authorization": f"Bearer {token}"}, environ_base=NEIGHBOUR)
    assert response.status_code == 200
    # A missing token is a failure too, and still 429 for that IP.
    _assert_rate_limited(client.get("/api/queues", environ_base=NEIGHBOUR))


def test_password_brute_force_from_that_ip_is_still_refused(client, world):
    for _ in range(40):
        client.get("/api/queues", headers={"Authorization": "Bearer x.y.z"}, environ_base=NEIGHBOUR)
    # Passwords can be guessed: past the per-IP failure limit even a right one waits.
    _assert_rate_limited(client.post("/auth/login", json={"email": world.a.manager_email, "password": PASSWORD},
                                     environ_base=NEIGHBOUR))
    assert client.post("/auth/login", json={"email": world.a.manager_email, "password": PASSWORD},
                       environ_base=ELSEWHERE).status_code == 200


def test_password_guesses_alone_hit_the_per_ip_limit(client, world):
    # Different emails, so the per-IP + email lockout does not end it first.
    statuses = [client.post("/auth/login", json={"email": f"guess{i}@example.test", "password": "nope"},
                            environ_base=NEIGHBOUR).status_code for i in range(35)]
    assert statuses[:30] == [401] * 30 and set(statuses[30:]) == {429}


@pytest.mark.parametrize("path", ["/display/{}/state.json", "/display/{}", "/t/{}.json", "/t/{}"])
def test_failed_capability_tokens_count_and_valid_ones_pass(client, world, app, path):
    statuses = [client.get(path.format(f"unknown-token-{i:04d}-xxxxxxxx"), environ_base=NEIGHBOUR).status_code
                for i in range(35)]
    assert statuses[:30] == [404] * 30 and set(statuses[30:]) == {429}
    valid = world.a.display_token if path.startswith("/display") else _tracking_token(app, world)
    assert client.get(path.format(valid), environ_base=NEIGHBOUR).status_code == 200


def test_failed_display_socket_handshakes_count_like_any_failure(client, world):
    statuses = [client.get(f"/ws/display/unknown-token-{i:04d}-xxxxxxxx", headers=HANDSHAKE,
                           environ_base=NEIGHBOUR).status_code for i in range(35)]
    assert statuses[:30] == [404] * 30 and set(statuses[30:]) == {429}


def test_a_valid_display_socket_connects_from_an_ip_past_the_limit(client, world, live_server):
    # The live server sees 127.0.0.1: fill that address's failure budget first.
    for i in range(35):
        client.get(f"/ws/display/unknown-token-{i:04d}-xxxxxxxx", headers=HANDSHAKE,
                   environ_base={"REMOTE_ADDR": "127.0.0.1"})
    _assert_rate_limited(client.get("/ws/display/unknown-token-9999-xxxxxxxx", headers=HANDSHAKE,
                                    environ_base={"REMOTE_ADDR": "127.0.0.1"}))
    ws = connect(live_server, world.a.display_token)
    try:
        assert receive(ws)["type"] == "snapshot"
    finally:
        ws.close()


def _tracking_token(app, world) -> str:
    import sqlalchemy as sa

    from kiosk.extensions import db
    from kiosk.queues.models import Ticket
    from kiosk.tenancy import tenant_scope

    with app.app_context(), tenant_scope(world.a.id):
        return db.session.scalar(sa.select(Ticket.tracking_token).limit(1))
