"""Payment fixtures: a signed kiosk of establishment A, and owner-level row counts."""
from __future__ import annotations

import time
import uuid

import pytest
import sqlalchemy as sa


@pytest.fixture
def kiosk(world, device_client):
    """Establishment A's kiosk (XOF, VIP price 500), signing like the firmware."""
    return device_client(world.a.device_id, world.a.device_secret)


@pytest.fixture
def other_kiosk(world, device_client):
    """Establishment B's kiosk."""
    return device_client(world.b.device_id, world.b.device_secret)


def new_id() -> str:
    return str(uuid.uuid4())


def pay(kiosk, transaction_id: str | None = None, amount=500, **extra):
    payload = {"transaction_id": transaction_id or new_id(), "amount": amount, **extra}
    return kiosk.post("/iot/payments", payload)


def rows(owner_engine, transaction_id) -> dict:
    """What the database really holds for one payment (as the table owner: no RLS, no ORM filter)."""
    # SQLite stores a UUID as its 32 hex digits.
    transaction_id = uuid.UUID(str(transaction_id))
    transaction_id = transaction_id.hex if owner_engine.dialect.name == "sqlite" else str(transaction_id)
    with owner_engine.connect() as conn:
        found = conn.execute(sa.text(
            "SELECT status, failure_reason, ticket_id, attempts, device_id FROM transactions "
            "WHERE transaction_id = :id"), {"id": str(transaction_id)}).mappings().all()
        tickets = conn.execute(sa.text(
            "SELECT id, kind, status, code FROM tickets WHERE transaction_id = :id"),
            {"id": str(transaction_id)}).mappings().all()
    return {"transactions": [dict(r) for r in found], "tickets": [dict(t) for t in tickets]}


def set_status_fields(owner_engine, sql: str, **params) -> None:
    with owner_engine.begin() as conn:
        conn.execute(sa.text(sql), params)


class NumberingHeld:
    """A lock, held from outside the app, that every new ticket's numbering waits on.

    A payment being processed claims its row, validates, then stops at the
    ticket number, inside its open transaction, until ``release()``: the fault
    tests' "worker busy mid-payment", with no hook in the app's code.
    """

    def __init__(self, owner_engine) -> None:
        self.engine = owner_engine
        self.connection = owner_engine.connect()
        self.transaction = self.connection.begin()
        # EXCLUSIVE lets readers through but not the numbering's INSERT ... ON CONFLICT.
        self.connection.execute(sa.text("LOCK TABLE ticket_sequences IN EXCLUSIVE MODE"))

    def wait_for_a_waiter(self, timeout: float = 20) -> int:
        """The Postgres pid of a transaction stopped on the lock (a payment mid-way)."""
        deadline = time.monotonic() + timeout
        with self.engine.connect() as conn:
            while time.monotonic() < deadline:
                pid = conn.execute(sa.text(
                    "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                    "AND wait_event_type = 'Lock' AND query ILIKE '%ticket_sequences%' LIMIT 1")).scalar()
                if pid:
                    return pid
                conn.rollback()
                time.sleep(0.05)
        raise AssertionError("no payment reached the ticket numbering")

    def release(self) -> None:
        if self.connection is not None:
            self.transaction.rollback()
            self.connection.close()
            self.connection = None


@pytest.fixture
def numbering_held(owner_engine):
    held = []

    def hold() -> NumberingHeld:
        held.append(NumberingHeld(owner_engine))
        return held[-1]

    yield hold
    for lock in held:
        lock.release()
