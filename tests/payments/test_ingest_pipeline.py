"""The payment post's round trips (docs/performance.md, "Ingest pipeline"): what it writes, in how many
transactions, and that the device's last_seen still follows every verified request."""
from __future__ import annotations

import sqlalchemy as sa
import pytest

from kiosk.extensions import db, redis_client
from tests.payments.conftest import new_id, pay, rows


@pytest.fixture
def through_broker(app):
    celery = app.extensions["celery"]
    celery.conf.task_always_eager = False  # the worker's part is not under test here
    yield celery
    celery.conf.task_always_eager = True


@pytest.fixture
def commits(app):
    counted = []
    with app.app_context():
        engine = db.engine

    def count(conn):  # noqa: ANN001
        counted.append(1)

    sa.event.listen(engine, "commit", count)
    yield counted
    sa.event.remove(engine, "commit", count)


def _last_seen(owner_engine, device_id):
    with owner_engine.connect() as conn:
        return conn.execute(sa.text("SELECT last_seen FROM devices WHERE device_id = :d"),
                            {"d": device_id}).scalar_one()


def _forget_last_seen(owner_engine, device_id):
    redis_client.delete(f"last_seen:{device_id}")
    with owner_engine.begin() as conn:
        conn.execute(sa.text("UPDATE devices SET last_seen = NULL WHERE device_id = :d"), {"d": device_id})


def test_a_payment_and_its_last_seen_commit_together(kiosk, world, owner_engine, through_broker, commits):
    _forget_last_seen(owner_engine, world.a.device_id)
    tid = new_id()
    response = pay(kiosk, tid)
    assert response.status_code == 202 and response.get_json()["status"] == "PENDING"
    assert len(commits) == 1  # one transaction: the row and last_seen
    assert rows(owner_engine, tid)["transactions"][0]["status"] == "PENDING"
    assert _last_seen(owner_engine, world.a.device_id) is not None
    # Within the minute, the next payment writes the row only.
    commits.clear()
    assert pay(kiosk).status_code == 202
    assert len(commits) == 1


def test_a_refused_payment_still_writes_last_seen_and_nothing_else(kiosk, world, owner_engine, through_broker):
    _forget_last_seen(owner_engine, world.a.device_id)
    tid = new_id()
    response = pay(kiosk, tid, amount="500")  # verified, then invalid: 400
    assert response.status_code == 400
    assert _last_seen(owner_engine, world.a.device_id) is not None
    assert rows(owner_engine, tid)["transactions"] == []


def test_a_status_read_writes_last_seen(kiosk, world, owner_engine):
    _forget_last_seen(owner_engine, world.a.device_id)
    assert kiosk.get(f"/iot/payments/{new_id()}").status_code == 404
    assert _last_seen(owner_engine, world.a.device_id) is not None


def test_an_idempotent_retry_answers_as_before(kiosk, owner_engine, through_broker):
    tid = new_id()
    first = pay(kiosk, tid)
    assert first.status_code == 202
    again = pay(kiosk, tid)
    assert again.status_code == 200 and again.get_json()["status"] == "PENDING"
    assert len(rows(owner_engine, tid)["transactions"]) == 1
    assert pay(kiosk, tid, amount=600).status_code == 422
