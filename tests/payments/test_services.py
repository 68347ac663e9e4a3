"""process_transaction and the sweeper, called directly (real Postgres and Redis)."""
from __future__ import annotations

import sqlite3
import threading
import uuid
from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from kiosk.extensions import db
from kiosk.payments import ingest, processing, sweeper
from kiosk.payments.models import Transaction
from kiosk.tenancy import tenant_scope
from tests.helpers import run_threads
from tests.payments.conftest import NumberingHeld, new_id, rows, set_status_fields


def make_pending(app, tenant, amount=500, currency="XOF", device_id=None, age=timedelta(0)) -> str:
    """A PENDING row as the ingest leaves it, without processing it."""
    tid = uuid.uuid4()
    created = datetime.now(timezone.utc) - age
    with app.app_context(), tenant_scope(tenant.id):
        db.session.add(Transaction(transaction_id=tid, device_id=device_id or tenant.device_id, amount=amount,
                                   currency=currency, status="PENDING", payload_hash="0" * 64, attempts=0,
                                   created_at=created, updated_at=created))
        db.session.commit()
    return str(tid)


def process(app, tid) -> str:
    with app.app_context():
        return processing.process_transaction(tid)


def test_a_valid_payment_is_confirmed_with_one_vip_ticket(app, world, owner_engine):
    tid = make_pending(app, world.a, amount=600)
    assert process(app, tid) == "CONFIRMED"
    found = rows(owner_engine, tid)
    assert found["transactions"][0]["status"] == "CONFIRMED" and found["transactions"][0]["attempts"] == 1
    assert [t["kind"] for t in found["tickets"]] == ["VIP"]
    assert found["transactions"][0]["ticket_id"] == found["tickets"][0]["id"]
    # Running it again is harmless: no second ticket, no second attempt.
    assert process(app, tid) == "CONFIRMED"
    again = rows(owner_engine, tid)
    assert len(again["tickets"]) == 1 and again["transactions"][0]["attempts"] == 1


FAILURES = {
    "amount_below_vip_price": ({"amount": 499}, None),
    "currency_mismatch": ({"currency": "EUR"}, None),
    "device_disabled": ({}, "UPDATE devices SET status = 'DISABLED' WHERE device_id = :device"),
    "queue_closed": ({}, "UPDATE queues SET active = false WHERE id = (SELECT queue_id FROM devices "
                         "WHERE device_id = :device)"),
    "queue_not_found": ({}, "UPDATE devices SET queue_id = NULL WHERE device_id = :device"),
    "device_not_found": ({"device_id": "dev_gone"}, None),
}


@pytest.mark.parametrize("reason", sorted(FAILURES))
def test_each_invalid_payment_fails_with_its_reason_no_ticket_and_no_retry(app, world, owner_engine, reason):
    kwargs, sql = FAILURES[reason]
    tid = make_pending(app, world.a, **kwargs)
    if sql:
        set_status_fields(owner_engine, sql, device=world.a.device_id)
    assert process(app, tid) == "FAILED"
    found = rows(owner_engine, tid)
    assert found["transactions"][0]["status"] == "FAILED"
    assert found["transactions"][0]["failure_reason"] == reason
    assert found["transactions"][0]["ticket_id"] is None and found["tickets"] == []
    # A FAILED payment is final: processing it again changes nothing.
    assert process(app, tid) == "FAILED"
    assert rows(owner_engine, tid)["transactions"][0]["attempts"] == 1


def test_failed_payment_is_reported_to_the_device_with_its_reason(kiosk, owner_engine):
    tid = new_id()
    response = kiosk.post("/iot/payments", {"transaction_id": tid, "amount": 100})
    assert response.status_code == 202 and response.get_json()["status"] == "FAILED"
    body = kiosk.get(f"/iot/payments/{tid}").get_json()
    assert body["status"] == "FAILED" and body["failure_reason"] == "amount_below_vip_price"
    assert body["ticket"] is None


def test_payment_events_are_published_after_commit(app, world, redis_url):
    import json

    import redis

    tid = make_pending(app, world.a)
    listener = redis.Redis.from_url(redis_url).pubsub()
    listener.subscribe(f"est:{world.a.id}:events")
    listener.get_message(timeout=1)
    process(app, tid)
    events = []
    while (message := listener.get_message(timeout=0.5)) is not None:
        if message["type"] == "message":
            events.append(json.loads(message["data"]))
    listener.close()
    payment = [e for e in events if e["type"] == "payment"]
    assert len(payment) == 1 and payment[0]["transaction_id"] == tid and payment[0]["status"] == "CONFIRMED"
    assert any(e["type"] == "ticket" and e["kind"] == "VIP" for e in events)
    assert sum(1 for e in events if e["type"] == "ticket") == 1  # issue_ticket publishes once, not twice


