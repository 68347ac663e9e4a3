"""Faults on real processes: a SIGKILLed worker, Redis and Postgres going away.

Each test takes a few seconds to ~20 s (worker start-up dominates).
"""
from __future__ import annotations

import os
import signal
import time
from datetime import datetime, timedelta, timezone

import pytest
import redis as redis_lib
import sqlalchemy as sa

from kiosk.extensions import db, redis_client
from kiosk.payments import ingest, processing, sweeper
from tests.conftest import DEVICE_KEY
from tests.payments.conftest import new_id, pay, rows, set_status_fields
from tests.payments.workers import CeleryWorker

pytestmark = pytest.mark.slow


def wait_until(check, timeout: float = 20, interval: float = 0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout} s")


def status_of(owner_engine, tid) -> str | None:
    found = rows(owner_engine, tid)["transactions"]
    return found[0]["status"] if found else None


def backdate(owner_engine, tid, minutes: int = 3) -> None:
    set_status_fields(owner_engine, "UPDATE transactions SET created_at = :at WHERE transaction_id = :id",
                      at=datetime.now(timezone.utc) - timedelta(minutes=minutes), id=tid)


@pytest.fixture
def through_broker(app):
    """Tasks go through the real broker instead of running in-process."""
    celery = app.extensions["celery"]
    celery.conf.task_always_eager = False
    yield celery
    celery.conf.task_always_eager = True


@pytest.fixture
def workers(database_url):
    started: list[CeleryWorker] = []

    def start(redis_url: str) -> CeleryWorker:
        worker = CeleryWorker(database_url, redis_url, DEVICE_KEY)
        started.append(worker)
        return worker.start()

    yield start
    for worker in started:
        worker.cleanup()


def test_worker_child_killed_mid_payment_is_redelivered_and_confirmed_once(kiosk, through_broker, workers,
                                                                          redis_url, owner_engine, numbering_held):
    worker = workers(redis_url)
    lock = numbering_held()  # the payment will stop mid-transaction, at its ticket number
    tid = new_id()
    response = pay(kiosk, tid)
    assert response.status_code == 202 and response.get_json()["status"] == "PENDING"
    lock.wait_for_a_waiter()
    os.kill(worker.pool_children()[0], signal.SIGKILL)  # the pool process, inside its DB transaction
    lock.release()
    # acks_late + reject_on_worker_lost: the message goes back; a fresh pool process settles it.
    wait_until(lambda: status_of(owner_engine, tid) == "CONFIRMED", timeout=25)
    found = rows(owner_engine, tid)
    assert len(found["tickets"]) == 1 and found["transactions"][0]["attempts"] == 1
    assert "WorkerLostError" in worker.log() or "SIGKILL" in worker.log()


def test_whole_worker_killed_mid_payment_then_restarted_confirms_once(kiosk, through_broker, workers, redis_url,
                                                                     owner_engine, app, numbering_held):
    worker = workers(redis_url)
    lock = numbering_held()
    tid = new_id()
    assert pay(kiosk, tid).status_code == 202
    backend = lock.wait_for_a_waiter()
    worker.kill_all()  # SIGKILL to the main process and its pool: nothing can ack or requeue
    lock.release()
    # The open DB transaction died with it: still PENDING, no ticket, nothing half-done.
    wait_until(lambda: status_of(owner_engine, tid) == "PENDING" and not rows(owner_engine, tid)["tickets"])
    wait_until(lambda: not _backend_alive(owner_engine, backend))
    workers(redis_url)  # the restart
    # The unacked message only returns after the visibility timeout (1 h); the
    # sweeper re-enqueues PENDING payments older than 2 minutes well before that.
    backdate(owner_engine, tid)
    with app.app_context():
        assert sweeper.sweep_pending()["requeued"] == 1
    wait_until(lambda: status_of(owner_engine, tid) == "CONFIRMED", timeout=20)
    # A duplicate delivery (the old message coming back, a second sweep) changes nothing.
    with app.app_context():
        assert ingest.enqueue_processing(tid)
        assert ingest.enqueue_processing(tid)
    time.sleep(1)  # give the duplicates time to run; the assertion is that nothing changed
    found = rows(owner_engine, tid)
    assert len(found["tickets"]) == 1 and found["transactions"][0]["status"] == "CONFIRMED"


def _backend_alive(owner_engine, pid: int) -> bool:
    """A dead worker's transaction lives on in Postgres until it next writes to its client."""
    with owner_engine.connect() as conn:
        return bool(conn.execute(sa.text("SELECT count(*) FROM pg_stat_activity WHERE pid = :pid"),
                                 {"pid": pid}).scalar())


@pytest.fixture
def private_redis(monkeypatch, app):
    """The app's Redis (nonces, cache, events) and its broker on a private server the test may stop."""
    from celery import Celery

    from tests.fault_services import PrivateRedis

    server = PrivateRedis().start()
    monkeypatch.setattr(redis_client, "_client", redis_lib.Redis.from_url(
        server.url, socket_timeout=1.0, socket_connect_timeout=1.0))
    broker = Celery("payments-fault-test", set_as_current=False)
    broker.config_from_object({**app.config["CELERY"], "broker_url": server.url, "task_always_eager": False})
    broker.finalize()
    monkeypatch.setitem(app.extensions, "celery", broker)
    yield server
    server.stop()
    broker.close()


