"""GET /iot/payments/<id> from its snapshot (kiosk/payments/polls.py): fresh after every change, no SQL when
nothing changed, never another device's, the database when Redis is down."""
from __future__ import annotations

import threading
import uuid
from datetime import datetime, timedelta, timezone

import pytest

from kiosk import cache
from kiosk.extensions import db
from kiosk.payments import ingest, polls, processing
from kiosk.payments.models import Transaction
from kiosk.tenancy import tenant_scope
from tests.helpers import RedisDown, statements_during


def make_pending(app, tenant, amount=500, age=timedelta(0)) -> str:
    tid = uuid.uuid4()
    created = datetime.now(timezone.utc) - age
    with app.app_context(), tenant_scope(tenant.id):
        db.session.add(Transaction(transaction_id=tid, device_id=tenant.device_id, amount=amount, currency="XOF",
                                   status="PENDING", payload_hash="0" * 64, attempts=0, created_at=created,
                                   updated_at=created))
        db.session.commit()
    return str(tid)


def settle(app, tid) -> str:
    with app.app_context():
        return processing.process_transaction(tid)


@pytest.fixture(autouse=True)
def no_outage():
    cache.reset_outage()
    yield
    cache.reset_outage()


def test_a_poll_with_nothing_changed_sends_no_sql_and_the_same_bytes(app, world, kiosk):
    tid = make_pending(app, world.a)
    first = kiosk.get(f"/iot/payments/{tid}")
    kiosk.get(f"/iot/payments/{tid}")  # past the first request's once-a-minute last_seen write
    answers = []
    statements = statements_during(app, lambda: answers.append(kiosk.get(f"/iot/payments/{tid}")))
    assert statements == []
    assert answers[0].status_code == 200 and answers[0].get_data() == first.get_data()
    assert answers[0].headers["Content-Type"] == first.headers["Content-Type"] == "application/json"
    assert first.get_json() == {"transaction_id": tid, "status": "PENDING", "amount": 500, "currency": "XOF",
                                "failure_reason": None, "ticket": None, "status_url": f"/iot/payments/{tid}"}


def test_the_poll_after_a_settlement_sees_it(app, world, kiosk):
    tid = make_pending(app, world.a)
    assert kiosk.get(f"/iot/payments/{tid}").get_json()["status"] == "PENDING"
    assert kiosk.get(f"/iot/payments/{tid}").get_json()["status"] == "PENDING"
    assert settle(app, tid) == "CONFIRMED"
    body = kiosk.get(f"/iot/payments/{tid}").get_json()
    assert body["status"] == "CONFIRMED" and body["ticket"]["status"] == "WAITING"
    failed = make_pending(app, world.a, amount=1)
    kiosk.get(f"/iot/payments/{failed}")
    settle(app, failed)
    assert kiosk.get(f"/iot/payments/{failed}").get_json()["failure_reason"] == "amount_below_vip_price"


def test_a_confirmed_payments_ticket_follows_the_queue(app, world, kiosk, api):
    tid = make_pending(app, world.a)
    settle(app, tid)
    before = kiosk.get(f"/iot/payments/{tid}").get_json()["ticket"]
    assert before["status"] == "WAITING"
    # The counter calls it (VIP first): no payment event, a ticket event.
    api.login(world.a.agent_email)
    called = api.post(f"/api/queues/{world.a.queue_id}/call-next", json={"counter": "1"})
    assert called.status_code == 200 and called.get_json()["ticket_id"] == before["ticket_id"]
    after = kiosk.get(f"/iot/payments/{tid}").get_json()["ticket"]
    assert after["status"] == "CALLED" and after["position"] == 0


def test_a_settlement_committed_while_a_poll_reads_the_old_row_is_not_hidden_by_its_snapshot(
        app, world, kiosk, monkeypatch):
    """Poll reads PENDING -> the payment settles and its event drops the snapshot -> the poll stores PENDING:
    that entry carries the version read before the database, so the next poll does not serve it."""
    tid = make_pending(app, world.a)
    real_describe = ingest.describe_payment
    raced = []

    def describe_then_settle(transaction):
        body = real_describe(transaction)
        if not raced:
            raced.append(True)
            worker = threading.Thread(target=settle, args=(app, tid))
            worker.start()
            worker.join()
        return body

    monkeypatch.setattr(ingest, "describe_payment", describe_then_settle)
    assert kiosk.get(f"/iot/payments/{tid}").get_json()["status"] == "PENDING"  # true when it was read
    assert kiosk.get(f"/iot/payments/{tid}").get_json()["status"] == "CONFIRMED"


def test_another_device_or_establishment_never_gets_the_snapshot(app, world, kiosk, other_kiosk, device_client):
    from kiosk.devices.services import register_device

    with app.app_context(), tenant_scope(world.a.id):
        second, secret = register_device("Second kiosk", world.a.queue_id)
    tid = make_pending(app, world.a)
    kiosk.get(f"/iot/payments/{tid}")
    kiosk.get(f"/iot/payments/{tid}")  # the snapshot is there
    for client in (other_kiosk, device_client(second.device_id, secret)):
        response = client.get(f"/iot/payments/{tid}")
        assert response.status_code == 404
        assert response.get_json()["error"]["code"] == "not_found"
    assert kiosk.get(f"/iot/payments/{tid}").status_code == 200


def test_a_snapshot_whose_owners_differ_is_not_served(app, world, other_kiosk):
    """Even an entry under B's id claiming A's payment (or B's) is checked against both owners."""
    tid = make_pending(app, world.a)
    forged = b"\n".join((b"0", b"*", str(world.b.id).encode(), world.a.device_id.encode(), b"", b'{"forged":1}'))
    with app.app_context():
        from kiosk.extensions import redis_client

        redis_client.set(f"poll:pay:{tid}", forged)
    assert other_kiosk.get(f"/iot/payments/{tid}").status_code == 404


def test_redis_down_falls_back_to_the_database(app, world, kiosk, monkeypatch):
    tid = make_pending(app, world.a)
    kiosk.get(f"/iot/payments/{tid}")

    monkeypatch.setattr(polls, "redis_client", RedisDown())
    settle(app, tid)  # its invalidation fails too
    body = kiosk.get(f"/iot/payments/{tid}").get_json()
    assert body["status"] == "CONFIRMED"
    assert cache.redis_in_outage()  # later polls skip Redis for the backoff, still from the database
    assert kiosk.get(f"/iot/payments/{tid}").get_json()["status"] == "CONFIRMED"


def test_a_payment_pending_for_30_s_is_still_nudged_through_the_database(app, world, kiosk, monkeypatch):
    tid = make_pending(app, world.a, age=timedelta(seconds=25))
    monkeypatch.setattr(ingest, "enqueue_processing", lambda ident: False)
    assert kiosk.get(f"/iot/payments/{tid}").get_json()["status"] == "PENDING"  # too young: a snapshot
    later = datetime.now(timezone.utc) + timedelta(seconds=10)
    monkeypatch.setattr(polls, "utcnow", lambda: later)
    monkeypatch.setattr(ingest, "utcnow", lambda: later)
    nudged = []
    monkeypatch.setattr(ingest, "enqueue_processing", lambda ident: nudged.append(str(ident)) or False)
    assert kiosk.get(f"/iot/payments/{tid}").get_json()["status"] == "PENDING"
    assert nudged == [tid]