def test_a_publish_failure_never_rolls_back_a_payment(app, world, owner_engine, monkeypatch):
    from kiosk.display import bus

    def broken(*_args, **_kwargs):
        raise ConnectionError("redis is gone")

    monkeypatch.setattr(bus.redis_client, "incr", broken, raising=False)
    monkeypatch.setattr("kiosk.cache.redis_client.incr", broken, raising=False)
    tid = make_pending(app, world.a)
    assert process(app, tid) == "CONFIRMED"
    assert len(rows(owner_engine, tid)["tickets"]) == 1


def _hold_the_database(backend):
    """Take, from outside the app, the lock a payment's ticket waits on; returns its release."""
    if backend.sqlite:
        conn = sqlite3.connect(backend.owner_engine.url.database, timeout=30, isolation_level=None,
                               check_same_thread=False)  # released by a timer thread
        conn.execute("BEGIN IMMEDIATE")
        return conn.close
    held = NumberingHeld(backend.owner_engine)
    return held.release


def _race(app, tid, count: int) -> list:
    return run_threads(app, count, lambda _index: processing.process_transaction(tid), join_timeout=60)


def test_two_concurrent_runs_make_one_ticket(backend, backend_world):
    app, world, owner_engine = backend.app, backend_world, backend.owner_engine
    for _ in range(5):
        tid = make_pending(app, world.a)
        assert _race(app, tid, 2) == ["CONFIRMED", "CONFIRMED"]
        found = rows(owner_engine, tid)
        assert len(found["tickets"]) == 1 and found["transactions"][0]["attempts"] == 1


def test_a_run_that_waits_on_the_row_lock_finds_the_payment_settled(backend, backend_world):
    app, world, owner_engine = backend.app, backend_world, backend.owner_engine
    # The first run holds its transaction open (stopped by a lock taken from
    # outside); the others wait on the UPDATE ... WHERE status = 'PENDING'
    # (SQLite: on the write lock), then see CONFIRMED and stop.
    tid = make_pending(app, world.a)
    release = _hold_the_database(backend)
    releaser = threading.Timer(0.5, release)
    releaser.start()
    try:
        assert _race(app, tid, 4) == ["CONFIRMED"] * 4
    finally:
        releaser.join()
    found = rows(owner_engine, tid)
    assert len(found["tickets"]) == 1 and found["transactions"][0]["attempts"] == 1


def test_the_unique_ticket_transaction_id_stops_a_second_ticket(app, world, owner_engine, monkeypatch):
    # Defence in depth: even if the status guard were bypassed, the second
    # ticket insert fails on tickets.transaction_id and is treated as "done".
    tid = make_pending(app, world.a)
    assert process(app, tid) == "CONFIRMED"
    set_status_fields(owner_engine, "UPDATE transactions SET status = 'PENDING' WHERE transaction_id = :id", id=tid)
    assert process(app, tid) == "PENDING"  # reports the row as it is; no exception, no ticket
    assert len(rows(owner_engine, tid)["tickets"]) == 1


def _operational_error() -> sa.exc.OperationalError:
    return sa.exc.OperationalError("SELECT 1", {}, Exception("server closed the connection unexpectedly"))


def test_task_retries_transient_errors_with_backoff_then_succeeds(app, world, owner_engine, monkeypatch):
    task = app.extensions["celery"].tasks[ingest.PROCESS_TASK]
    real_validate = processing._validate
    calls = {"n": 0}

    def flaky(transaction):
        calls["n"] += 1
        if calls["n"] <= 3:
            raise _operational_error()
        return real_validate(transaction)

    countdowns = []
    real_retry = task.retry

    def spy_retry(*args, **kwargs):
        countdowns.append(kwargs.get("countdown"))
        return real_retry(*args, **kwargs)

    monkeypatch.setattr(processing, "_validate", flaky)
    monkeypatch.setattr(task, "retry", spy_retry)
    tid = make_pending(app, world.a)
    with app.app_context():
        result = task.apply(args=[tid])
    assert result.successful() and result.result == "CONFIRMED"
    assert calls["n"] == 4 and len(countdowns) == 3
    # Full jitter: each countdown is drawn from [0, min(300, 2**retries)].
    assert all(c is not None and 0 <= c <= 2 ** i for i, c in enumerate(countdowns, start=1))
    found = rows(owner_engine, tid)
    assert found["transactions"][0]["status"] == "CONFIRMED" and len(found["tickets"]) == 1
    # Three failed tries were counted (their own increments rolled back), plus the one that worked.
    assert found["transactions"][0]["attempts"] == 4


