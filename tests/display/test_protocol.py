"""The display WebSocket against a real server: snapshot first, seq in
order, resync after a gap, ping/pong, heartbeats, revocation."""
from __future__ import annotations

import json
import time
import uuid

import pytest
import sqlalchemy as sa
import websocket

from kiosk.display.bus import seq_key
from tests.display.conftest import call_ticket, connect, issue, publish, receive

pytestmark = pytest.mark.slow


def test_snapshot_comes_first_with_the_current_seq(app, world, live_server):
    from kiosk.extensions import redis_client

    publish(app, world.a.id, {"type": "queue", "queue_id": world.a.queue_id, "waiting": 1})
    ws = connect(live_server, world.a.display_token)
    try:
        first = json.loads(ws.recv())
        assert first["type"] == "snapshot"
        with app.app_context():
            assert first["seq"] == int(redis_client.get(seq_key(world.a.id))) > 0
        assert first["establishment"]["name"] == world.a.name
        assert [q["name"] for q in first["queues"]] == ["General", "Pharmacy"]
        general = first["queues"][0]
        assert general["waiting"] == 1 and general["next"][0]["code"] == "A-001"
        assert first["now_serving"] == [] and first["recent_calls"] == []
        assert set(first["theme"]) >= {"primary", "accent", "vip"}
    finally:
        ws.close()


def test_events_follow_in_seq_order_and_only_for_the_own_establishment(app, world, live_server):
    ws = connect(live_server, world.a.display_token)
    try:
        snapshot = receive(ws)
        first_call = call_ticket(app, world.a.id, world.a.extra["ticket_id"], "3")
        call_ticket(app, world.b.id, world.b.extra["ticket_id"], "1")  # another tenant: never seen here
        publish(app, world.a.id, {"type": "queue", "queue_id": world.a.queue_id, "waiting": 0})
        seen = []
        while len(seen) < 3:
            message = receive(ws)
            if not message.get("refresh"):
                seen.append(message)
        assert [m["seq"] for m in seen] == [snapshot["seq"] + 1, snapshot["seq"] + 2, snapshot["seq"] + 3]
        assert [m["type"] for m in seen] == ["ticket", "called", "queue"]
        assert seen[1]["ticket"]["code"] == first_call["code"] == "A-001"
        assert seen[1]["ticket"]["counter"] == "3"
    finally:
        ws.close()


def test_a_queue_change_sends_the_next_tickets_in_calling_order_with_the_event(app, world, live_server):
    ws = connect(live_server, world.a.display_token)
    try:
        receive(ws)
        issue(app, world.a.id, world.a.queue_id, "VIP")
        message = receive(ws, skip=("ping", "ticket"))
        assert message["type"] == "queue" and message["queue_id"] == str(world.a.queue_id)
        assert message["waiting"] == 2
        codes = [(t["code"], t["vip"]) for t in message["next"]]
        assert codes == [("VA-001", True), ("A-001", False)]  # VIP first, marked
        # The snapshot a reconnecting TV gets says the same.
        fresh = connect(live_server, world.a.display_token)
        try:
            snapshot = receive(fresh)
            assert snapshot["queues"][0]["next"] == message["next"]
        finally:
            fresh.close()
    finally:
        ws.close()


def test_a_client_that_sees_a_gap_gets_a_fresh_snapshot_then_the_events_after_it(app, world, live_server):
    from kiosk.extensions import redis_client

    ws = connect(live_server, world.a.display_token)
    try:
        snapshot = receive(ws)
        with app.app_context():
            redis_client.incr(seq_key(world.a.id))  # an event lost on the way: the next one shows a gap
        call_ticket(app, world.a.id, world.a.extra["ticket_id"], "2")
        event = receive(ws)
        assert event["seq"] == snapshot["seq"] + 2  # the gap the client detects
        ws.send(json.dumps({"type": "resync"}))
        fresh = receive(ws, skip=("ping", "called"))
        assert fresh["type"] == "snapshot" and not fresh.get("refresh")
        assert fresh["seq"] >= event["seq"]
        assert fresh["recent_calls"][0]["code"] == "A-001"
        assert fresh["now_serving"] == [{**fresh["now_serving"][0], "counter": "2", "code": "A-001"}]
        publish(app, world.a.id, {"type": "queue", "queue_id": world.a.queue_id, "waiting": 0})
        after = receive(ws, skip=("ping", "snapshot"))
        assert after["seq"] == fresh["seq"] + 1
    finally:
        ws.close()


