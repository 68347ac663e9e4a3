"""POST /iot/payments, GET /iot/payments/<id>, POST /iot/tickets (tasks run in-process here)."""
from __future__ import annotations

import json

import pytest

from tests.payments.conftest import new_id, pay, rows


def test_new_payment_is_accepted_and_confirmed_with_one_vip_ticket(kiosk, owner_engine):
    tid = new_id()
    response = pay(kiosk, tid, 500)
    assert response.status_code == 202
    body = response.get_json()
    assert body == {"transaction_id": tid, "status": "CONFIRMED", "status_url": f"/iot/payments/{tid}"}
    db_rows = rows(owner_engine, tid)
    assert [t["status"] for t in db_rows["transactions"]] == ["CONFIRMED"]
    assert db_rows["transactions"][0]["attempts"] == 1
    assert len(db_rows["tickets"]) == 1 and db_rows["tickets"][0]["kind"] == "VIP"
    assert db_rows["transactions"][0]["ticket_id"] == db_rows["tickets"][0]["id"]


def test_status_shows_the_ticket_position_eta_and_tracking_url(kiosk):
    tid = new_id()
    pay(kiosk, tid, 700)
    response = kiosk.get(f"/iot/payments/{tid}")
    assert response.status_code == 200
    body = response.get_json()
    assert body["transaction_id"] == tid and body["status"] == "CONFIRMED"
    assert body["amount"] == 700 and body["currency"] == "XOF" and body["failure_reason"] is None
    ticket = body["ticket"]
    assert set(ticket) == {"ticket_id", "code", "kind", "status", "position", "eta_minutes", "tracking_url"}
    assert ticket["kind"] == "VIP" and ticket["status"] == "WAITING" and ticket["code"].startswith("VA-")
    # The VIP goes before the STANDARD ticket the factory issued.
    assert ticket["position"] == 1
    assert set(ticket["eta_minutes"]) == {"min", "max"}
    assert ticket["eta_minutes"]["min"] <= ticket["eta_minutes"]["max"]
    assert ticket["tracking_url"].startswith("http://localhost/t/")


def test_identical_retry_answers_200_with_the_current_state(kiosk, owner_engine):
    tid = new_id()
    assert pay(kiosk, tid, 500).status_code == 202
    again = pay(kiosk, tid, 500)  # fresh nonce, same transaction_id
    assert again.status_code == 200
    body = again.get_json()
    assert body["status"] == "CONFIRMED" and body["ticket"]["kind"] == "VIP"
    assert len(rows(owner_engine, tid)["tickets"]) == 1


def test_omitted_currency_and_the_establishments_own_are_the_same_payment(kiosk):
    tid = new_id()
    assert pay(kiosk, tid, 500).status_code == 202
    assert pay(kiosk, tid, 500, currency="XOF").status_code == 200


def test_same_id_with_another_amount_is_an_idempotency_mismatch(kiosk, owner_engine):
    tid = new_id()
    pay(kiosk, tid, 500)
    response = pay(kiosk, tid, 1000)
    assert response.status_code == 422
    assert response.get_json()["error"]["code"] == "idempotency_mismatch"
    assert rows(owner_engine, tid)["transactions"][0]["status"] == "CONFIRMED"


def test_same_id_from_another_device_of_the_same_establishment_is_a_mismatch(app, kiosk, world, device_client,
                                                                             owner_engine):
    from kiosk.devices.services import register_device
    from kiosk.tenancy import tenant_scope

    with app.app_context(), tenant_scope(world.a.id):
        second, secret = register_device("Second kiosk", world.a.queue_id)
    tid = new_id()
    pay(kiosk, tid, 500)
    response = pay(device_client(second.device_id, secret), tid, 500)
    assert response.status_code == 422
    assert response.get_json()["error"] == {
        "code": "idempotency_mismatch", "message": response.get_json()["error"]["message"], "details": {}}
    assert rows(owner_engine, tid)["transactions"][0]["device_id"] == world.a.device_id


def test_another_establishments_transaction_id_is_a_mismatch_that_leaks_nothing(kiosk, other_kiosk, owner_engine):
    tid = new_id()
    pay(kiosk, tid, 500)
    response = pay(other_kiosk, tid, 500)
    assert response.status_code == 422
    error = response.get_json()["error"]
    assert error["code"] == "idempotency_mismatch" and error["details"] == {}
    assert "CONFIRMED" not in response.get_data(as_text=True)
    assert len(rows(owner_engine, tid)["transactions"]) == 1


def test_status_is_404_for_another_device_or_tenant_or_unknown_or_malformed(app, kiosk, other_kiosk, world,
                                                                            device_client):
    from kiosk.devices.services import register_device
    from kiosk.tenancy import tenant_scope

    with app.app_context(), tenant_scope(world.a.id):
        second, secret = register_device("Second kiosk", world.a.queue_id)
    tid = new_id()
    pay(kiosk, tid, 500)
    for client, path in ((other_kiosk, f"/iot/payments/{tid}"), (device_client(second.device_id, secret),
                                                                 f"/iot/payments/{tid}"),
                         (kiosk, f"/iot/payments/{new_id()}"), (kiosk, "/iot/payments/not-a-uuid")):
        response = client.get(path)
        assert response.status_code == 404, path
        assert response.get_json()["error"]["code"] == "not_found"


