"""Identical requests racing each other: one row, one ticket, every answer a success.
Every test runs on both backends (real Postgres, and the embedded SQLite file)."""
from __future__ import annotations

import sqlalchemy as sa

from tests.backends import app, owner_engine  # noqa: F401 - every test runs on both backends
from tests.helpers import DeviceClient, run_threads
from tests.payments.conftest import new_id, rows


def test_fifty_threads_posting_the_same_payment_make_one_row_and_one_ticket(app, world, owner_engine):
    tid = new_id()
    count = 50

    def post(_index):
        kiosk = DeviceClient(app.test_client(), world.a.device_id, world.a.device_secret)
        # Each request signs with its own fresh nonce, as a retrying device does.
        response = kiosk.post("/iot/payments", {"transaction_id": tid, "amount": 500})
        return response.status_code, response.get_json()

    answers = [a for a in run_threads(app, count, post, barrier_timeout=20, join_timeout=90) if a is not None]
    statuses = [status for status, _ in answers]
    bodies = [body for _, body in answers]
    assert len(statuses) == count
    assert set(statuses) <= {200, 202}, [b for b in bodies if "error" in b][:3]
    assert statuses.count(202) == 1
    assert all(body["transaction_id"] == tid for body in bodies)
    found = rows(owner_engine, tid)
    assert len(found["transactions"]) == 1 and found["transactions"][0]["status"] == "CONFIRMED"
    assert len(found["tickets"]) == 1


def test_racing_free_ticket_requests_get_the_same_ticket(app, backend, world, owner_engine):
    request_id = new_id()
    count = 20

    def post(_index):
        kiosk = DeviceClient(app.test_client(), world.a.device_id, world.a.device_secret)
        response = kiosk.post("/iot/tickets", {"request_id": request_id})
        return response.status_code, response.get_json().get("ticket_id")

    results = [r for r in run_threads(app, count, post, barrier_timeout=20, join_timeout=60) if r is not None]
    assert sorted(status for status, _ in results) == [200] * (count - 1) + [201]
    assert len({ticket_id for _, ticket_id in results}) == 1
    with owner_engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM tickets WHERE request_id = :r"),
                            {"r": backend.id_param(request_id)}).scalar() == 1