def test_a_dropped_connection_is_transient(app, world, owner_engine, monkeypatch):
    task = app.extensions["celery"].tasks[ingest.PROCESS_TASK]
    real_validate = processing._validate
    calls = {"n": 0}

    def drop_once(transaction):
        calls["n"] += 1
        if calls["n"] == 1:
            raise sa.exc.DBAPIError("SELECT 1", {}, Exception("connection reset"), connection_invalidated=True)
        return real_validate(transaction)

    monkeypatch.setattr(processing, "_validate", drop_once)
    tid = make_pending(app, world.a)
    with app.app_context():
        result = task.apply(args=[tid])
    assert result.successful() and calls["n"] == 2
    assert rows(owner_engine, tid)["transactions"][0]["status"] == "CONFIRMED"


def test_task_policy_matches_the_contract(app):
    task = app.extensions["celery"].tasks[ingest.PROCESS_TASK]
    assert task.acks_late and task.reject_on_worker_lost
    assert task.retry_backoff and task.retry_jitter and task.max_retries
    assert sa.exc.OperationalError in task.autoretry_for
    assert sa.exc.IntegrityError not in task.autoretry_for
    visibility = app.config["CELERY"]["broker_transport_options"]["visibility_timeout"]
    assert task.retry_backoff_max < visibility
    beat = app.config["CELERY"]["beat_schedule"]["sweep-pending-payments"]
    assert beat["task"] in app.extensions["celery"].tasks


def test_sweeper_reprocesses_old_pending_payments_across_establishments(app, world, owner_engine):
    old_a = make_pending(app, world.a, age=timedelta(minutes=3))
    old_b = make_pending(app, world.b, age=timedelta(minutes=5))
    fresh = make_pending(app, world.a, age=timedelta(seconds=30))
    with app.app_context():
        summary = app.extensions["celery"].tasks["payments.sweep_pending"].apply().result
    assert summary == {"pending": 2, "requeued": 2, "stuck": 0}
    for tid in (old_a, old_b):
        assert rows(owner_engine, tid)["transactions"][0]["status"] == "CONFIRMED"
        assert len(rows(owner_engine, tid)["tickets"]) == 1
    assert rows(owner_engine, fresh)["transactions"][0]["status"] == "PENDING"


def test_sweeper_reports_payments_stuck_over_15_minutes_once(app, world, monkeypatch, caplog):
    import sentry_sdk

    reported = []
    monkeypatch.setattr(sentry_sdk, "capture_message", lambda message, **kw: reported.append((message, kw)))
    # Stuck for good: the broker takes the message but nothing ever settles it.
    monkeypatch.setattr(sweeper, "enqueue_processing", lambda tid: True)
    tid = make_pending(app, world.b, age=timedelta(minutes=20))
    make_pending(app, world.a, age=timedelta(minutes=3))
    with app.app_context():
        with caplog.at_level("ERROR", logger="kiosk.payments.sweeper"):
            first = sweeper.sweep_pending()
        second = sweeper.sweep_pending()
    assert first == {"pending": 2, "requeued": 2, "stuck": 1} and second["stuck"] == 1
    assert len(reported) == 1 and reported[0][1]["level"] == "error"
    records = [r for r in caplog.records if "stuck" in r.getMessage()]
    assert len(records) == 1 and tid in records[0].transaction_ids


def test_settled_payments_are_counted_in_the_metrics(app, world):
    from kiosk.observability.metrics import PAYMENTS

    def count(status: str) -> float:
        return PAYMENTS.labels(status)._value.get()

    before = {s: count(s) for s in ("CONFIRMED", "FAILED")}
    process(app, make_pending(app, world.a))
    process(app, make_pending(app, world.a, amount=1))
    assert count("CONFIRMED") == before["CONFIRMED"] + 1 and count("FAILED") == before["FAILED"] + 1


def test_polling_a_payment_stuck_pending_re_enqueues_it_once(app, world, device_client, owner_engine, monkeypatch):
    kiosk = device_client(world.a.device_id, world.a.device_secret)
    fresh = make_pending(app, world.a, age=timedelta(seconds=5))
    assert kiosk.get(f"/iot/payments/{fresh}").get_json()["status"] == "PENDING"  # too young to nudge
    stale = make_pending(app, world.a, age=timedelta(seconds=45))
    enqueued = []
    real_enqueue = ingest.enqueue_processing
    monkeypatch.setattr(ingest, "enqueue_processing", lambda tid: enqueued.append(str(tid)) or real_enqueue(tid))
    body = kiosk.get(f"/iot/payments/{stale}").get_json()
    assert body["status"] == "CONFIRMED" and body["ticket"]["kind"] == "VIP"  # tasks run in-process here
    set_status_fields(owner_engine, "UPDATE transactions SET status = 'PENDING' WHERE transaction_id = :id",
                      id=stale)
    kiosk.get(f"/iot/payments/{stale}")  # within 30 s of the last nudge: not again
    assert enqueued == [stale]
    assert len(rows(owner_engine, stale)["tickets"]) == 1
