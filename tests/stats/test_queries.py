"""The stats queries are single index range scans on the partial covering indexes (migration 0005)."""
from __future__ import annotations

from datetime import date, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from kiosk.extensions import db
from kiosk.payments.models import Transaction
from kiosk.queues.models import Ticket
from kiosk.stats import services
from kiosk.tenancy import tenant_scope


def _plan(statement) -> str:
    # Tables are tiny in tests: forbid the alternatives to show the index *can* serve the query.
    db.session.execute(sa.text("SET LOCAL enable_seqscan = off"))
    db.session.execute(sa.text("SET LOCAL enable_bitmapscan = off"))
    compiled = statement.compile(dialect=db.engine.dialect, compile_kwargs={"literal_binds": True})
    plan = "\n".join(r[0] for r in db.session.execute(sa.text(f"EXPLAIN {compiled}")))
    db.session.rollback()
    return plan


def _bounds(tz: str):
    zone = ZoneInfo(tz)
    return (services._utc_midnight(date(2026, 1, 1), zone),
            services._utc_midnight(date(2026, 12, 31) + timedelta(days=1), zone))


def test_revenue_query_is_an_index_only_range_scan_on_confirmed_payments(app, tenant_in):
    t = tenant_in("Europe/Paris", "EUR")
    with app.app_context(), tenant_scope(t.id):
        start, end = _bounds("Europe/Paris")
        statement = services._grouped_statement(
            Transaction, [sa.func.sum(Transaction.amount), sa.func.count()], [Transaction.status == "CONFIRMED"],
            "Europe/Paris", start, end, "day")
        plan = _plan(statement)
    assert "Index Only Scan using ix_transactions_confirmed_stats" in plan, plan
    assert "created_at >=" in plan and "created_at <" in plan  # the UTC bounds are index conditions


def test_vip_count_query_is_an_index_only_range_scan_on_vip_tickets(app, tenant_in):
    t = tenant_in("Pacific/Honolulu")
    with app.app_context(), tenant_scope(t.id):
        start, end = _bounds("Pacific/Honolulu")
        statement = services._grouped_statement(Ticket, [sa.func.count()], [Ticket.kind == "VIP"],
                                                "Pacific/Honolulu", start, end, "day")
        plan = _plan(statement)
    assert "Index Only Scan using ix_tickets_vip_stats" in plan, plan
