"""Races with real threads on both backends (real Postgres, and the embedded
SQLite file): issuing and counters calling at once."""
from __future__ import annotations

import time
import uuid

import pytest
import sqlalchemy as sa

from kiosk.extensions import db
from kiosk.queues import services
from kiosk.queues.models import Ticket
from kiosk.tenancy import tenant_scope
from tests.backends import app, owner_engine  # noqa: F401 - every test runs on both backends
from tests.helpers import run_threads

pytestmark = pytest.mark.slow


def test_concurrent_issuing_never_repeats_a_number(app, world):
    per_thread, threads = 6, 8

    def work(_index):
        queue = services.get_queue(world.a.queue_id)
        return [services.issue_ticket(queue, "STANDARD" if n % 3 else "VIP").code for n in range(per_thread)]

    codes = [code for batch in run_threads(app, threads, work, tenant_id=world.a.id) for code in batch]
    assert len(codes) == len(set(codes)) == per_thread * threads
    with app.app_context(), tenant_scope(world.a.id):
        rows = db.session.execute(sa.select(Ticket.kind, Ticket.number).where(
            Ticket.queue_id == uuid.UUID(world.a.queue_id))).all()
    standard = sorted(n for kind, n in rows if kind == "STANDARD")
    vip = sorted(n for kind, n in rows if kind == "VIP")
    # Gapless too: 1..N for each kind (the factory issued A-001 first).
    assert standard == list(range(1, len(standard) + 1))
    assert vip == list(range(1, len(vip) + 1))


def test_two_counters_pressing_at_once_get_two_different_tickets(app, backend, world, monkeypatch):
    with app.app_context(), tenant_scope(world.a.id):
        queue = services.get_queue(world.a.queue_id)
        services.issue_ticket(queue)
    # Hold the first claimed row a while before committing, so the second
    # counter certainly meets the lock: SKIP LOCKED must move it on at once.
    original = services._lock_candidate
    held = 0.4

    def slow_lock(ticket_id):
        ticket = original(ticket_id)
        if ticket is not None:
            time.sleep(held)
        return ticket

    monkeypatch.setattr(services, "_lock_candidate", slow_lock)

    def work(index):
        started = time.monotonic()
        ticket = services.call_next(services.get_queue(world.a.queue_id), str(index + 1))
        return ticket.code, time.monotonic() - started

    results = run_threads(app, 2, work, tenant_id=world.a.id)
    codes = sorted(code for code, _ in results)
    assert codes == ["A-001", "A-002"]
    if not backend.sqlite:
        # Neither waited for the other's commit (that would take 2 x held).
        # SQLite has one write lock: the second counter waits for the first
        # one's commit, then reads the queue without A-001 (same outcome).
        assert max(elapsed for _, elapsed in results) < 2 * held
    with app.app_context(), tenant_scope(world.a.id):
        statuses = db.session.scalars(sa.select(Ticket.status).where(Ticket.queue_id == uuid.UUID(world.a.queue_id))).all()
    assert sorted(statuses) == ["CALLED", "CALLED"]


def test_many_counters_racing_call_each_ticket_once(app, world):
    with app.app_context(), tenant_scope(world.a.id):
        queue = services.get_queue(world.a.queue_id)
        for n in range(5):
            services.issue_ticket(queue, "VIP" if n % 2 else "STANDARD")

    def work(index):
        called = []
        while True:
            ticket = services.call_next(services.get_queue(world.a.queue_id), f"c{index}")
            if ticket is None:
                return called
            called.append(ticket.code)

    batches = run_threads(app, 4, work, tenant_id=world.a.id)
    codes = [code for batch in batches for code in batch]
    assert len(codes) == len(set(codes)) == 6


def test_eight_counters_calling_a_queue_of_24_hand_out_each_ticket_once(app, world):
    """The outside report: 8 counters x 3 presses at the same instant on 24 tickets."""
    with app.app_context(), tenant_scope(world.a.id):
        queue = services.get_queue(world.a.queue_id)
        for n in range(23):  # the factory issued one already
            services.issue_ticket(queue, "VIP" if n % 4 == 0 else "STANDARD")

    def work(index):
        codes = []
        for _ in range(3):
            ticket = services.call_next(services.get_queue(world.a.queue_id), f"c{index}")
            codes.append(ticket.code if ticket else None)
            db.session.remove()
        return codes

    codes = [code for batch in run_threads(app, 8, work, tenant_id=world.a.id) for code in batch]
    assert None not in codes
    assert len(codes) == len(set(codes)) == 24
    with app.app_context(), tenant_scope(world.a.id):
        counters = db.session.execute(sa.select(Ticket.code, Ticket.counter, Ticket.status).where(
            Ticket.queue_id == uuid.UUID(world.a.queue_id))).all()
    assert {status for _, _, status in counters} == {"CALLED"}
    assert len({code for code, _, _ in counters}) == 24


def test_serve_and_no_show_pressed_together_apply_once(app, world):
    with app.app_context(), tenant_scope(world.a.id):
        ticket_id = services.call_next(services.get_queue(world.a.queue_id), "1").id

    def work(index):
        try:
            return services.transition(ticket_id, "serve" if index == 0 else "no-show").status
        except services.ApiError as exc:
            db.session.rollback()
            return exc.code

    outcomes = sorted(run_threads(app, 2, work, tenant_id=world.a.id))
    assert outcomes in (["SERVED", "invalid_transition"], ["NO_SHOW", "invalid_transition"])