def test_redis_dying_during_ingest_still_records_the_payment_then_the_sweeper_confirms_it(
        app, kiosk, private_redis, workers, owner_engine, monkeypatch):
    real_insert = ingest.insert_pending

    def insert_then_lose_redis(values):
        inserted = real_insert(values)
        private_redis.stop()  # after the guard (nonce) and the commit, before the enqueue
        return inserted

    monkeypatch.setattr(ingest, "insert_pending", insert_then_lose_redis)
    tid = new_id()
    started = time.monotonic()
    response = pay(kiosk, tid)
    assert response.status_code == 202, response.get_json()
    assert response.get_json()["status"] == "PENDING"
    assert time.monotonic() - started < 5
    assert status_of(owner_engine, tid) == "PENDING"
    monkeypatch.setattr(ingest, "insert_pending", real_insert)

    private_redis.start()  # same port: the app's clients reconnect by themselves
    workers(private_redis.url)
    backdate(owner_engine, tid)
    with app.app_context():
        assert sweeper.sweep_pending()["requeued"] == 1
    wait_until(lambda: status_of(owner_engine, tid) == "CONFIRMED", timeout=20)
    assert len(rows(owner_engine, tid)["tickets"]) == 1
    status = kiosk.get(f"/iot/payments/{tid}")
    assert status.status_code == 200 and status.get_json()["ticket"]["kind"] == "VIP"


def test_redis_down_before_the_request_is_never_a_500_and_the_retry_is_recorded_once(
        app, kiosk, private_redis, owner_engine):
    private_redis.stop()
    tid = new_id()
    first = pay(kiosk, tid)
    # The nonce store is down: either refused for now (503 + Retry-After) or recorded (202).
    assert first.status_code in (202, 503), first.get_json()
    if first.status_code == 503:
        assert first.headers["Retry-After"] and first.get_json()["error"]["code"] == "service_unavailable"
        assert status_of(owner_engine, tid) is None
    private_redis.start()
    retry = pay(kiosk, tid)  # the device retries: same transaction_id, fresh nonce
    assert retry.status_code in (200, 202)
    assert status_of(owner_engine, tid) == "PENDING"
    assert len(rows(owner_engine, tid)["transactions"]) == 1
    if retry.status_code == 202:
        # Recorded and handed to the broker now that it is back.
        assert redis_lib.Redis.from_url(private_redis.url).llen("celery") == 1


@pytest.fixture
def private_postgres_app(app, redis_url):
    """A second app on a private Postgres cluster the test may stop (tasks in-process)."""
    from flask_migrate import upgrade

    from kiosk import create_app
    from tests import factories
    from tests.conftest import make_config
    from tests.fault_services import PrivatePostgres

    server = PrivatePostgres().init().start()
    session_celery = app.extensions["celery"]
    try:
        fresh = create_app(make_config(server.url, redis_url))
        with fresh.app_context():
            upgrade(revision="heads")
            tenant = factories.make_tenant("Private PG")
        yield fresh, server, tenant
        with fresh.app_context():
            db.session.remove()
            db.engine.dispose()
    finally:
        # create_app made its Celery the default; give the session app its own back.
        session_celery.set_current()
        session_celery.set_default()
        server.destroy()


def test_postgres_down_gives_503_with_retry_after_and_the_retry_succeeds(private_postgres_app):
    from tests.helpers import DeviceClient

    fresh, server, tenant = private_postgres_app
    kiosk = DeviceClient(fresh.test_client(), tenant.device_id, tenant.device_secret)
    tid = new_id()
    server.stop()
    for attempt in range(3):
        response = pay(kiosk, tid)
        assert response.status_code == 503, response.get_data(as_text=True)
        assert int(response.headers["Retry-After"]) > 0
        assert response.get_json()["error"]["code"] == "service_unavailable"
        assert "Traceback" not in response.get_data(as_text=True)
    status = kiosk.get(f"/iot/payments/{tid}")
    assert status.status_code == 503 and status.headers["Retry-After"]
    server.start()
    retry = pay(kiosk, tid)
    assert retry.status_code == 202, retry.get_json()
    assert retry.get_json()["status"] == "CONFIRMED"  # tasks run in-process in this app
    body = kiosk.get(f"/iot/payments/{tid}").get_json()
    assert body["status"] == "CONFIRMED" and body["ticket"]["kind"] == "VIP"


def test_postgres_down_while_processing_leaves_the_payment_pending_for_the_sweeper(private_postgres_app):
    from tests.helpers import DeviceClient

    fresh, server, tenant = private_postgres_app
    celery = fresh.extensions["celery"]
    kiosk = DeviceClient(fresh.test_client(), tenant.device_id, tenant.device_secret)
    tid = new_id()
    celery.conf.task_always_eager = False
    celery.conf.broker_url = "memory://"  # recorded, not processed yet
    try:
        assert pay(kiosk, tid).status_code == 202
    finally:
        celery.conf.task_always_eager = True
    server.stop()
    task = celery.tasks[ingest.PROCESS_TASK]
    with fresh.app_context():
        result = task.apply(args=[tid])  # every retry hits the dead database, then gives up
    assert result.failed()
    server.start()
    engine = sa.create_engine(server.url)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text("UPDATE transactions SET created_at = now() - interval '3 minutes' "
                                 "WHERE transaction_id = :id"), {"id": tid})
            assert conn.execute(sa.text("SELECT status FROM transactions WHERE transaction_id = :id"),
                                {"id": tid}).scalar() == "PENDING"
        with fresh.app_context():
            assert sweeper.sweep_pending()["requeued"] == 1  # in-process here: settles it
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT status FROM transactions WHERE transaction_id = :id"),
                                {"id": tid}).scalar() == "CONFIRMED"
            assert conn.execute(sa.text("SELECT count(*) FROM tickets WHERE transaction_id = :id"),
                                {"id": tid}).scalar() == 1
    finally:
        engine.dispose()