def test_payment_routes_require_a_signature(client):
    response = client.post("/iot/payments", json={"transaction_id": new_id(), "amount": 500})
    assert response.status_code == 401
    assert response.get_json()["error"]["code"] == "missing_signature"
    assert client.get(f"/iot/payments/{new_id()}").status_code == 401
    assert client.post("/iot/tickets", json={"request_id": new_id()}).status_code == 401


@pytest.mark.parametrize("payload, field", [
    ({"transaction_id": "TID", "amount": "500"}, "amount"),
    ({"transaction_id": "TID", "amount": 12.5}, "amount"),
    ({"transaction_id": "TID", "amount": 500.0}, "amount"),
    ({"transaction_id": "TID", "amount": True}, "amount"),
    ({"transaction_id": "TID", "amount": -500}, "amount"),
    ({"transaction_id": "TID", "amount": 0}, "amount"),
    ({"transaction_id": "TID", "amount": None}, "amount"),
    ({"transaction_id": "TID", "amount": 10**13}, "amount"),
    ({"transaction_id": "TID"}, "amount"),
    ({"amount": 500}, "transaction_id"),
    ({"transaction_id": "not-a-uuid", "amount": 500}, "transaction_id"),
    ({"transaction_id": 12345, "amount": 500}, "transaction_id"),
    ({"transaction_id": "TID", "amount": 500, "currency": "xof"}, "currency"),
    ({"transaction_id": "TID", "amount": 500, "currency": "ZZZ"}, "currency"),
    ({"transaction_id": "TID", "amount": 500, "currency": 952}, "currency"),
    ({"transaction_id": "TID", "amount": 500, "establishment_id": "TID"}, "establishment_id"),
    ({"transaction_id": "TID", "amount": 500, "status": "CONFIRMED"}, "status"),
])
def test_bad_payloads_are_400_validation_errors_and_record_nothing(kiosk, owner_engine, payload, field):
    tid = new_id()
    payload = {k: (tid if v == "TID" else v) for k, v in payload.items()}
    response = kiosk.post("/iot/payments", payload)
    assert response.status_code == 400
    error = response.get_json()["error"]
    assert error["code"] == "validation_error" and field in error["details"]
    assert rows(owner_engine, tid)["transactions"] == []


def test_non_json_body_and_wrong_content_type_are_refused(kiosk):
    not_json = kiosk.post("/iot/payments", body=b"{not json", headers={"Content-Type": "application/json"})
    assert not_json.status_code == 400
    assert not_json.get_json()["error"]["code"] == "invalid_json"
    body = json.dumps({"transaction_id": new_id(), "amount": 500}).encode()
    form = kiosk.post("/iot/payments", body=body, headers={"Content-Type": "text/plain"})
    assert form.status_code in (400, 415)
    assert form.get_json()["error"]["code"] in ("unsupported_media_type", "validation_error")
    array = kiosk.post("/iot/payments", [1, 2])
    assert array.status_code == 400 and array.get_json()["error"]["code"] == "validation_error"
    empty = kiosk.post("/iot/payments", body=b"", headers={"Content-Type": "application/json"})
    assert empty.status_code == 400


# --- free tickets -------------------------------------------------------------------------

def test_free_ticket_is_idempotent_on_request_id(kiosk, owner_engine):
    request_id = new_id()
    first = kiosk.post("/iot/tickets", {"request_id": request_id})
    assert first.status_code == 201
    ticket = first.get_json()
    assert ticket["kind"] == "STANDARD" and ticket["status"] == "WAITING" and ticket["code"].startswith("A-")
    assert ticket["request_id"] == request_id and ticket["tracking_url"].startswith("http://localhost/t/")
    again = kiosk.post("/iot/tickets", {"request_id": request_id})
    assert again.status_code == 200
    assert again.get_json()["ticket_id"] == ticket["ticket_id"]
    with owner_engine.connect() as conn:
        count = conn.exec_driver_sql("SELECT count(*) FROM tickets WHERE request_id = %s", (request_id,)).scalar()
    assert count == 1


def test_free_ticket_request_id_of_another_tenant_is_a_mismatch(kiosk, other_kiosk):
    request_id = new_id()
    assert kiosk.post("/iot/tickets", {"request_id": request_id}).status_code == 201
    response = other_kiosk.post("/iot/tickets", {"request_id": request_id})
    assert response.status_code == 422
    assert response.get_json()["error"] == {"code": "idempotency_mismatch",
                                            "message": response.get_json()["error"]["message"], "details": {}}


@pytest.mark.parametrize("payload", [{}, {"request_id": "nope"}, {"request_id": 5},
                                     {"request_id": "R", "kind": "VIP"}])
def test_free_ticket_bad_payloads_are_400(kiosk, payload):
    payload = {k: (new_id() if v == "R" else v) for k, v in payload.items()}
    response = kiosk.post("/iot/tickets", payload)
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "validation_error"


def test_free_ticket_for_a_closed_queue_is_409(app, kiosk, world):
    from kiosk.queues.services import update_queue
    from kiosk.tenancy import tenant_scope

    with app.app_context(), tenant_scope(world.a.id):
        update_queue(world.a.queue_id, {"active": False})
    response = kiosk.post("/iot/tickets", {"request_id": new_id()})
    assert response.status_code == 409
    assert response.get_json()["error"]["code"] == "queue_closed"
