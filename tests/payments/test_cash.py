"""Cash boxes on real Postgres: what a kiosk's box should hold, collections, races, tenancy."""
from __future__ import annotations

import threading
import uuid
from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from kiosk.extensions import db
from kiosk.payments import cash
from kiosk.payments.models import Transaction
from kiosk.tenancy import tenant_scope
from tests.helpers import ApiClient, DeviceClient, run_threads
from tests.payments.conftest import new_id, pay


@pytest.fixture
def manager(api, world):
    api.login(world.a.manager_email)
    return api


def box(manager, device_id):
    response = manager.get(f"/api/devices/{device_id}/cash")
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def collect(manager, device_id, counted, **extra):
    return manager.post(f"/api/devices/{device_id}/collections", json={"counted": counted, **extra})


def add_payment(establishment_id, device_id, amount, status="PENDING", currency="XOF") -> str:
    """A payment row as the ingest writes it (for states the HTTP path passes through too fast)."""
    tid = uuid.uuid4()
    with tenant_scope(establishment_id):
        db.session.add(Transaction(transaction_id=tid, device_id=device_id, amount=amount, currency=currency,
                                   status=status, payload_hash="0" * 64))
        db.session.commit()
    return str(tid)


def owner_totals(owner_engine, device_id) -> dict:
    """As the table owner (no ORM filter, no RLS): every payment and collection of one device."""
    with owner_engine.connect() as conn:
        payments = conn.execute(sa.text(
            "SELECT amount, collection_id FROM transactions WHERE device_id = :d"), {"d": device_id}).all()
        collections = conn.execute(sa.text(
            "SELECT id, number, expected, counted, difference, payments FROM cash_collections "
            "WHERE device_id = :d ORDER BY number"), {"d": device_id}).mappings().all()
    return {"payments": payments, "collections": [dict(c) for c in collections]}


# --- the flow -------------------------------------------------------------------------------

def test_confirmed_and_failed_payments_fill_the_box_then_a_short_collection_restarts_the_count(
        kiosk, manager, world):
    device = world.a.device_id
    empty = box(manager, device)
    assert empty["expected"] == 0 and empty["payments"] == [] and empty["currency"] == "XOF"

    confirmed = new_id()
    assert pay(kiosk, confirmed, 500).get_json()["status"] == "CONFIRMED"
    failed = new_id()
    refused = pay(kiosk, failed, 300).get_json()
    assert refused["status"] == "FAILED"  # below the VIP price: no ticket, but the coins are in the box

    full = box(manager, device)
    assert full["expected"] == 800
    assert {(p["transaction_id"], p["amount"], p["status"]) for p in full["payments"]} == {
        (confirmed, 500, "CONFIRMED"), (failed, 300, "FAILED")}
    assert full["since"] == empty["since"]

    response = collect(manager, device, 700)
    assert response.status_code == 201, response.get_json()
    made = response.get_json()
    assert (made["expected"], made["counted"], made["difference"], made["payments"]) == (800, 700, -100, 2)
    assert made["collected_by"] == world.a.manager_email
    assert made["beyond_threshold"] is True  # the default threshold is 0: any difference stands out

    restarted = box(manager, device)
    assert restarted["expected"] == 0 and restarted["payments"] == []
    assert restarted["since"] == made["collected_at"]
    assert restarted["last_collection_id"] == made["id"]

    again = new_id()
    pay(kiosk, again, 500)
    after = box(manager, device)
    assert after["expected"] == 500 and [p["transaction_id"] for p in after["payments"]] == [again]

    history = manager.get(f"/api/devices/{device}/collections").get_json()
    assert [c["number"] for c in history["collections"]] == [2, 1]  # newest first; 1 is the factory's
    assert history["collections"][0]["id"] == made["id"]


def test_a_pending_payment_is_in_the_box_and_stays_counted_once_it_settles(app, kiosk, manager, world, owner_engine):
    device = world.a.device_id
    with app.app_context():
        pending = add_payment(world.a.id, device, 500)
    assert box(manager, device)["expected"] == 500
    assert collect(manager, device, 500).get_json()["difference"] == 0
    with app.app_context():
        from kiosk.payments.processing import process_transaction

        assert process_transaction(pending) == "CONFIRMED"
    assert box(manager, device)["expected"] == 0  # settling later never puts the coins back in the box
    totals = owner_totals(owner_engine, device)
    assert all(collection_id is not None for _, collection_id in totals["payments"])


