"""The calling rule and the ETA, against the database: who is next, and when.

The rule itself (kiosk/queues/calling.py) and the ETA model
(kiosk/queues/eta.py) are pure functions; this module reads what they need.
"""
from __future__ import annotations

from datetime import date, datetime, timedelta

import sqlalchemy as sa

from kiosk.base import aware, utcnow
from kiosk.cache import cached
from kiosk.establishments.models import Establishment
from kiosk.establishments.services import current_establishment
from kiosk.extensions import db
from kiosk.queues import eta as eta_model
from kiosk.queues.calling import Fairness, Waiting, streak_from_history
from kiosk.queues.models import Queue, Ticket
from kiosk.queues.numbering import local_day

# Positions and ETAs drift with time even when nothing happens: keep them fresh.
ESTIMATES_TTL_SECONDS = 15
# How many of the next tickets a queue event and a TV snapshot carry.
NEXT_TICKETS = 5


def fairness_of(establishment: Establishment) -> Fairness:
    return Fairness(vip_streak_max=establishment.vip_streak_max,
                    max_standard_wait_min=establishment.max_standard_wait_min)


def waiting_list(queue_id, today: date) -> list[Waiting]:
    # Today's only: a ticket of a past day is never called, even before the day's expiry has run.
    rows = db.session.execute(
        sa.select(Ticket.id, Ticket.kind, Ticket.created_at, Ticket.number, Ticket.code)
        .where(Ticket.queue_id == queue_id, Ticket.status == "WAITING", Ticket.service_day == today)
        .order_by(Ticket.created_at)
    ).all()
    return [Waiting(id=row.id, kind=row.kind, created_at=aware(row.created_at), number=row.number, code=row.code)
            for row in rows]


def current_vip_streak(queue_id, rules: Fairness, now: datetime, today: date | None = None) -> int:
    """The VIP streak, derived from the queue's recent calls (no extra table).

    For each recent VIP call we check whether a STANDARD ticket was waiting
    at that moment: created before it and not yet called (or cancelled).
    """
    today = today or local_day(current_establishment(), now)
    limit = max(1, rules.vip_streak_max + 1)
    calls = db.session.execute(
        sa.select(Ticket.kind, Ticket.called_at)
        .where(Ticket.queue_id == queue_id, Ticket.called_at.is_not(None), Ticket.service_day == today,
               Ticket.called_at > now - timedelta(hours=16))
        .order_by(Ticket.called_at.desc()).limit(limit)
    ).all()
    if not calls:
        return 0
    calls = [(row.kind, aware(row.called_at)) for row in reversed(calls)]
    first, last = calls[0][1], calls[-1][1]
    left_at = sa.func.coalesce(Ticket.called_at, Ticket.finished_at)
    standards = db.session.execute(
        sa.select(Ticket.created_at, left_at.label("left_at"))
        .where(Ticket.queue_id == queue_id, Ticket.kind == "STANDARD", Ticket.created_at < last,
               Ticket.service_day == today, sa.or_(left_at.is_(None), left_at > first))
    ).all()
    intervals = [(aware(row.created_at), aware(row.left_at)) for row in standards]

    def standard_waiting_at(moment: datetime) -> bool:
        return any(start < moment and (end is None or end > moment) for start, end in intervals)

    return streak_from_history((kind, kind == "VIP" and standard_waiting_at(at)) for kind, at in calls)


def eta_inputs(queue: Queue, now: datetime, today: date | None = None) -> eta_model.EtaModel:
    """What the ETA needs from the database: service time, open and busy counters, spread, VIP rate.

    A busy counter is one with a ticket of today still CALLED; how long ago it
    called it tells the model how much of that service is probably left. The
    calibration harness (tests/queues/simulated_day.py) feeds the same
    ``model_from_history`` the same facts.
    """
    return eta_inputs_around_call(queue, now, today)[0]


