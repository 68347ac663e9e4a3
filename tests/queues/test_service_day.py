"""The service day: when a day closes, what expires, and what never comes back the next morning."""
from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from kiosk.establishments.models import Establishment
from kiosk.display.services import build_snapshot
from kiosk.extensions import db
from kiosk.payments.models import Transaction
from kiosk.queues import closing, services
from kiosk.queues.numbering import local_day
from kiosk.queues.presentation import queue_detail
from kiosk.queues import service_day as calendar
from kiosk.queues.models import Ticket
from kiosk.queues.tracking import public_state
from kiosk.tenancy import tenant_scope
from tests.factories import PASSWORD
from tests.helpers import run_threads

UTC = timezone.utc
WEEKDAYS = {"mon": [["08:00", "12:00"], ["14:00", "18:00"]], "tue": ["08:00", "18:00"]}
MONDAY = date(2026, 3, 2)


# --- the calendar (pure) -----------------------------------------------------------------------

def test_a_day_closes_at_the_end_of_its_last_opening_interval():
    assert calendar.closing("Africa/Abidjan", WEEKDAYS, MONDAY) == datetime(2026, 3, 2, 18, 0, tzinfo=UTC)
    assert calendar.closing("Europe/Paris", WEEKDAYS, MONDAY) == datetime(2026, 3, 2, 17, 0, tzinfo=UTC)


def test_a_day_with_no_opening_hours_closes_at_local_midnight():
    sunday = date(2026, 3, 8)
    assert calendar.closing("Africa/Abidjan", WEEKDAYS, sunday) == datetime(2026, 3, 9, 0, 0, tzinfo=UTC)
    assert calendar.closing("Africa/Abidjan", {}, MONDAY) == datetime(2026, 3, 3, 0, 0, tzinfo=UTC)
    assert calendar.closing("Africa/Abidjan", None, MONDAY) == datetime(2026, 3, 3, 0, 0, tzinfo=UTC)


def test_a_time_zone_whose_midnight_is_not_utcs():
    # Tokyo's midnight is 15:00 UTC the day before; Los Angeles' is 08:00 UTC (07:00 in summer time).
    assert calendar.closing("Asia/Tokyo", {}, MONDAY) == datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
    assert calendar.closing("America/Los_Angeles", {}, MONDAY) == datetime(2026, 3, 3, 8, 0, tzinfo=UTC)
    assert calendar.closing("America/Los_Angeles", {}, date(2026, 7, 6)) == datetime(2026, 7, 7, 7, 0, tzinfo=UTC)
    late = datetime(2026, 3, 2, 16, 0, tzinfo=UTC)
    assert calendar.local_day("Asia/Tokyo", late) == date(2026, 3, 3)
    assert calendar.local_day("America/Los_Angeles", late) == date(2026, 3, 2)


def test_an_interval_past_midnight_closes_the_next_morning_and_bad_entries_are_ignored():
    night = {"mon": [["20:00", "02:00"]], "tue": ["nonsense"], "wed": [["09:00", "24:00"]]}
    assert calendar.closing("Africa/Abidjan", night, MONDAY) == datetime(2026, 3, 3, 2, 0, tzinfo=UTC)
    assert calendar.deadline("Africa/Abidjan", night, MONDAY) == datetime(2026, 3, 3, 2, 0, tzinfo=UTC)
    assert calendar.closing("Africa/Abidjan", night, date(2026, 3, 3)) == datetime(2026, 3, 4, 0, 0, tzinfo=UTC)
    assert calendar.closing("Africa/Abidjan", night, date(2026, 3, 4)) == datetime(2026, 3, 5, 0, 0, tzinfo=UTC)


# --- against the database ----------------------------------------------------------------------

def _set_establishment(app, tenant_id, **values) -> None:
    with app.app_context(), tenant_scope(tenant_id):
        establishment = db.session.execute(sa.select(Establishment)).scalar_one()
        for key, value in values.items():
            setattr(establishment, key, value)
        db.session.commit()


