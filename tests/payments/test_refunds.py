"""Refunds: the contract's codes, who and when, tenant isolation, and revenue net of refunds."""
from __future__ import annotations

import csv
import io
import uuid
from datetime import datetime, timezone

import pytest

from kiosk.extensions import db
from kiosk.payments.models import Transaction
from kiosk.queues import services
from kiosk.tenancy import tenant_scope
from tests.factories import PASSWORD

UTC = timezone.utc
REFUND_KEYS = {"ticket_id", "code", "status", "amount", "currency", "transaction_id", "created_at", "refunded_at"}


def paid_ticket(app, tenant, amount: int = 700, end: str | None = "cancel") -> str:
    """A VIP ticket bought at the kiosk, then ended with ``end`` (None: still waiting)."""
    with app.app_context(), tenant_scope(tenant.id):
        transaction_id = uuid.uuid4()
        db.session.add(Transaction(transaction_id=transaction_id, device_id=tenant.device_id, amount=amount,
                                   currency="XOF", status="CONFIRMED", payload_hash="0" * 64))
        db.session.flush()
        ticket = services.issue_ticket(services.get_queue(tenant.queue_id), "VIP", transaction_id=transaction_id)
        ticket_id = str(ticket.id)
        if end in ("no-show", "serve"):
            services.call_next(services.get_queue(tenant.queue_id), "1")
            services.transition(ticket_id, end)
        elif end == "cancel":
            services.transition(ticket_id, "cancel")
        return ticket_id


@pytest.fixture
def manager(api, world):
    api.login(world.a.manager_email, PASSWORD)
    return api


def test_a_refund_is_recorded_once_with_who_and_when(app, clock, world, manager):
    ticket_id = paid_ticket(app, world.a, end="no-show")
    due = manager.get("/api/refunds?status=due").get_json()
    assert due["status"] == "due" and [r["ticket_id"] for r in due["refunds"]] == [ticket_id]
    row = due["refunds"][0]
    assert REFUND_KEYS <= set(row) and row["amount"] == 700 and row["currency"] == "XOF"
    assert row["status"] == "NO_SHOW" and row["refunded_at"] is None and row["code"] == "VA-001"

    clock.advance(hours=2)
    response = manager.post(f"/api/tickets/{ticket_id}/refund")
    assert response.status_code == 200
    body = response.get_json()
    assert body["refunded_at"] == clock.now.isoformat() and body["refunded_by"] == world.a.manager_email

    again = manager.post(f"/api/tickets/{ticket_id}/refund")
    assert again.status_code == 409 and again.get_json()["error"]["code"] == "already_refunded"
    assert again.get_json()["error"]["details"]["refunded_at"] == body["refunded_at"]
    assert manager.get("/api/refunds?status=due").get_json()["refunds"] == []
    refunded = manager.get("/api/refunds?status=refunded").get_json()["refunds"]
    assert [r["ticket_id"] for r in refunded] == [ticket_id]


@pytest.mark.parametrize("end", ["serve", None])
def test_a_served_or_still_waiting_paid_ticket_is_not_refundable(app, world, manager, end):
    ticket_id = paid_ticket(app, world.a, end=end)
    response = manager.post(f"/api/tickets/{ticket_id}/refund")
    assert response.status_code == 409 and response.get_json()["error"]["code"] == "not_refundable"


def test_an_unpaid_ticket_is_not_refundable(app, world, manager):
    # The factory's free STANDARD ticket, cancelled: nothing was paid.
    ticket_id = world.a.extra["ticket_id"]
    assert manager.post(f"/api/tickets/{ticket_id}/cancel").status_code == 200
    response = manager.post(f"/api/tickets/{ticket_id}/refund")
    assert response.status_code == 409 and response.get_json()["error"]["code"] == "not_refundable"
    assert response.get_json()["error"]["details"]["paid"] is False


def test_refunds_are_tenant_isolated_and_for_managers_only(app, world, api, manager):
    mine = paid_ticket(app, world.a)
    theirs = paid_ticket(app, world.b)
    assert [r["ticket_id"] for r in manager.get("/api/refunds").get_json()["refunds"]] == [mine]
    other = manager.post(f"/api/tickets/{theirs}/refund")
    assert other.status_code == 404 and other.get_json()["error"]["code"] == "not_found"
    assert manager.post("/api/tickets/nonsense/refund").status_code == 404

    agent = type(api)(app.test_client())
    agent.login(world.a.agent_email, PASSWORD)
    assert agent.get("/api/refunds").status_code == 403
    assert agent.post(f"/api/tickets/{mine}/refund").status_code == 403
    b_manager = type(api)(app.test_client())
    b_manager.login(world.b.manager_email, PASSWORD)
    assert [r["ticket_id"] for r in b_manager.get("/api/refunds").get_json()["refunds"]] == [theirs]


@pytest.mark.parametrize("query", ["status=owed", "status=", "limit=0", "limit=abc", "limit=100000"])
def test_bad_list_queries_are_validation_errors(manager, query):
    response = manager.get(f"/api/refunds?{query}")
    assert response.status_code == 400 and response.get_json()["error"]["code"] == "validation_error"


def test_revenue_is_net_of_refunds_on_the_day_refunded_and_the_cache_follows(app, clock, world, manager):
    clock.set(datetime(2026, 4, 2, 10, 0, tzinfo=UTC))
    kept = paid_ticket(app, world.a, amount=500, end="serve")
    owed = paid_ticket(app, world.a, amount=800, end="cancel")
    daily = "/stats/revenue/daily?from=2026-04-02&to=2026-04-03"
    before = manager.get(daily).get_json()  # now cached
    assert before["total"] == 1300 and before["days"][0]["refunded"] == 0
    assert kept

    clock.set(datetime(2026, 4, 3, 9, 0, tzinfo=UTC))
    assert manager.post(f"/api/tickets/{owed}/refund").status_code == 200
    after = manager.get(daily).get_json()
    assert after["days"] == [
        {"date": "2026-04-02", "revenue": 1300, "transactions": 2, "refunded": 0},
        {"date": "2026-04-03", "revenue": -800, "transactions": 0, "refunded": 800},
    ]
    assert after["total"] == 500 and after["refunded"] == 800
    monthly = manager.get("/stats/revenue/monthly?from=2026-04&to=2026-04").get_json()
    assert monthly["months"] == [{"month": "2026-04", "revenue": 500, "transactions": 2, "refunded": 800}]

    export = manager.get("/dashboard/export.csv?from=2026-04-02&to=2026-04-03")
    rows = list(csv.DictReader(io.StringIO(export.get_data(as_text=True).lstrip("\ufeff"))))
    assert [(r["date"], r["revenue_minor"], r["refunded_minor"]) for r in rows] == [
        ("2026-04-02", "1300", "0"), ("2026-04-03", "-800", "800")]