def test_a_surplus_is_a_positive_difference_and_an_empty_box_can_be_collected(kiosk, manager, world):
    device = world.a.device_id
    pay(kiosk, amount=500)
    assert collect(manager, device, 1000).get_json()["difference"] == 500
    zero = collect(manager, device, 0)
    assert zero.status_code == 201
    assert (zero.get_json()["expected"], zero.get_json()["difference"], zero.get_json()["payments"]) == (0, 0, 0)


def test_a_payment_in_another_currency_is_shown_apart_never_added(app, manager, world):
    device = world.a.device_id
    with app.app_context():
        add_payment(world.a.id, device, 500, status="CONFIRMED")
        add_payment(world.a.id, device, 300, status="FAILED", currency="EUR")
    content = box(manager, device)
    assert content["expected"] == 500
    assert content["other_currencies"] == {"EUR": 300}
    assert len(content["payments"]) == 2
    made = collect(manager, device, 500).get_json()
    assert (made["expected"], made["difference"], made["payments"]) == (500, 0, 2)
    assert box(manager, device)["other_currencies"] == {}


def test_collections_chain_their_since_on_a_controlled_clock(app, world):
    # After the factory's own collection (made at the real time).
    start = datetime.now(timezone.utc).replace(microsecond=0) + timedelta(days=1)
    with app.app_context(), tenant_scope(world.a.id):
        first = cash.collect(world.a.device_id, 0, now=start)
        second = cash.collect(world.a.device_id, 0, now=start + timedelta(hours=9))
        assert second.since == first.collected_at == start
        assert second.collected_at == start + timedelta(hours=9)
        assert cash.cash_box(world.a.device_id)["since"] == start + timedelta(hours=9)
        # A clock that went backwards never gives a collection before its own start.
        third = cash.collect(world.a.device_id, 0, now=start)
        assert third.collected_at == third.since == start + timedelta(hours=9)


def test_history_limit_is_validated(manager, world):
    device = world.a.device_id
    for _ in range(3):
        collect(manager, device, 0)
    assert len(manager.get(f"/api/devices/{device}/collections?limit=2").get_json()["collections"]) == 2
    for bad in ("0", "1001", "x"):
        response = manager.get(f"/api/devices/{device}/collections?limit={bad}")
        assert response.status_code == 400 and response.get_json()["error"]["code"] == "validation_error"
    assert manager.get(f"/api/devices/{device}/collections?color=red").status_code == 400


# --- validation and access ------------------------------------------------------------------

@pytest.mark.parametrize("body, field", [
    ({"counted": "500"}, "counted"),
    ({"counted": 12.5}, "counted"),
    ({"counted": True}, "counted"),
    ({"counted": -1}, "counted"),
    ({"counted": None}, "counted"),
    ({"counted": 10**13}, "counted"),
    ({}, "counted"),
    ({"counted": 500, "expected": 500}, "expected"),
    ({"counted": 500, "last_collection_id": "not-a-uuid"}, "last_collection_id"),
    ([500], "_schema"),
])
def test_bad_counts_are_400_validation_errors_and_record_nothing(manager, world, owner_engine, body, field):
    before = owner_totals(owner_engine, world.a.device_id)["collections"]
    response = manager.post(f"/api/devices/{world.a.device_id}/collections", json=body)
    assert response.status_code == 400
    error = response.get_json()["error"]
    assert error["code"] == "validation_error" and field in error["details"]
    assert owner_totals(owner_engine, world.a.device_id)["collections"] == before


def test_a_body_that_is_not_json_is_refused(manager, world):
    path = f"/api/devices/{world.a.device_id}/collections"
    assert manager.post(path, data="counted=5", content_type="application/x-www-form-urlencoded").status_code == 415
    assert manager.post(path, data="{", content_type="application/json").status_code == 400


def test_agents_get_403_and_strangers_401(app, world):
    agent = ApiClient(app.test_client())
    agent.login(world.a.agent_email)
    stranger = ApiClient(app.test_client())
    device = world.a.device_id
    for client, status in ((agent, 403), (stranger, 401)):
        assert client.get(f"/api/devices/{device}/cash").status_code == status
        assert client.post(f"/api/devices/{device}/collections", json={"counted": 0}).status_code == status
        assert client.get(f"/api/devices/{device}/collections").status_code == status
        assert client.get("/api/settings/cash").status_code == status
        assert client.put("/api/settings/cash", json={"difference_threshold": 5}).status_code == status