def _issue(app, tenant_id, queue_id, kind="STANDARD", paid=False) -> str:
    with app.app_context(), tenant_scope(tenant_id):
        transaction_id = None
        if paid:
            transaction_id = uuid.uuid4()
            db.session.add(Transaction(transaction_id=transaction_id, device_id="kiosk", amount=700, currency="XOF",
                                       status="CONFIRMED", payload_hash="0" * 64))
            db.session.flush()
        ticket = services.issue_ticket(services.get_queue(queue_id), kind, transaction_id=transaction_id)
        return str(ticket.id)


def _status(app, tenant_id, ticket_id) -> str:
    with app.app_context(), tenant_scope(tenant_id):
        return db.session.get(Ticket, uuid.UUID(ticket_id)).status


def _expire(app, now) -> dict:
    with app.app_context():
        return closing.expire_closed_days(now)


def test_open_tickets_expire_at_closing_in_the_establishments_own_time_zone(app, clock, world):
    _set_establishment(app, world.a.id, timezone="Asia/Tokyo")
    clock.set(datetime(2026, 3, 2, 10, 0, tzinfo=UTC))  # 19:00 in Tokyo, 10:00 in Abidjan
    waiting = _issue(app, world.a.id, world.a.queue_id)
    called = _issue(app, world.a.id, world.a.queue_id)
    with app.app_context(), tenant_scope(world.a.id):
        services.transition(called, "cancel")  # not open: untouched
        called = str(services.call_next(services.get_queue(world.a.queue_id), "2").id)
    abidjan = _issue(app, world.b.id, world.b.queue_id)

    assert _expire(app, datetime(2026, 3, 2, 14, 59, tzinfo=UTC))["expired"] == 0
    result = _expire(app, datetime(2026, 3, 2, 15, 0, tzinfo=UTC))  # Tokyo's midnight
    # A's open tickets of Monday (one waiting, the factory's one called to counter 2), not B's.
    assert result["expired"] == 2 and result["failed"] == 0
    assert _status(app, world.a.id, waiting) == "EXPIRED" and _status(app, world.a.id, called) == "EXPIRED"
    assert _status(app, world.b.id, abidjan) == "WAITING"
    assert _expire(app, datetime(2026, 3, 2, 15, 1, tzinfo=UTC))["expired"] == 0  # idempotent
    with app.app_context(), tenant_scope(world.a.id):
        finished = db.session.get(Ticket, uuid.UUID(waiting)).finished_at
    assert finished is not None


def test_tickets_issued_after_closing_are_served_until_midnight(app, clock, world):
    _set_establishment(app, world.a.id, opening_hours=WEEKDAYS)
    clock.set(datetime(2026, 3, 2, 17, 30, tzinfo=UTC))
    before = _issue(app, world.a.id, world.a.queue_id)
    clock.set(datetime(2026, 3, 2, 18, 30, tzinfo=UTC))  # after Monday's 18:00 closing
    after = _issue(app, world.a.id, world.a.queue_id)
    assert _expire(app, clock.now)["expired"] >= 1
    assert _status(app, world.a.id, before) == "EXPIRED"
    assert _status(app, world.a.id, after) == "WAITING"
    with app.app_context(), tenant_scope(world.a.id):
        queue = services.get_queue(world.a.queue_id)
        assert [t["ticket_id"] for t in queue_detail(queue)["waiting"]] == [after]
    _expire(app, datetime(2026, 3, 3, 0, 0, tzinfo=UTC))
    assert _status(app, world.a.id, after) == "EXPIRED"