def test_pings_are_answered_and_a_silent_client_is_dropped(app, world, live_server, monkeypatch):
    monkeypatch.setitem(app.config, "DISPLAY_PING_SECONDS", 0.3)
    monkeypatch.setitem(app.config, "DISPLAY_PONG_TIMEOUT_SECONDS", 0.3)
    polite = connect(live_server, world.a.display_token)
    silent = connect(live_server, world.a.display_token)
    try:
        receive(polite)
        receive(silent)
        for _ in range(4):
            ping = receive(polite, skip=())
            assert ping["type"] == "ping" and isinstance(ping["t"], int)
            polite.send(json.dumps({"type": "pong", "t": ping["t"]}))
        silent.settimeout(3)
        with pytest.raises((websocket.WebSocketConnectionClosedException, ConnectionError, OSError)):
            while True:  # pings arrive, nobody answers, then the server hangs up
                if not silent.recv():
                    raise ConnectionError("closed")
        assert polite.connected
    finally:
        polite.close()
        silent.close()


def test_connecting_records_the_heartbeat(app, world, live_server):
    from kiosk.display.models import Display
    from kiosk.extensions import db
    from kiosk.tenancy import tenant_scope

    ws = connect(live_server, world.a.display_token)
    try:
        receive(ws)
        # Written with the other screens connecting meanwhile, about a second later.
        deadline = time.monotonic() + 5
        while True:
            with app.app_context(), tenant_scope(world.a.id):
                display = db.session.execute(sa.select(Display).where(Display.id == uuid.UUID(world.a.display_id)))
                if display.scalar_one().last_heartbeat is not None:
                    break
            assert time.monotonic() < deadline, "no heartbeat written after connecting"
            time.sleep(0.1)
    finally:
        ws.close()


@pytest.mark.parametrize("token", ["unknown-token-but-well-formed-000", "x", "../../etc"])
def test_an_unknown_token_is_refused_before_the_upgrade(live_server, world, token):
    with pytest.raises(websocket.WebSocketBadStatusException) as refused:
        connect(live_server, token)
    assert refused.value.status_code == 404


def test_a_revoked_display_is_dropped_at_once_and_refused_after(app, world, live_server, api):
    ws = connect(live_server, world.a.display_token)
    try:
        receive(ws)
        api.login(world.a.manager_email)
        assert api.post(f"/api/displays/{world.a.display_id}/revoke").status_code == 200
        ws.settimeout(3)
        with pytest.raises((websocket.WebSocketConnectionClosedException, ConnectionError, OSError)):
            while True:
                if not ws.recv():
                    raise ConnectionError("closed")
    finally:
        ws.close()
    with pytest.raises(websocket.WebSocketBadStatusException) as refused:
        connect(live_server, world.a.display_token)
    assert refused.value.status_code == 404


def test_a_call_made_through_the_queue_api_reaches_the_screen(app, world, live_server, api):
    ws = connect(live_server, world.a.display_token)
    try:
        snapshot = receive(ws)
        api.login(world.a.agent_email)
        response = api.post(f"/api/queues/{world.a.queue_id}/call-next", json={"counter": "7"})
        assert response.status_code == 200, response.get_json()
        messages = [receive(ws, skip=("ping", "snapshot")) for _ in range(3)]
        called = [m for m in messages if m["type"] == "called"]
        assert called and called[0]["ticket"]["code"] == "A-001" and called[0]["ticket"]["counter"] == "7"
        assert sorted(m["seq"] for m in messages) == [snapshot["seq"] + i for i in (1, 2, 3)]
    finally:
        ws.close()


def test_compression_offered_by_browsers_is_declined(world, live_server):
    # A zlib context per TV would cost far more than the frames it saves.
    ws = websocket.create_connection(f"ws://{live_server}/ws/display/{world.a.display_token}", timeout=5,
                                     header=["Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits"])
    try:
        assert "sec-websocket-extensions" not in {k.lower() for k in ws.getheaders()}
        assert receive(ws)["type"] == "snapshot"
    finally:
        ws.close()
