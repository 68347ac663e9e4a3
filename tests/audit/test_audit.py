"""The audit trail: who did what and when, append-only, tenant-isolated, served to managers."""
from __future__ import annotations

import uuid

from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from kiosk.audit.models import AuditEvent
from kiosk.audit.services import record
from kiosk.extensions import db
from kiosk.tenancy import tenant_scope
from tests.helpers import ApiClient


def _today() -> str:
    return datetime.now(timezone.utc).date().isoformat()


@pytest.fixture
def manager_a(app, world) -> ApiClient:
    client = ApiClient(app.test_client())
    client.login(world.a.manager_email)
    return client


def _events(api, **params) -> dict:
    params = {"from": _today(), "to": _today(), **params}
    response = api.get("/api/audit", query_string=params)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def test_device_changes_and_claim_codes_are_recorded_with_their_actor(manager_a, world, app):
    device = world.a.device_id
    assert manager_a.post(f"/api/devices/{device}/disable").status_code == 200
    assert manager_a.post(f"/api/devices/{device}/disable").status_code == 200  # no change, no event
    assert manager_a.post(f"/api/devices/{device}/enable").status_code == 200
    rotated = manager_a.post(f"/api/devices/{device}/rotate-secret").get_json()
    claim = manager_a.post("/api/devices/claims", json={"label": "Door", "queue_id": world.a.queue_id}).get_json()
    body = _events(manager_a)
    # The set-up's own accounts, kiosk and first emptied box were recorded too, by the system (no actor).
    assert {e["action"] for e in body["events"] if e["actor_id"] is None} == {
        "user.created", "device.registered", "cash.collected"}
    mine = [e for e in body["events"] if e["actor_id"] is not None]
    assert [e["action"] for e in mine] == ["device.claim_issued", "device.secret_rotated", "device.enabled",
                                           "device.disabled"]
    me = manager_a.get("/api/users").get_json()["users"]
    manager_id = next(u["id"] for u in me if u["email"] == world.a.manager_email)
    assert {e["actor_id"] for e in mine} == {manager_id}
    assert mine[-1]["target_type"] == "device" and mine[-1]["target_id"] == device
    text = str(body)
    assert rotated["secret_key"] not in text and claim["claim_code"] not in text  # never a secret
    # The kiosk that uses the code shows up too, as the system (no staff actor).
    registered = app.test_client().post("/iot/register", json={"claim_code": claim["claim_code"]})
    assert registered.status_code == 201
    latest = _events(manager_a)["events"][0]
    assert (latest["action"], latest["actor_id"], latest["target_id"]) == (
        "device.claimed", None, registered.get_json()["device_id"])


def test_the_shape_and_order_of_the_api(manager_a):
    manager_a.post("/api/users", json={"email": "one@example.test", "password": "long enough", "role": "agent"})
    manager_a.post("/api/users", json={"email": "two@example.test", "password": "long enough", "role": "agent"})
    body = _events(manager_a)
    assert set(body) == {"from", "to", "truncated", "events"} and body["truncated"] is False
    assert body["from"].startswith(_today()) and body["to"] > body["from"]
    assert [e["details"]["email"] for e in body["events"][:2]] == ["two@example.test", "one@example.test"]
    assert len(body["events"]) == 2 + 4  # and, older, the set-up's two accounts, one kiosk, one emptied box
    event = body["events"][0]
    assert set(event) == {"id", "occurred_at", "actor_id", "action", "target_type", "target_id", "details"}
    assert event["occurred_at"].endswith("+00:00")
    limited = _events(manager_a, limit=1)
    assert len(limited["events"]) == 1 and limited["truncated"] is True
    # A date-time range with an offset, to exclusive.
    now = datetime.now(timezone.utc)
    window = _events(manager_a, **{"from": (now - timedelta(hours=1)).isoformat(),
                                   "to": (now + timedelta(hours=1)).astimezone(timezone(timedelta(hours=2))).isoformat()})
    assert len(window["events"]) == 6
    assert _events(manager_a, **{"from": "2020-01-01", "to": "2020-01-31"})["events"] == []


@pytest.mark.parametrize("params", [
    {}, {"from": "2026-01-01"}, {"from": "yesterday", "to": "2026-01-01"}, {"from": "2026-02-30", "to": "2026-03-01"},
    {"from": "2026-03-02", "to": "2026-03-01"}, {"from": "2024-01-01", "to": "2026-01-01"},
    {"from": "2026-01-01T10:00:00", "to": "2026-01-02"}, {"from": "2026-01-01", "to": "2026-01-02", "limit": 0},
    {"from": "2026-01-01", "to": "2026-01-02", "limit": 5000}, {"from": "2026-01-01", "to": "2026-01-02", "x": 1},
])
def test_bad_ranges_are_400_validation_errors(manager_a, params):
    response = manager_a.get("/api/audit", query_string=params)
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "validation_error"