def test_yesterdays_tickets_never_reach_todays_lists_even_before_the_expiry_runs(app, clock, world, api):
    clock.set(datetime(2026, 3, 2, 16, 0, tzinfo=UTC))
    old_standard = _issue(app, world.a.id, world.a.queue_id)
    old_vip = _issue(app, world.a.id, world.a.queue_id, "VIP", paid=True)
    with app.app_context(), tenant_scope(world.a.id):
        # Yesterday's VIP streak: three VIP calls while a standard ticket waited.
        for _ in range(3):
            _issue(app, world.a.id, world.a.queue_id, "VIP", paid=True)
        for _ in range(3):
            services.call_next(services.get_queue(world.a.queue_id), "1")

    clock.set(datetime(2026, 3, 3, 8, 0, tzinfo=UTC))  # next morning; no expiry has run
    today = _issue(app, world.a.id, world.a.queue_id)
    today_vip = _issue(app, world.a.id, world.a.queue_id, "VIP", paid=True)
    api.login(world.a.agent_email, PASSWORD)
    body = api.get(f"/api/queues/{world.a.queue_id}").get_json()
    assert [t["ticket_id"] for t in body["waiting"]] == [today_vip, today]
    assert body["waiting_count"] == 2 and body["vip_streak"] == 0 and body["called"] == []
    assert body["waiting"][1]["code"] == "A-001"  # today's A-001, yesterday's is not in the list
    with app.app_context():
        snapshot = build_snapshot(uuid.UUID(world.a.id))
    queue = next(q for q in snapshot["queues"] if q["id"] == world.a.queue_id)
    assert queue["waiting"] == 2 and [t["ticket_id"] for t in queue["next"]] == [today_vip, today]
    assert snapshot["now_serving"] == []
    # Today's VIP first (yesterday's streak does not count), then today's standard; never yesterday's.
    called = [api.post(f"/api/queues/{world.a.queue_id}/call-next", json={"counter": "1"}).get_json()["ticket_id"]
              for _ in range(2)]
    assert called == [today_vip, today]
    assert api.post(f"/api/queues/{world.a.queue_id}/call-next", json={"counter": "1"}).status_code == 204
    # Still open in the database (the beat has not run), yet invisible to today.
    assert {_status(app, world.a.id, old_standard), _status(app, world.a.id, old_vip)} == {"WAITING", "CALLED"}


def test_expiry_run_twice_at_once_expires_each_ticket_once(app, clock, world):
    clock.set(datetime(2026, 3, 2, 12, 0, tzinfo=UTC))
    ids = [_issue(app, world.a.id, world.a.queue_id) for _ in range(15)]
    ids += [_issue(app, world.b.id, world.b.queue_id) for _ in range(15)]
    midnight = datetime(2026, 3, 3, 0, 0, 1, tzinfo=UTC)
    results = run_threads(app, 2, lambda _i: closing.expire_closed_days(midnight))
    # 30 issued here plus the one each factory issued: each expired by exactly one of the two runs.
    assert sum(r["expired"] for r in results) == 32 and all(r["failed"] == 0 for r in results)
    assert {_status(app, world.a.id, i) for i in ids[:15]} == {"EXPIRED"}
    assert {_status(app, world.b.id, i) for i in ids[15:]} == {"EXPIRED"}


