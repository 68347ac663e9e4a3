"""Queues and tickets: every rule about them lives here.

Ticket life: WAITING -call-next-> CALLED -serve-> SERVED
                                        -no-show-> NO_SHOW
             WAITING or CALLED -cancel-> CANCELLED;  CALLED -recall-> CALLED
WAITING or CALLED -end of the service day (closing.py)-> EXPIRED
Anything else is a 409 ``invalid_transition``. Every change publishes the
events documented in kiosk/events.py once the transaction commits.
"""
from __future__ import annotations

import logging
import re
import secrets
import uuid
from datetime import date, datetime, timedelta, timezone

import sqlalchemy as sa
from flask import current_app, has_request_context, request
from flask_babel import lazy_gettext as _l

from kiosk.auth.models import Establishment, utcnow
from kiosk.errors import ApiError, NotFound
from kiosk.events import ticket_changed
from kiosk.extensions import db
from kiosk.queues import eta as eta_model
from kiosk.queues import service_day as calendar
from kiosk.queues import theme as theme_rules
from kiosk.queues.calling import Fairness, Waiting, calling_order, next_streak, streak_from_history
from kiosk.queues.models import Queue, Ticket, TicketSequence
from kiosk.stats.cache import cached
from kiosk.tenancy import get_or_404, require_establishment_id, system_scope

log = logging.getLogger(__name__)

# Positions and ETAs drift with time even when nothing happens: keep them fresh.
ESTIMATES_TTL_SECONDS = 15
# How many of the next tickets a queue event and a TV snapshot carry.
NEXT_TICKETS = 5
TOKEN_SHAPE = re.compile(r"^[A-Za-z0-9_-]{16,64}$")


def aware(moment: datetime | None) -> datetime | None:
    # SQLite hands back naive datetimes; everything is stored in UTC.
    if moment is not None and moment.tzinfo is None:
        return moment.replace(tzinfo=timezone.utc)
    return moment


def _iso(moment: datetime | None) -> str | None:
    moment = aware(moment)
    return moment.isoformat() if moment else None


# --- queues -----------------------------------------------------------------------

def _check_prefix_free(prefix: str, queue_id=None) -> None:
    """Two queues with one prefix would both call "A-001": refuse it.

    :raise ApiError 409 prefix_taken:
    """
    clash = db.session.scalar(sa.select(Queue.id).where(Queue.prefix == prefix.upper(), Queue.id != queue_id)
                              if queue_id else sa.select(Queue.id).where(Queue.prefix == prefix.upper()))
    if clash is not None:
        raise ApiError(409, "prefix_taken", _l("Another queue already uses this prefix."), {"prefix": prefix.upper()})


def vip_prefix_for(prefix: str) -> str:
    """VIP codes name their queue (``VA-007`` for queue ``A``): unique across queues, since prefixes are."""
    return "V" + prefix.upper()


def create_queue(name: str, prefix: str) -> Queue:
    _check_prefix_free(prefix)
    queue = Queue(name=name, prefix=prefix.upper(), vip_prefix=vip_prefix_for(prefix), active=True)
    db.session.add(queue)
    db.session.commit()
    return queue


def list_queues() -> list[Queue]:
    return list(db.session.scalars(sa.select(Queue).order_by(Queue.created_at)))


def get_queue(queue_id) -> Queue:
    """:raise NotFound: unknown id, or another establishment's queue."""
    return get_or_404(Queue, queue_id)


def update_queue(queue_id, changes: dict) -> Queue:
    queue = get_queue(queue_id)
    if "name" in changes:
        queue.name = changes["name"]
    if "prefix" in changes:
        _check_prefix_free(changes["prefix"], queue.id)
        queue.prefix = changes["prefix"].upper()
        queue.vip_prefix = vip_prefix_for(queue.prefix)
    if "active" in changes:
        queue.active = changes["active"]
    _publish_queue(queue)
    db.session.commit()
    return queue


def current_establishment() -> Establishment:
    establishment_id = require_establishment_id()
    return db.session.execute(sa.select(Establishment).where(Establishment.id == establishment_id)).scalar_one()


def fairness_of(establishment: Establishment) -> Fairness:
    return Fairness(vip_streak_max=establishment.vip_streak_max,
                    max_standard_wait_min=establishment.max_standard_wait_min)


def calling_settings() -> dict:
    establishment = current_establishment()
    return {"vip_streak_max": establishment.vip_streak_max,
            "max_standard_wait_min": establishment.max_standard_wait_min}


