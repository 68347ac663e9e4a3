"""Payment fixtures: a signed kiosk of establishment A, and owner-level row counts."""
from __future__ import annotations

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
