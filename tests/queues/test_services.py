"""Queue services against the database: numbering, streak history, learning."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from kiosk.extensions import db
from kiosk.queues import services
from kiosk.queues import estimates, numbering, presentation
from kiosk import base
from kiosk.queues.calling import Fairness
from kiosk.queues.models import Queue, Ticket
from kiosk.tenancy import tenant_scope

RULES = Fairness(vip_streak_max=3, max_standard_wait_min=45)


@pytest.fixture
def scope(app, world):
    with app.app_context(), tenant_scope(world.a.id):
        yield world.a


def queue_of(tenant) -> Queue:
    return services.get_queue(tenant.queue_id)


def test_numbers_restart_each_local_day(scope, monkeypatch):
    queue = queue_of(scope)
    assert services.issue_ticket(queue).code == "A-002"
    assert services.issue_ticket(queue, "VIP").code == "VA-001"
    monkeypatch.setattr(services, "local_day", lambda establishment, moment=None: date(2099, 1, 2))
    tomorrow = services.issue_ticket(queue)
    assert (tomorrow.code, tomorrow.service_day) == ("A-001", date(2099, 1, 2))
    assert services.issue_ticket(queue, "VIP").code == "VA-001"


def test_local_day_follows_the_establishment_time_zone(scope):
    from kiosk.establishments.models import Establishment

    late = datetime(2026, 3, 1, 23, 30, tzinfo=timezone.utc)
    assert numbering.local_day(Establishment(timezone="Africa/Abidjan"), late) == date(2026, 3, 1)
    assert numbering.local_day(Establishment(timezone="Asia/Tokyo"), late) == date(2026, 3, 2)
    assert numbering.local_day(Establishment(timezone="America/New_York"), late) == date(2026, 3, 1)


def _ticket(queue, kind, created, called=None, status=None, counter="1") -> Ticket:
    ticket = services.issue_ticket(queue, kind, commit=False)
    ticket.created_at = created
    if called is not None:
        ticket.status, ticket.called_at, ticket.counter = status or "SERVED", called, counter
    db.session.commit()
    return ticket


def test_streak_counts_vip_calls_while_a_standard_waited(scope):
    queue = queue_of(scope)
    now = base.utcnow()
    db.session.execute(sa.delete(Ticket))
    standard = _ticket(queue, "STANDARD", now - timedelta(minutes=30))
    for minutes in (20, 15, 10):
        _ticket(queue, "VIP", now - timedelta(minutes=minutes + 1), called=now - timedelta(minutes=minutes))
    assert estimates.current_vip_streak(queue.id, RULES, now) == 3
    # The rule now calls the waiting STANDARD before the VIP.
    vip = _ticket(queue, "VIP", now - timedelta(minutes=1))
    called = services.call_next(queue, "1", now=now)
    assert called.id == standard.id
    assert estimates.current_vip_streak(queue.id, RULES, now) == 0
    assert services.call_next(queue, "1", now=now + timedelta(seconds=1)).id == vip.id


def test_vip_calls_with_no_standard_waiting_do_not_count(scope):
    queue = queue_of(scope)
    now = base.utcnow()
    db.session.execute(sa.delete(Ticket))
    for minutes in (20, 15, 10):
        _ticket(queue, "VIP", now - timedelta(minutes=minutes + 1), called=now - timedelta(minutes=minutes))
    # This STANDARD arrived after those calls: nobody was passed over.
    _ticket(queue, "STANDARD", now - timedelta(minutes=5))
    assert estimates.current_vip_streak(queue.id, RULES, now) == 0
    vip = _ticket(queue, "VIP", now - timedelta(minutes=1))
    assert services.call_next(queue, "1", now=now).id == vip.id


def test_a_cancelled_standard_stops_counting_when_it_left(scope):
    queue = queue_of(scope)
    now = base.utcnow()
    db.session.execute(sa.delete(Ticket))
    gone = _ticket(queue, "STANDARD", now - timedelta(minutes=40))
    gone.status, gone.finished_at = "CANCELLED", now - timedelta(minutes=25)
    db.session.commit()
    _ticket(queue, "VIP", now - timedelta(minutes=31), called=now - timedelta(minutes=30))  # counted
    _ticket(queue, "VIP", now - timedelta(minutes=21), called=now - timedelta(minutes=20))  # nobody waited
    assert estimates.current_vip_streak(queue.id, RULES, now) == 0


def test_serving_learns_the_mean_service_time(scope):
    queue = queue_of(scope)
    assert queue.mean_service_seconds == 300.0
    start = base.utcnow()
    first = services.call_next(queue, "1", now=start)
    services.transition(first.id, "serve", now=start + timedelta(seconds=120))
    queue = queue_of(scope)
    # The first real duration weighs as much as the default (alpha 1/2).
    assert queue.mean_service_seconds == pytest.approx(210.0)
    assert queue.served_count == 1
    # No-shows and cancellations teach nothing.
    services.issue_ticket(queue)
    second = services.call_next(queue, "1", now=start)
    services.transition(second.id, "no-show", now=start + timedelta(seconds=30))
    assert queue_of(scope).mean_service_seconds == pytest.approx(210.0)


def test_absurd_durations_are_not_learned(scope):
    queue = queue_of(scope)
    start = base.utcnow() - timedelta(hours=5)
    called = services.call_next(queue, "1", now=start)
    services.transition(called.id, "serve", now=start + timedelta(hours=4))
    assert queue_of(scope).mean_service_seconds == 300.0


def test_open_counters_are_those_that_called_recently(scope):
    queue = queue_of(scope)
    now = base.utcnow()
    for counter, minutes in (("1", 5), ("2", 20), ("3", 90)):
        _ticket(queue, "STANDARD", now - timedelta(minutes=minutes + 1), called=now - timedelta(minutes=minutes),
                counter=counter)
    assert estimates.eta_inputs(queue, now).counters == 2


def test_more_open_counters_shorten_the_estimate(scope):
    queue = queue_of(scope)
    for _ in range(6):
        services.issue_ticket(queue)
    last = services.issue_ticket(queue)
    one = presentation.describe_ticket(last)["eta_minutes"]
    now = base.utcnow()
    for counter in ("1", "2", "3"):
        _ticket(queue, "STANDARD", now - timedelta(minutes=3), called=now - timedelta(minutes=2), counter=counter)
    three = estimates.compute_estimates(queue)["tickets"][str(last.id)]
    assert three["max"] < one["max"]


def test_issue_without_commit_publishes_only_after_the_callers_commit(scope, redis_url):
    import json

    import redis as redis_lib

    pubsub = redis_lib.Redis.from_url(redis_url).pubsub()
    pubsub.subscribe(f"est:{scope.id}:events")
    pubsub.get_message(timeout=2)
    services.issue_ticket(queue_of(scope), "VIP", commit=False)
    assert pubsub.get_message(timeout=0.3) is None
    db.session.commit()
    message = pubsub.get_message(timeout=2)
    assert json.loads(message["data"])["type"] == "ticket"
    services.issue_ticket(queue_of(scope), commit=False)
    db.session.rollback()
    pubsub.get_message(timeout=0.3)  # the second event of the committed ticket
    assert pubsub.get_message(timeout=0.3) is None
    pubsub.close()


def test_ticket_by_token_crosses_tenants_but_not_for_unknown_tokens(app, world):
    from kiosk.errors import NotFound

    with app.app_context(), tenant_scope(world.b.id):
        token = db.session.get(Ticket, world.b.extra["ticket_id"]).tracking_token
    with app.app_context():
        assert str(services.ticket_by_token(token).id) == world.b.extra["ticket_id"]
        for bad in ("x" * 32, "short", "../../etc/passwd", ""):
            with pytest.raises(NotFound):
                services.ticket_by_token(bad)


@pytest.mark.parametrize("streak_max", [0, 1, 3])
def test_call_next_publishes_the_same_estimates_as_a_fresh_read(scope, monkeypatch, streak_max):
    """call-next derives the event's estimates from what it read to pick the ticket;
    they must equal what reading the queue again after the commit gives."""
    from kiosk.establishments.models import Establishment

    establishment = db.session.execute(sa.select(Establishment)).scalar_one()
    establishment.vip_streak_max = streak_max
    queue = queue_of(scope)
    now = datetime.now(timezone.utc)
    db.session.query(Ticket).delete()
    specs = [("STANDARD", 50), ("VIP", 30), ("STANDARD", 20), ("VIP", 12), ("VIP", 8), ("STANDARD", 5), ("VIP", 1)]
    for kind, minutes in specs:
        _ticket(queue, kind, now - timedelta(minutes=minutes))
    _ticket(queue, "VIP", now - timedelta(minutes=90), called=now - timedelta(minutes=60), status="SERVED",
            counter="7")
    published = []
    monkeypatch.setattr(services, "emit", lambda event: published.append((event.broadcast(), event.warm)))

    for minute, counter in enumerate(("1", "2", "1", "3", "2", "4")):
        now += timedelta(minutes=minute)  # calls a few minutes apart, as at a real counter
        called = services.call_next(queue, counter, now=now)
        events = {payload["type"]: (payload, warm) for payload, warm in published}
        published.clear()
        payload, warm = events["queue"]
        (sent, _ttl), = warm.values()
        fresh = estimates.compute_estimates(queue, now)
        assert sent == fresh
        assert payload["next"] == fresh["next"] and payload["waiting"] == len(fresh["order"])
        assert str(called.id) not in fresh["tickets"]
        assert events["called"][0]["ticket"]["code"] == called.code


def _statements_during(action) -> list[str]:
    """The SQL statements ``action`` sends (RLS settings ride on them; begin/commit are not statements)."""
    seen: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany):  # noqa: ANN001
        seen.append(statement)

    sa.event.listen(db.engine, "before_cursor_execute", record)
    try:
        action()
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", record)
    return seen


def test_call_next_reads_the_queue_once(scope):
    """call-next is the most frequent staff write: its statements are counted, not left to grow.

    The waiting list, the VIP streak (2), the ETA model (3: counts in one row,
    service times, busy counters; it was 4, read twice), the candidate's lock
    and its update: 8, with the establishment and queue already in the
    session (as in the route).
    """
    from kiosk.establishments.services import current_establishment

    queue = queue_of(scope)
    for _ in range(5):
        services.issue_ticket(queue)
    queue = queue_of(scope)
    current_establishment()
    statements = _statements_during(lambda: services.call_next(queue, "9"))
    assert len(statements) <= 8, statements


def test_call_next_event_counts_a_counter_that_opens_with_this_call(scope, monkeypatch):
    """A counter's first call opens it: the estimates the event carries count it, as a fresh read does."""
    queue = queue_of(scope)
    for _ in range(4):
        services.issue_ticket(queue)
    published = []
    monkeypatch.setattr(services, "emit", lambda event: published.append(event))
    now = base.utcnow()
    services.call_next(queue, "new-counter", now=now)
    warm = next(event.warm for event in published if event.warm)
    (sent, _ttl), = warm.values()
    fresh = estimates.compute_estimates(queue, now)
    assert sent["counters_open"] == fresh["counters_open"] >= 1
    assert sent == fresh