def update_calling_settings(changes: dict) -> dict:
    establishment = current_establishment()
    for name in ("vip_streak_max", "max_standard_wait_min"):
        if name in changes:
            setattr(establishment, name, changes[name])
    # The calling order and every ETA depend on these: drop cached estimates.
    ticket_changed(establishment.id, {"type": "settings", "calling": {
        "vip_streak_max": establishment.vip_streak_max,
        "max_standard_wait_min": establishment.max_standard_wait_min}})
    db.session.commit()
    return calling_settings()


# --- numbering and issuing ----------------------------------------------------------

def local_day(establishment: Establishment, moment: datetime | None = None) -> date:
    """The establishment's service day at ``moment`` (now by default)."""
    return calendar.local_day(establishment.timezone, moment or utcnow())


def next_number(queue_id: uuid.UUID, service_day: date, kind: str) -> int:
    """Take the next number for (queue, local day, kind) in one atomic upsert.

    Runs inside the caller's transaction: a rolled-back ticket gives its
    number back, and concurrent callers serialise on the one sequence row.
    """
    table = TicketSequence.__table__
    dialect = db.session.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    values = {"establishment_id": require_establishment_id(), "queue_id": queue_id,
              "service_day": service_day, "kind": kind, "last_number": 1}
    statement = insert(table).values(**values)
    statement = statement.on_conflict_do_update(
        index_elements=[table.c.queue_id, table.c.service_day, table.c.kind],
        set_={"last_number": table.c.last_number + 1},
    ).returning(table.c.last_number)
    return db.session.execute(statement).scalar_one()


def format_code(queue: Queue, kind: str, number: int) -> str:
    prefix = queue.vip_prefix if kind == "VIP" else queue.prefix
    return f"{prefix}-{number:03d}"


def new_tracking_token() -> str:
    return secrets.token_urlsafe(24)


def issue_ticket(queue: Queue, kind: str = "STANDARD", *, transaction_id=None, request_id=None,
                 device_id: str | None = None, commit: bool = True) -> Ticket:
    """Create a WAITING ticket with the next number of the local day.

    Publishes the ``ticket`` and ``queue`` events after the commit (the
    caller's, with ``commit=False``).

    :raise ApiError 409 queue_closed: the queue is not active.
    """
    if not queue.active:
        raise ApiError(409, "queue_closed", _l("This queue is closed."))
    establishment = db.session.execute(
        sa.select(Establishment).where(Establishment.id == queue.establishment_id)
    ).scalar_one()
    day = local_day(establishment)
    number = next_number(queue.id, day, kind)
    ticket = Ticket(queue_id=queue.id, service_day=day, number=number, kind=kind, status="WAITING",
                    code=format_code(queue, kind, number), tracking_token=new_tracking_token(),
                    transaction_id=transaction_id, request_id=request_id, device_id=device_id,
                    created_at=utcnow(), call_count=0)
    db.session.add(ticket)
    db.session.flush()
    _publish_ticket(ticket, waiting_changed=True)
    if commit:
        db.session.commit()
    return ticket


# --- the calling rule, against the database ---------------------------------------------