def test_only_managers_read_the_trail(app, world, client):
    agent = ApiClient(app.test_client())
    agent.login(world.a.agent_email)
    assert agent.get("/api/audit", query_string={"from": _today(), "to": _today()}).status_code == 403
    assert client.get("/api/audit", query_string={"from": _today(), "to": _today()}).status_code == 401


def test_each_establishment_sees_only_its_own_trail(app, world, manager_a, owner_engine):
    manager_a.post(f"/api/devices/{world.a.device_id}/disable")
    manager_b = ApiClient(app.test_client())
    manager_b.login(world.b.manager_email)
    manager_b.post(f"/api/devices/{world.b.device_id}/disable")
    a_events, b_events = _events(manager_a)["events"], _events(manager_b)["events"]
    assert {e["target_id"] for e in a_events if e["action"] == "device.disabled"} == {world.a.device_id}
    assert {e["target_id"] for e in b_events if e["action"] == "device.disabled"} == {world.b.device_id}
    assert not {e["id"] for e in a_events} & {e["id"] for e in b_events}
    # Below the ORM filter, row-level security holds too: raw SQL in A's scope sees A's rows only.
    with app.app_context(), tenant_scope(world.a.id):
        rows = db.session.execute(sa.text("SELECT establishment_id::text FROM audit_events")).scalars().all()
        db.session.rollback()
    assert set(rows) == {world.a.id} and len(rows) == len(a_events)
    with owner_engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM audit_events").scalar() == len(a_events) + len(b_events)
    # Writing an event for B from A's scope is refused.
    with app.app_context(), tenant_scope(world.a.id):
        db.session.add(AuditEvent(establishment_id=world.b.id, action="x", target_type="x", target_id="x",
                                  details={}))
        with pytest.raises(Exception):
            db.session.flush()
        db.session.rollback()


def test_the_trail_is_append_only_for_the_app_and_for_the_owner(app, world, owner_engine):
    with app.app_context(), tenant_scope(world.a.id):
        record("user.created", actor_id=None, target_type="user", target_id="u1", details={"email": "x"})
        db.session.commit()
        for statement in ("UPDATE audit_events SET action = 'forged'", "DELETE FROM audit_events"):
            with pytest.raises(sa.exc.DBAPIError):
                db.session.execute(sa.text(statement))
            db.session.rollback()
    for statement in ("UPDATE audit_events SET action = 'forged'", "DELETE FROM audit_events"):
        with owner_engine.connect() as conn, pytest.raises(sa.exc.DBAPIError, match="append-only"):
            conn.exec_driver_sql(statement)
    with owner_engine.connect() as conn:
        assert "forged" not in conn.exec_driver_sql("SELECT action FROM audit_events").scalars().all()
        assert conn.exec_driver_sql("SELECT count(*) FROM audit_events WHERE target_id = 'u1'").scalar() == 1


def test_record_joins_the_callers_transaction(app, world):
    with app.app_context(), tenant_scope(world.a.id):
        record("device.disabled", actor_id=None, target_type="device", target_id="d1",
               details={"label": "x", "secret_key": "abc", "claim_code": "ABCD"})
        db.session.rollback()  # the change it described was rolled back: so is the event
        assert db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent)
                                 .where(AuditEvent.target_id == "d1")) == 0
        event = record("device.disabled", actor_id=None, target_type="device", target_id="d1",
                       details={"label": "x", "secret_key": "abc", "claim_code": "ABCD"})
        db.session.commit()
        assert event.details == {"label": "x", "secret_key": "[redacted]", "claim_code": "[redacted]"}


def test_a_day_close_and_a_refund_are_recorded_with_the_manager_who_did_them(manager_a, world, device_client):
    kiosk = device_client(world.a.device_id, world.a.device_secret)
    paid = kiosk.post("/iot/payments", {"transaction_id": str(uuid.uuid4()), "amount": 500})
    assert paid.status_code in (200, 202)
    ticket_id = kiosk.get(paid.get_json()["status_url"]).get_json()["ticket"]["ticket_id"]
    expired = manager_a.post(f"/api/queues/{world.a.queue_id}/close-day").get_json()["expired"]
    assert expired >= 1  # the paid ticket, and whatever else the set-up left waiting
    assert manager_a.post(f"/api/tickets/{ticket_id}/refund").status_code == 200
    users = manager_a.get("/api/users").get_json()["users"]
    manager_id = next(u["id"] for u in users if u["email"] == world.a.manager_email)
    events = {e["action"]: e for e in _events(manager_a)["events"] if e["actor_id"] == manager_id}
    closed, refunded = events["queue.day_closed"], events["ticket.refunded"]
    assert (closed["target_id"], closed["details"]["expired"]) == (world.a.queue_id, expired)
    assert (refunded["target_id"], refunded["details"]["amount"]) == (ticket_id, 500)