# --- tenancy --------------------------------------------------------------------------------

def test_another_establishments_box_is_404_and_untouched(kiosk, other_kiosk, manager, world, owner_engine):
    pay(kiosk, amount=500)
    pay(other_kiosk, amount=500)
    theirs = world.b.device_id
    before = owner_totals(owner_engine, theirs)
    for response in (manager.get(f"/api/devices/{theirs}/cash"),
                     manager.post(f"/api/devices/{theirs}/collections", json={"counted": 0}),
                     manager.post(f"/api/devices/{theirs}/collections", json={"counted": "bad"}),
                     manager.get(f"/api/devices/{theirs}/collections"),
                     manager.get("/api/devices/dev_unknown/cash")):
        assert response.status_code == 404
        assert response.get_json()["error"]["code"] == "not_found"
    assert owner_totals(owner_engine, theirs) == before
    # Collecting A's box claims A's payments only.
    assert collect(manager, world.a.device_id, 500).get_json()["expected"] == 500
    assert owner_totals(owner_engine, theirs) == before
    other_manager = ApiClient(manager.client.application.test_client())
    other_manager.login(world.b.manager_email)
    assert box(other_manager, theirs)["expected"] == 500


def test_the_threshold_is_per_establishment_and_drives_the_highlight(app, manager, world, kiosk):
    assert manager.get("/api/settings/cash").get_json() == {"difference_threshold": 0, "currency": "XOF"}
    response = manager.put("/api/settings/cash", json={"difference_threshold": 200})
    assert response.status_code == 200 and response.get_json()["difference_threshold"] == 200
    pay(kiosk, amount=500)
    within = collect(manager, world.a.device_id, 300).get_json()  # -200: not beyond 200
    assert within["beyond_threshold"] is False
    pay(kiosk, amount=500)
    beyond = collect(manager, world.a.device_id, 799).get_json()  # +299
    assert beyond["beyond_threshold"] is True
    other = ApiClient(app.test_client())
    other.login(world.b.manager_email)
    assert other.get("/api/settings/cash").get_json()["difference_threshold"] == 0
    for bad in ({"difference_threshold": -1}, {"difference_threshold": "5"}, {"difference_threshold": 1.5}, {},
                {"difference_threshold": 5, "currency": "EUR"}):
        answer = manager.patch("/api/settings/cash", json=bad)
        assert answer.status_code == 400 and answer.get_json()["error"]["code"] == "validation_error", bad


# --- races ----------------------------------------------------------------------------------

def _manager_client(app, email):
    client = ApiClient(app.test_client())
    client.login(email)
    return client


def test_racing_collections_that_saw_the_same_box_one_wins_the_others_get_409(app, world, owner_engine, kiosk):
    device = world.a.device_id
    for _ in range(3):
        pay(kiosk, amount=500)
    seen = _manager_client(app, world.a.manager_email).get(f"/api/devices/{device}/cash").get_json()
    count = 8
    clients = [_manager_client(app, world.a.manager_email) for _ in range(count)]

    def post(index):
        response = collect(clients[index], device, 1500, last_collection_id=seen["last_collection_id"])
        return response.status_code, response.get_json()

    answers = run_threads(app, count, post)
    statuses = sorted(status for status, _ in answers)
    assert statuses == [201] + [409] * (count - 1), answers
    losers = [body for status, body in answers if status == 409]
    winner = next(body for status, body in answers if status == 201)
    assert all(b["error"]["code"] == "collection_conflict" for b in losers)
    assert all(b["error"]["details"]["last_collection_id"] == winner["id"] for b in losers)
    totals = owner_totals(owner_engine, device)
    assert [c["number"] for c in totals["collections"]] == [1, 2]
    assert totals["collections"][1]["expected"] == 1500 and totals["collections"][1]["difference"] == 0