def _waiting(queue_id, today: date) -> list[Waiting]:
    # Today's only: a ticket of a past day is never called, even before the beat has expired it.
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
    called it tells the model how much of that service is probably left.
    """
    today = today or local_day(current_establishment(), now)
    counters = db.session.scalar(
        sa.select(sa.func.count(sa.distinct(Ticket.counter)))
        .where(Ticket.queue_id == queue.id, Ticket.called_at >= now - eta_model.OPEN_COUNTER_WINDOW,
               Ticket.counter.is_not(None))
    ) or 0
    durations = [
        (aware(row.served_at) - aware(row.called_at)).total_seconds()
        for row in db.session.execute(
            sa.select(Ticket.called_at, Ticket.served_at)
            .where(Ticket.queue_id == queue.id, Ticket.status == "SERVED", Ticket.served_at.is_not(None),
                   Ticket.called_at.is_not(None))
            .order_by(Ticket.served_at.desc()).limit(eta_model.RECENT_SERVICE_SAMPLES)
        ).all()
    ]
    busy = db.session.execute(
        sa.select(Ticket.counter, sa.func.max(Ticket.called_at))
        .where(Ticket.queue_id == queue.id, Ticket.status == "CALLED", Ticket.service_day == today,
               Ticket.counter.is_not(None), Ticket.called_at.is_not(None))
        .group_by(Ticket.counter)
    ).all()
    busy_elapsed = [(now - aware(called_at)).total_seconds() for _counter, called_at in busy]
    vip_last_hour = db.session.scalar(
        sa.select(sa.func.count()).select_from(Ticket)
        .where(Ticket.queue_id == queue.id, Ticket.kind == "VIP", Ticket.created_at >= now - timedelta(hours=1))
    ) or 0
    return eta_model.model_from_history(queue.mean_service_seconds, counters, durations, vip_last_hour,
                                        busy_elapsed)


def compute_estimates(queue: Queue, now: datetime | None = None) -> dict:
    """Calling order, positions and ETA ranges of a queue's waiting list (JSON-ready).

    ``next`` is what a TV shows of the queue: the first ``NEXT_TICKETS`` in calling order.
    """
    now = now or utcnow()
    establishment = current_establishment()
    rules = fairness_of(establishment)
    today = local_day(establishment, now)
    waiting = _waiting(queue.id, today)
    streak = current_vip_streak(queue.id, rules, now, today)
    return _estimates_from(queue, now, rules, waiting, streak, eta_inputs(queue, now, today))


def _estimates_from(queue: Queue, now: datetime, rules: Fairness, waiting: list[Waiting], streak: int,
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
    return cached(queue.establishment_id, f"queue-estimates:{queue.id}", lambda: compute_estimates(queue),
                  ttl=ESTIMATES_TTL_SECONDS)


# --- describing tickets -------------------------------------------------------------------

def tracking_url(token: str) -> str:
    """The public ticket page: PUBLIC_BASE_URL, else this request's host."""
    base = current_app.config.get("PUBLIC_BASE_URL") or ""
    if not base and has_request_context():
        base = request.host_url
    return f"{base.rstrip('/')}/t/{token}"


def _position_and_eta(ticket: Ticket, estimates: dict | None) -> tuple[int | None, dict | None]:
    if ticket.status == "CALLED":
        return 0, {"min": 0, "max": 0}
    if ticket.status != "WAITING":
        return None, None
    entry = (estimates or {}).get("tickets", {}).get(str(ticket.id))
    if entry is None:
        # Not in the cached list yet (e.g. described before the issuing commit): compute afresh.
        queue = db.session.execute(sa.select(Queue).where(Queue.id == ticket.queue_id)).scalar_one()
        entry = compute_estimates(queue)["tickets"].get(str(ticket.id))
    if entry is None:
        return None, None
    return entry["position"], {"min": entry["min"], "max": entry["max"]}


def describe_ticket(ticket: Ticket, estimates: dict | None = None) -> dict:
    """A ticket as every API shows it (staff routes, payment status, tracking JSON).

    ``position`` is 1 for the ticket called next, 0 once called, null when
    finished; ``eta_minutes`` is ``{"min", "max"}`` while waiting, zeros once
    called, null when finished. Call it inside the ticket's tenant scope.
    """
    if estimates is None and ticket.status == "WAITING":
        queue = db.session.execute(sa.select(Queue).where(Queue.id == ticket.queue_id)).scalar_one()
        estimates = queue_estimates(queue)
    position, eta = _position_and_eta(ticket, estimates)
    return {
        "ticket_id": str(ticket.id),
        "code": ticket.code,
        "kind": ticket.kind,
        "status": ticket.status,
        "queue_id": str(ticket.queue_id),
        "position": position,
        "counter": ticket.counter,
        "tracking_url": tracking_url(ticket.tracking_token),
        "created_at": _iso(ticket.created_at),
        "called_at": _iso(ticket.called_at),
        "served_at": _iso(ticket.served_at),
        "eta_minutes": eta,
    }


def describe_queue(queue: Queue, with_waiting: bool = False) -> dict:
    body = {"id": str(queue.id), "name": queue.name, "prefix": queue.prefix, "vip_prefix": queue.vip_prefix,
            "active": queue.active, "mean_service_seconds": round(queue.mean_service_seconds or 0, 1),
            "created_at": _iso(queue.created_at)}
    if with_waiting:
        body.update(queue_detail(queue))
    return body