def eta_inputs_around_call(queue: Queue, now: datetime, today: date | None = None,
                           calling_counter: str | None = None) -> tuple[eta_model.EtaModel, eta_model.EtaModel]:
    """The ETA model now, and as it will be once ``calling_counter`` has called a ticket at ``now``.

    Three statements (the counts in one row of scalar subqueries, the recent
    service times, the busy counters); call-next used to read four, twice.
    After the call, that counter is open (even if it had not called within
    the window) and busy since ``now``; nothing else changes, so call-next
    needs no second read after its own call.
    """
    today = today or local_day(current_establishment(), now)
    in_window = sa.and_(Ticket.queue_id == queue.id, Ticket.called_at >= now - eta_model.OPEN_COUNTER_WINDOW,
                        Ticket.counter.is_not(None))
    columns = [
        sa.select(sa.func.count(sa.distinct(Ticket.counter))).where(in_window).scalar_subquery().label("counters"),
        sa.select(sa.func.count()).select_from(Ticket)
        .where(Ticket.queue_id == queue.id, Ticket.kind == "VIP", Ticket.created_at >= now - timedelta(hours=1))
        .scalar_subquery().label("vip"),
    ]
    if calling_counter is not None:
        columns.append(sa.exists().where(in_window, Ticket.counter == calling_counter).label("seen"))
    counts = db.session.execute(sa.select(*columns)).one()
    durations = [
        (aware(row.served_at) - aware(row.called_at)).total_seconds()
        for row in db.session.execute(
            sa.select(Ticket.called_at, Ticket.served_at)
            .where(Ticket.queue_id == queue.id, Ticket.status == "SERVED", Ticket.served_at.is_not(None),
                   Ticket.called_at.is_not(None))
            .order_by(Ticket.served_at.desc()).limit(eta_model.RECENT_SERVICE_SAMPLES)
        ).all()
    ]
    busy = dict(db.session.execute(
        sa.select(Ticket.counter, sa.func.max(Ticket.called_at))
        .where(Ticket.queue_id == queue.id, Ticket.status == "CALLED", Ticket.service_day == today,
               Ticket.counter.is_not(None), Ticket.called_at.is_not(None))
        .group_by(Ticket.counter)
    ).all())
    counters, vip = counts.counters or 0, counts.vip or 0

    def model(open_counters: int, busy_since: dict) -> eta_model.EtaModel:
        elapsed = [(now - aware(called_at)).total_seconds() for called_at in busy_since.values()]
        return eta_model.model_from_history(queue.mean_service_seconds, open_counters, durations, vip, elapsed)

    before = model(counters, busy)
    if calling_counter is None:
        return before, before
    return before, model(counters + (0 if counts.seen else 1), {**busy, calling_counter: now})


def compute_estimates(queue: Queue, now: datetime | None = None) -> dict:
    """Calling order, positions and ETA ranges of a queue's waiting list (JSON-ready).

    ``next`` is what a TV shows of the queue: the first ``NEXT_TICKETS`` in calling order.
    """
    now = now or utcnow()
    establishment = current_establishment()
    rules = fairness_of(establishment)
    today = local_day(establishment, now)
    waiting = waiting_list(queue.id, today)
    streak = current_vip_streak(queue.id, rules, now, today)
    return estimates_from(queue, now, rules, waiting, streak, eta_inputs(queue, now, today))


def estimates_from(queue: Queue, now: datetime, rules: Fairness, waiting: list[Waiting], streak: int,
                   model: eta_model.EtaModel) -> dict:
    estimates = eta_model.estimate_all(waiting, streak, now, rules, model)
    order = sorted(estimates.items(), key=lambda item: item[1].position)
    by_id = {ticket.id: ticket for ticket in waiting}
    return {
        "computed_at": now.isoformat(),
        "vip_streak": streak,
        "counters_open": model.counters,
        "mean_service_seconds": round(model.mean_service_seconds, 1),
        "order": [str(ticket_id) for ticket_id, _ in order],
        "tickets": {str(ticket_id): {"position": e.position, "min": e.min_minutes, "max": e.max_minutes}
                    for ticket_id, e in order},
        "next": [ticket_brief(by_id[ticket_id], queue.id) for ticket_id, _ in order[:NEXT_TICKETS]],
    }


def ticket_brief(ticket: Ticket | Waiting, queue_id) -> dict:
    """A ticket as a TV shows it, the same in queue events and in snapshots."""
    return {"ticket_id": str(ticket.id), "code": ticket.code, "kind": ticket.kind, "vip": ticket.kind == "VIP",
            "queue_id": str(queue_id)}


def queue_estimates(queue: Queue) -> dict:
    """``compute_estimates``, cached per queue until the next ticket change (or 15 s)."""
    return cached(queue.establishment_id, estimates_cache_name(queue.id), lambda: compute_estimates(queue),
                  ttl=ESTIMATES_TTL_SECONDS)


def estimates_cache_name(queue_id) -> str:
    return f"queue-estimates:{queue_id}"