def test_racing_collections_without_the_check_are_counted_one_after_the_other(app, world, owner_engine, kiosk):
    device = world.a.device_id
    for _ in range(4):
        pay(kiosk, amount=500)
    count = 6
    clients = [_manager_client(app, world.a.manager_email) for _ in range(count)]

    def post(index):
        response = collect(clients[index], device, 2000)
        return response.status_code, response.get_json()

    answers = run_threads(app, count, post)
    assert all(status == 201 for status, _ in answers), answers
    expected = sorted(body["expected"] for _, body in answers)
    assert expected == [0] * (count - 1) + [2000]  # never two collections against the same 2,000
    totals = owner_totals(owner_engine, device)
    assert [c["number"] for c in totals["collections"]] == list(range(1, count + 2))
    assert sum(c["expected"] for c in totals["collections"][1:]) == 2000


def test_payments_arriving_during_collections_are_each_counted_exactly_once(app, world, owner_engine):
    """Kiosk payments and collections interleave for real: nothing is lost, nothing counted twice."""
    device = world.a.device_id
    payers, per_payer = 3, 15
    stop = threading.Event()
    collector = _manager_client(app, world.a.manager_email)
    collected: list[dict] = []

    def work(index):
        if index < payers:
            kiosk = DeviceClient(app.test_client(), device, world.a.device_secret)
            for _ in range(per_payer):
                assert pay(kiosk, amount=500).status_code == 202
            return "paid"
        while not stop.is_set():
            response = collect(collector, device, 0)
            assert response.status_code == 201, response.get_json()
            collected.append(response.get_json())
        return "collected"

    def stopper():
        # The collector stops once every payer is done (the payers finish first).
        import time

        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            with owner_engine.connect() as conn:
                done = conn.execute(sa.text("SELECT count(*) FROM transactions WHERE device_id = :d AND amount = 500"),
                                    {"d": device}).scalar()
            if done >= payers * per_payer:
                break
            time.sleep(0.05)
        stop.set()

    watcher = threading.Thread(target=stopper)
    watcher.start()
    run_threads(app, payers + 1, work, join_timeout=150)
    watcher.join()
    final = collect(collector, device, 0).get_json()
    totals = owner_totals(owner_engine, device)
    ours = [c for c in totals["collections"] if c["number"] > 1]
    assert len(ours) == len(collected) + 1 >= 2
    assert sum(c["expected"] for c in ours) == payers * per_payer * 500
    assert sum(c["payments"] for c in ours) == payers * per_payer
    assert all(collection_id is not None for _, collection_id in totals["payments"])
    assert final["number"] == len(ours) + 1


def test_without_the_row_lock_the_unique_number_still_lets_only_one_collection_through(app, world, owner_engine,
                                                                                        kiosk, monkeypatch):
    """The second line of defence: take the device lock away, the unique (device, number) still holds."""
    monkeypatch.setattr(cash, "_locked_device", cash.box_device)
    device = world.a.device_id
    pay(kiosk, amount=500)
    count = 6
    clients = [_manager_client(app, world.a.manager_email) for _ in range(count)]

    def post(index):
        response = collect(clients[index], device, 500)
        return response.status_code, response.get_json()

    answers = run_threads(app, count, post)
    statuses = [status for status, _ in answers]
    assert set(statuses) <= {201, 409}, answers
    assert all(body["error"]["code"] == "collection_conflict" for status, body in answers if status == 409)
    totals = owner_totals(owner_engine, device)
    numbers = [c["number"] for c in totals["collections"]]
    assert numbers == list(range(1, len(numbers) + 1))  # no number twice
    assert statuses.count(201) == len(numbers) - 1
    assert sum(c["expected"] for c in totals["collections"][1:]) == 500  # the 500 counted once


def test_a_collection_is_in_the_audit_trail_with_who_counted_what(kiosk, manager, world):
    assert pay(kiosk, amount=500).status_code in (200, 202)
    response = collect(manager, world.a.device_id, 450)
    assert response.status_code == 201
    today = datetime.now(timezone.utc).date().isoformat()
    events = manager.get("/api/audit", query_string={"from": today, "to": today}).get_json()["events"]
    collected = [e for e in events if e["action"] == "cash.collected" and e["actor_id"] is not None]
    assert len(collected) == 1
    users = manager.get("/api/users").get_json()["users"]
    assert collected[0]["actor_id"] == next(u["id"] for u in users if u["email"] == world.a.manager_email)
    assert collected[0]["target_id"] == world.a.device_id
    assert collected[0]["details"]["counted"] == 450 and collected[0]["details"]["difference"] == -50