def queue_detail(queue: Queue) -> dict:
    """The waiting list in calling order, plus who is at a counter (cached per queue)."""

    def compute() -> dict:
        estimates = compute_estimates(queue)
        tickets = {str(t.id): t for t in db.session.scalars(
            sa.select(Ticket).where(Ticket.queue_id == queue.id, Ticket.status == "WAITING"))}
        waiting = [describe_ticket(tickets[tid], estimates) for tid in estimates["order"] if tid in tickets]
        today = local_day(current_establishment())
        called = db.session.scalars(
            sa.select(Ticket).where(Ticket.queue_id == queue.id, Ticket.status == "CALLED",
                                    Ticket.service_day == today)
            .order_by(Ticket.called_at.desc())
        ).all()
        return {"waiting": waiting, "waiting_count": len(waiting),
                "called": [describe_ticket(t, estimates) for t in called],
                "vip_streak": estimates["vip_streak"], "counters_open": estimates["counters_open"]}

    return cached(queue.establishment_id, f"queue-detail:{queue.id}", compute, ttl=ESTIMATES_TTL_SECONDS)


# --- events -------------------------------------------------------------------------------

def _publish_ticket(ticket: Ticket, *, waiting_changed: bool = False, called: bool = False) -> None:
    establishment_id = ticket.establishment_id or require_establishment_id()
    ticket_changed(establishment_id, {
        "type": "ticket", "ticket_id": str(ticket.id), "queue_id": str(ticket.queue_id), "code": ticket.code,
        "kind": ticket.kind, "status": ticket.status, "counter": ticket.counter,
    })
    if called:
        ticket_changed(establishment_id, {"type": "called", "ticket": {
            "ticket_id": str(ticket.id), "code": ticket.code, "kind": ticket.kind, "counter": ticket.counter,
            "queue_id": str(ticket.queue_id)}})
    if waiting_changed:
        _publish_waiting_list(get_queue(ticket.queue_id))


def publish_waiting_list(queue: Queue) -> None:
    """The ``queue`` event for a waiting list changed by someone else (the end of the day)."""
    _publish_waiting_list(queue)


def _publish_queue(queue: Queue) -> None:
    _publish_waiting_list(queue, {"active": queue.active, "name": queue.name})


def _publish_waiting_list(queue: Queue, extra: dict | None = None, *, estimates: dict | None = None) -> None:
    """The ``queue`` event, with the waiting count and the next tickets as this transaction leaves them.

    TVs take the next tickets from the event itself, so no web process has to
    rebuild a snapshot per change (that was 40 % of a web worker's CPU under
    load). The estimates computed for it are cached once the commit has
    invalidated the old ones: the status polls that follow read them.
    A change another request commits between this computation and this
    commit is missing from both until the next change of the queue, the
    15 s TTL, or the TVs' periodic refresh (kiosk/display/hub.py).
    """
    estimates = estimates if estimates is not None else compute_estimates(queue)
    ticket_changed(queue.establishment_id, {"type": "queue", "queue_id": str(queue.id),
                                            "waiting": len(estimates["order"]), "next": estimates["next"],
                                            **(extra or {})},
                   warm={f"queue-estimates:{queue.id}": (estimates, ESTIMATES_TTL_SECONDS)})


# --- staff actions --------------------------------------------------------------------------

def _lock_candidate(ticket_id) -> Ticket | None:
    """Claim one WAITING ticket, or None if another counter has it (or just took it).

    On Postgres, SKIP LOCKED makes a second counter pressing at the same
    instant move on to the next ticket instead of waiting or double-calling.
    SQLite serialises writers anyway; a plain select is enough there.
    """
    statement = sa.select(Ticket).where(Ticket.id == ticket_id, Ticket.status == "WAITING")
    if db.session.get_bind().dialect.name == "postgresql":
        statement = statement.with_for_update(skip_locked=True)
    return db.session.execute(statement).scalar_one_or_none()


def call_next(queue: Queue, counter: str, now: datetime | None = None) -> Ticket | None:
    """Call the ticket the rule picks to ``counter``; None when nobody waits."""
    now = now or utcnow()
    establishment = current_establishment()
    rules = fairness_of(establishment)
    today = local_day(establishment, now)
    waiting = _waiting(queue.id, today)
    if not waiting:
        return None
    streak = current_vip_streak(queue.id, rules, now, today)
    step = timedelta(seconds=eta_inputs(queue, now, today).call_interval_seconds)
    # Try in calling order: whoever loses a race takes the next one the rule would pick.
    for candidate in calling_order(waiting, streak, now, rules, step):
        ticket = _lock_candidate(candidate.id)
        if ticket is not None:
            break
    else:
        db.session.rollback()
        return None
    ticket.status = "CALLED"
    ticket.counter = counter
    ticket.called_at = now
    ticket.call_count = (ticket.call_count or 0) + 1
    db.session.flush()
    # The list and streak after this call follow from what was just read: the
    # queue event's estimates need no second read of them (call-next is the
    # most frequent write). The model is re-read: this counter may be new.
    left = [t for t in waiting if t.id != ticket.id]
    streak_after = next_streak(streak, ticket.kind, any(t.kind != "VIP" for t in left))
    estimates = _estimates_from(queue, now, rules, left, streak_after, eta_inputs(queue, now, today))
    _publish_ticket(ticket, called=True)
    _publish_waiting_list(queue, estimates=estimates)
    db.session.commit()
    return ticket


