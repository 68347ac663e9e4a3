"""Helpers for stats tests: payments and VIP tickets at chosen UTC instants."""
from __future__ import annotations

import itertools
import secrets
import uuid
from datetime import datetime, timezone

import pytest
import sqlalchemy as sa

from kiosk.extensions import db
from kiosk.payments.models import Transaction
from kiosk.queues.models import Ticket
from kiosk.tenancy import tenant_scope

from tests import factories
from tests.helpers import ApiClient

_numbers = itertools.count(1)


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=timezone.utc)


def add_payment(tenant_id, when: datetime, amount: int, status: str = "CONFIRMED", currency: str = "XOF") -> str:
    with tenant_scope(tenant_id):
        tid = uuid.uuid4()
        db.session.add(Transaction(transaction_id=tid, device_id="stats-test", amount=amount, currency=currency,
                                   status=status, payload_hash="0" * 64, created_at=when, updated_at=when))
        db.session.commit()
        return str(tid)


def add_vip_ticket(tenant_id, queue_id, when: datetime, kind: str = "VIP", status: str = "SERVED") -> str:
    with tenant_scope(tenant_id):
        number = next(_numbers)
        ticket = Ticket(queue_id=uuid.UUID(str(queue_id)), service_day=when.date(), number=number,
                        code=f"V-{number:03d}", kind=kind, status=status,
                        tracking_token=secrets.token_urlsafe(24), created_at=when, call_count=0)
        db.session.add(ticket)
        db.session.commit()
        return str(ticket.id)


class StatementCounter:
    """Counts SQL statements sent by the app's engine while active."""

    def __init__(self, engine):
        self.engine = engine
        self.statements: list[str] = []

    def _listen(self, conn, cursor, statement, parameters, context, executemany):  # noqa: ANN001
        self.statements.append(statement)

    def __enter__(self) -> "StatementCounter":
        sa.event.listen(self.engine, "before_cursor_execute", self._listen)
        return self

    def __exit__(self, *exc) -> None:
        sa.event.remove(self.engine, "before_cursor_execute", self._listen)

    @property
    def count(self) -> int:
        return len(self.statements)


@pytest.fixture
def count_statements(app):
    # The engine only: holding an app context here would share one session across requests.
    with app.app_context():
        engine = db.engine

    def make() -> StatementCounter:
        return StatementCounter(engine)

    return make


@pytest.fixture
def tenant_in(app):
    """Make one fully equipped establishment in a given time zone."""

    def make(timezone_name: str = "Africa/Abidjan", currency: str = "XOF"):
        with app.app_context():
            return factories.make_tenant(timezone=timezone_name, currency=currency)

    return make


@pytest.fixture
def manager_api(app):
    def make(tenant) -> ApiClient:
        client = ApiClient(app.test_client())
        client.login(tenant.manager_email)
        return client

    return make


@pytest.fixture(autouse=True)
def _forget_cache_outages():
    from kiosk.cache import reset_outage

    reset_outage()
    yield
    reset_outage()