def test_close_day_expires_one_queue_now_and_later_tickets_are_served(app, clock, world, api, client):
    clock.set(datetime(2026, 3, 2, 11, 0, tzinfo=UTC))
    first = _issue(app, world.a.id, world.a.queue_id)
    paid = _issue(app, world.a.id, world.a.queue_id, "VIP", paid=True)
    other_queue = _issue(app, world.a.id, world.a.other_queue_id)
    agent = type(api)(app.test_client())
    agent.login(world.a.agent_email, PASSWORD)
    assert agent.post(f"/api/queues/{world.a.queue_id}/close-day").status_code == 403
    api.login(world.a.manager_email, PASSWORD)
    assert api.post(f"/api/queues/{world.b.queue_id}/close-day").status_code == 404
    assert api.post("/api/queues/not-a-uuid/close-day").status_code == 404

    response = api.post(f"/api/queues/{world.a.queue_id}/close-day")
    assert response.status_code == 200 and response.get_json() == {"expired": 3}  # + the factory's ticket
    assert _status(app, world.a.id, first) == "EXPIRED" and _status(app, world.a.id, paid) == "EXPIRED"
    assert _status(app, world.a.id, other_queue) == "WAITING"
    assert api.post(f"/api/queues/{world.a.queue_id}/close-day").get_json() == {"expired": 0}

    clock.advance(minutes=1)
    later = api.post(f"/api/queues/{world.a.queue_id}/tickets", json={"kind": "STANDARD"}).get_json()
    assert later["code"] == "A-003"  # numbering goes on: codes stay unique for the day
    called = api.post(f"/api/queues/{world.a.queue_id}/call-next", json={"counter": "3"}).get_json()
    assert called["ticket_id"] == later["ticket_id"]
    assert api.post(f"/api/tickets/{later['ticket_id']}/serve").get_json()["status"] == "SERVED"
    assert api.post(f"/api/tickets/{first}/recall").status_code == 409  # expired is final

    with app.app_context(), tenant_scope(world.a.id):
        token = db.session.get(Ticket, uuid.UUID(paid)).tracking_token
    state = client.get(f"/t/{token}.json").get_json()
    assert state["ticket"]["status"] == "EXPIRED" and state["ticket"]["position"] is None
    assert state["refund"] == {"paid": True, "due": True, "refunded": False}
    page = client.get(f"/t/{token}").get_data(as_text=True)
    assert 'data-when="EXPIRED"' in page and 'data-refund="due"' in page


# --- codes ---------------------------------------------------------------------------------------

def test_vip_codes_name_their_queue_so_codes_are_unique_per_establishment_and_day(app, world):
    codes = []
    with app.app_context(), tenant_scope(world.a.id):
        general, pharmacy = services.get_queue(world.a.queue_id), services.get_queue(world.a.other_queue_id)
        for queue in (general, pharmacy):
            for kind in ("VIP", "STANDARD", "VIP"):
                codes.append(services.issue_ticket(queue, kind).code)
        assert (general.vip_prefix, pharmacy.vip_prefix) == ("VA", "VP")
    assert codes == ["VA-001", "A-002", "VA-002", "VP-001", "P-001", "VP-002"]
    with app.app_context(), tenant_scope(world.a.id):
        # The database holds the rule too, whatever writes the row.
        db.session.add(Ticket(queue_id=uuid.UUID(world.a.other_queue_id), service_day=local_day(
            db.session.execute(sa.select(Establishment)).scalar_one()), number=99, code="A-002", kind="STANDARD",
            status="WAITING", tracking_token=uuid.uuid4().hex, call_count=0))
        with pytest.raises(sa.exc.IntegrityError):
            db.session.commit()
        db.session.rollback()


@pytest.mark.parametrize("prefix", ["V", "VB", "v", "vip"])
def test_a_standard_prefix_starting_with_v_is_a_validation_error(api, world, prefix):
    api.login(world.a.manager_email, PASSWORD)
    created = api.post("/api/queues", json={"name": "Visas", "prefix": prefix})
    assert created.status_code == 400
    assert created.get_json()["error"]["code"] == "validation_error" and "prefix" in created.get_json()["error"]["details"]
    renamed = api.patch(f"/api/queues/{world.a.queue_id}", json={"prefix": prefix})
    assert renamed.status_code == 400 and renamed.get_json()["error"]["code"] == "validation_error"


def test_renaming_a_queue_renames_its_vip_codes(api, world):
    api.login(world.a.manager_email, PASSWORD)
    body = api.patch(f"/api/queues/{world.a.queue_id}", json={"prefix": "C"}).get_json()
    assert body["prefix"] == "C" and body["vip_prefix"] == "VC"