def get_ticket(ticket_id) -> Ticket:
    """:raise NotFound: unknown id, or another establishment's ticket."""
    return get_or_404(Ticket, ticket_id)


# action -> (statuses it is allowed from, new status)
TRANSITIONS = {
    "recall": (("CALLED",), "CALLED"),
    "serve": (("CALLED",), "SERVED"),
    "no-show": (("CALLED",), "NO_SHOW"),
    "cancel": (("WAITING", "CALLED"), "CANCELLED"),
}


def _locked_ticket(ticket_id) -> Ticket:
    try:
        ident = uuid.UUID(str(ticket_id))
    except (ValueError, TypeError, AttributeError):
        raise NotFound() from None
    # Row lock: a serve and a no-show pressed together apply one after the other.
    ticket = db.session.execute(
        sa.select(Ticket).where(Ticket.id == ident).with_for_update()
    ).scalar_one_or_none()
    if ticket is None:
        raise NotFound()
    return ticket


def transition(ticket_id, action: str, now: datetime | None = None) -> Ticket:
    """Apply a staff action to a ticket.

    :raise NotFound: unknown ticket.
    :raise ApiError 409 invalid_transition: the ticket's status does not allow it.
    """
    allowed, new_status = TRANSITIONS[action]
    ticket = _locked_ticket(ticket_id)
    if ticket.status not in allowed:
        status = ticket.status
        db.session.rollback()
        raise ApiError(409, "invalid_transition",
                       _l("This ticket cannot be changed that way in its current state."),
                       {"status": status, "action": action, "allowed_from": list(allowed)})
    now = now or utcnow()
    was_waiting = ticket.status == "WAITING"
    ticket.status = new_status
    if action == "recall":
        ticket.call_count = (ticket.call_count or 0) + 1
    elif action == "serve":
        ticket.served_at = now
        ticket.finished_at = now
        _learn_service_time(ticket, now)
    else:
        ticket.finished_at = now
    db.session.flush()
    _publish_ticket(ticket, waiting_changed=was_waiting, called=action == "recall")
    db.session.commit()
    return ticket


def _learn_service_time(ticket: Ticket, now: datetime) -> None:
    if ticket.called_at is None:
        return
    queue = db.session.execute(
        sa.select(Queue).where(Queue.id == ticket.queue_id).with_for_update()
    ).scalar_one()
    duration = (now - aware(ticket.called_at)).total_seconds()
    queue.mean_service_seconds = eta_model.learn_mean(
        queue.mean_service_seconds or eta_model.DEFAULT_SERVICE_SECONDS, queue.served_count or 0, duration)
    queue.served_count = (queue.served_count or 0) + 1


# --- public tracking -------------------------------------------------------------------------

def ticket_by_token(token: str) -> Ticket:
    """The ticket behind a tracking token, across tenants (the token is the secret).

    The caller then enters ``tenant_scope(ticket.establishment_id)``.

    :raise NotFound: malformed or unknown token.
    """
    if not TOKEN_SHAPE.match(token or ""):
        raise NotFound()
    with system_scope():
        ticket = db.session.execute(
            sa.select(Ticket).where(Ticket.tracking_token == token)
        ).scalar_one_or_none()
    if ticket is None:
        raise NotFound()
    return ticket


# --- theme -------------------------------------------------------------------------------------

def get_theme() -> dict:
    return theme_rules.public_theme(current_establishment().theme)


def update_theme(values: dict) -> dict:
    """Store a validated theme (see ThemeSchema) and tell every screen."""
    establishment = current_establishment()
    stored = {key: values[key] for key in ("primary", "accent", "vip", "logo_url", "sound") if key in values}
    for key in theme_rules.COLOUR_KEYS:
        if key in stored:
            stored[key] = theme_rules.normalise_hex(stored[key])
    # A new dict: SQLAlchemy does not see in-place changes to a JSON column.
    establishment.theme = {**(establishment.theme or {}), **stored}
    public = theme_rules.public_theme(establishment.theme)
    ticket_changed(establishment.id, {"type": "theme", "theme": public})
    db.session.commit()
    return public
