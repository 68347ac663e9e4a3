"""Identical requests racing each other: one row, one ticket, every answer a success."""
from __future__ import annotations

import threading

from tests.helpers import DeviceClient
from tests.payments.conftest import new_id, rows


def test_fifty_threads_posting_the_same_payment_make_one_row_and_one_ticket(app, world, owner_engine):
    tid = new_id()
    count = 50
    barrier = threading.Barrier(count)
    statuses, bodies, errors = [], [], []

    def post() -> None:
        try:
            kiosk = DeviceClient(app.test_client(), world.a.device_id, world.a.device_secret)
            barrier.wait(20)
            # Each request signs with its own fresh nonce, as a retrying device does.
            response = kiosk.post("/iot/payments", {"transaction_id": tid, "amount": 500})
            statuses.append(response.status_code)
            bodies.append(response.get_json())
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=post) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(90)
    assert errors == []
    assert len(statuses) == count
    assert set(statuses) <= {200, 202}, [b for b in bodies if "error" in b][:3]
    assert statuses.count(202) == 1
    assert all(body["transaction_id"] == tid for body in bodies)
    found = rows(owner_engine, tid)
    assert len(found["transactions"]) == 1 and found["transactions"][0]["status"] == "CONFIRMED"
    assert len(found["tickets"]) == 1


def test_racing_free_ticket_requests_get_the_same_ticket(app, world, owner_engine):
    request_id = new_id()
    count = 20
    barrier = threading.Barrier(count)
    results, errors = [], []

    def post() -> None:
        try:
            kiosk = DeviceClient(app.test_client(), world.a.device_id, world.a.device_secret)
            barrier.wait(20)
            response = kiosk.post("/iot/tickets", {"request_id": request_id})
            results.append((response.status_code, response.get_json().get("ticket_id")))
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=post) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    assert sorted(status for status, _ in results) == [200] * (count - 1) + [201]
    assert len({ticket_id for _, ticket_id in results}) == 1
    with owner_engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM tickets WHERE request_id = %s",
                                    (request_id,)).scalar() == 1
