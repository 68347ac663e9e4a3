"""Queues and tickets: the rules that change them.

Ticket life: WAITING -call-next-> CALLED -serve-> SERVED
                                        -no-show-> NO_SHOW
             WAITING or CALLED -cancel-> CANCELLED;  CALLED -recall-> CALLED
WAITING or CALLED -end of the service day (closing.py)-> EXPIRED
Anything else is a 409 ``invalid_transition``. Every change emits events
(kiosk/events.py) that subscribers act on once the transaction commits.

Numbers and codes: numbering.py. Calling order and ETAs: estimates.py.
How tickets and queues are shown: presentation.py.
"""
from __future__ import annotations

import logging
import uuid
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy.exc import IntegrityError

from kiosk.base import TOKEN_SHAPE, aware, utcnow
from kiosk.errors import ApiError, NotFound
from kiosk.establishments.models import Establishment
from kiosk.establishments.services import current_establishment
from kiosk.events import QueueChanged, TicketCalled, TicketChanged, emit
from kiosk.extensions import db, redis_client
from kiosk.queues import eta as eta_model
from kiosk.queues.calling import calling_order, next_streak
from kiosk.queues.estimates import (ESTIMATES_TTL_SECONDS, compute_estimates, current_vip_streak,
                                    estimates_cache_name, estimates_from, eta_inputs_around_call, fairness_of,
                                    waiting_list)
from kiosk.queues.models import Queue, Ticket
from kiosk.queues.numbering import format_code, local_day, new_tracking_token, next_number, vip_prefix_for
from kiosk.tenancy import get_or_404, require_establishment_id, system_scope, tenant_scope

log = logging.getLogger(__name__)


# --- queues -----------------------------------------------------------------------

def _check_prefix_free(prefix: str, queue_id=None) -> None:
    """Two queues with one prefix would both call "A-001": refuse it.

    :raise ApiError 409 prefix_taken:
    """
    clash = db.session.scalar(sa.select(Queue.id).where(Queue.prefix == prefix.upper(), Queue.id != queue_id)
                              if queue_id else sa.select(Queue.id).where(Queue.prefix == prefix.upper()))
    if clash is not None:
        raise ApiError(409, "prefix_taken", _l("Another queue already uses this prefix."), {"prefix": prefix.upper()})


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


# --- issuing ------------------------------------------------------------------------------

def issue_ticket(queue: Queue, kind: str = "STANDARD", *, transaction_id=None, request_id=None,
                 device_id: str | None = None, commit: bool = True, publish_waiting: bool = True) -> Ticket:
    """Create a WAITING ticket with the next number of the local day.

    Publishes the ``ticket`` and ``queue`` events after the commit (the
    caller's, with ``commit=False``). With ``publish_waiting=False`` the
    caller publishes the queue event itself after its commit
    (``publish_waiting_list_soon``): the payment worker does, so the
    estimates' work does not delay the payment's commit.

    :raise ApiError 409 queue_closed: the queue is not active.
    """
    if not queue.active:
        raise ApiError(409, "queue_closed", _l("This queue is closed."))
    # From the session's identity map when this request already read it.
    establishment = db.session.get(Establishment, queue.establishment_id)
    day = local_day(establishment)
    number = next_number(queue.id, day, kind)
    ticket = Ticket(queue_id=queue.id, service_day=day, number=number, kind=kind, status="WAITING",
                    code=format_code(queue, kind, number), tracking_token=new_tracking_token(),
                    transaction_id=transaction_id, request_id=request_id, device_id=device_id,
                    created_at=utcnow(), call_count=0)
    db.session.add(ticket)
    db.session.flush()
    _publish_ticket(ticket, waiting_changed=publish_waiting, queue=queue)
    if commit:
        db.session.commit()
    return ticket


def issue_free_ticket(queue_id, device_id: str, request_id: uuid.UUID) -> tuple[Ticket, bool]:
    """A STANDARD ticket for a kiosk's queue, once per request_id.

    Returns (ticket, created). Two racing requests with one request_id both get
    the same ticket: the unique ``tickets.request_id`` decides, the loser reads.

    :raise ApiError 422 idempotency_mismatch: the request_id is another device's.
    :raise ApiError 409 queue_closed: the device's queue is closed or gone.
    """
    existing = _ticket_for_request(request_id)
    if existing is not None:
        return _same_device(existing, device_id), False
    queue = _open_queue(queue_id)
    try:
        ticket = issue_ticket(queue, "STANDARD", request_id=request_id, device_id=device_id)
    except IntegrityError:
        db.session.rollback()
        existing = _ticket_for_request(request_id)
        if existing is None:  # another establishment's request_id (invisible here)
            raise _request_id_mismatch() from None
        return _same_device(existing, device_id), False
    return ticket, True


def _ticket_for_request(request_id: uuid.UUID) -> Ticket | None:
    return db.session.execute(sa.select(Ticket).where(Ticket.request_id == request_id)).scalar_one_or_none()


def _same_device(ticket: Ticket, device_id: str) -> Ticket:
    if ticket.device_id != device_id:
        raise _request_id_mismatch()
    return ticket


def _request_id_mismatch() -> ApiError:
    # The same answer as a reused payment id: the other request may be another device's.
    return ApiError(422, "idempotency_mismatch",
                    _l("This transaction_id was already used for a different payment."))


def _open_queue(queue_id) -> Queue:
    queue = None
    if queue_id is not None:
        queue = db.session.execute(sa.select(Queue).where(Queue.id == queue_id)).scalar_one_or_none()
    if queue is None or not queue.active:
        raise ApiError(409, "queue_closed", _l("This queue is closed."))
    return queue


# --- events -------------------------------------------------------------------------------

def _publish_ticket(ticket: Ticket, *, waiting_changed: bool = False, called: bool = False,
                    queue: Queue | None = None) -> None:
    establishment_id = ticket.establishment_id or require_establishment_id()
    emit(TicketChanged(establishment_id=establishment_id, ticket_id=str(ticket.id), queue_id=str(ticket.queue_id),
                       code=ticket.code, kind=ticket.kind, status=ticket.status, counter=ticket.counter))
    if called:
        emit(TicketCalled(establishment_id=establishment_id, ticket_id=str(ticket.id),
                          queue_id=str(ticket.queue_id), code=ticket.code, kind=ticket.kind, counter=ticket.counter))
    if waiting_changed:
        _publish_waiting_list(queue if queue is not None else get_queue(ticket.queue_id))


def publish_waiting_list(queue: Queue) -> None:
    """The queue event for a waiting list changed by someone else (the end of the day)."""
    _publish_waiting_list(queue)


# --- the queue event of a payment, coalesced per queue ---------------------------------------
#
# Every payment adds a ticket, and the queue event recomputes the calling order
# and ETA of the whole waiting list: O(waiting), ~100 ms of a worker process at
# 600 waiting (docs/performance.md). So the payment worker does not publish it
# itself: the first payment of a window marks the queue ("scheduled") and
# schedules PUBLISH_TASK COALESCE_SECONDS later; the payments that find the
# mark skip, and the task clears it BEFORE reading the list, so any change
# committed before the clear is in what it reads and any change committed
# after it schedules the next run. A second run waits for the first
# ("running"), so events leave in the order they were computed.

PUBLISH_TASK = "queues.publish_waiting_list"
COALESCE_SECONDS = 0.1
# Both marks expire, so a lost task or a killed worker delays the next event
# by this much at most; "scheduled" outlives a busy worker's usual delay
# (a duplicate run would only cost one more computation).
SCHEDULED_TTL_MS = 3000
RUNNING_TTL_MS = 10000


def _scheduled_key(queue_id) -> str:
    return f"queues:publish-scheduled:{queue_id}"


def _running_key(queue_id) -> str:
    return f"queues:publish-running:{queue_id}"


def publish_waiting_list_soon(queue: Queue) -> None:
    """The queue event for a change already committed, at most once per queue per ``COALESCE_SECONDS``.

    Tasks run in-process (the embedded default, eager tests), QUEUE_EVENTS_INLINE
    set, or Redis or the broker failing: published now, as before coalescing. Commits its own
    transaction (which delivers the event); the caller's work is committed.
    """
    celery = current_app.extensions["celery"]
    if celery.conf.task_always_eager or current_app.config.get("QUEUE_EVENTS_INLINE"):
        _publish_now(queue)
        return
    try:
        first = redis_client.set(_scheduled_key(queue.id), b"1", nx=True, px=SCHEDULED_TTL_MS)
    except Exception:  # noqa: BLE001 - no mark, no coalescing: publish as before
        log.warning("queue event not coalesced (Redis)", extra={"queue_id": str(queue.id)})
        _publish_now(queue)
        return
    if not first:
        return  # a scheduled run has not read the list yet: it will see this change
    try:
        _schedule(celery, queue.establishment_id, queue.id)
    except Exception:  # noqa: BLE001
        log.warning("queue event not scheduled; published now", extra={"queue_id": str(queue.id)})
        try:
            redis_client.delete(_scheduled_key(queue.id))
        except Exception:  # noqa: BLE001
            pass  # it expires
        _publish_now(queue)


def _schedule(celery, establishment_id, queue_id) -> None:
    celery.tasks[PUBLISH_TASK].apply_async(args=[str(establishment_id), str(queue_id)],
                                           countdown=COALESCE_SECONDS, retry=False)


def _publish_now(queue: Queue) -> None:
    _publish_waiting_list(queue)
    db.session.commit()


def publish_scheduled_waiting_list(establishment_id, queue_id) -> str:
    """``PUBLISH_TASK``'s work: clear the queue's mark, then compute and publish its event.

    Returns what happened: "published", "deferred" (another run is computing
    this queue: rescheduled after it) or "gone" (the queue was deleted).
    """
    token = uuid.uuid4().hex.encode()
    if not redis_client.set(_running_key(queue_id), token, nx=True, px=RUNNING_TTL_MS):
        # Keep the mark up meanwhile: the changes until then need no run of their own.
        redis_client.set(_scheduled_key(queue_id), b"1", px=SCHEDULED_TTL_MS)
        _schedule(current_app.extensions["celery"], establishment_id, queue_id)
        return "deferred"
    try:
        redis_client.delete(_scheduled_key(queue_id))
        with tenant_scope(establishment_id):
            try:
                queue = db.session.execute(sa.select(Queue).where(Queue.id == uuid.UUID(str(queue_id)))
                                           ).scalar_one_or_none()
                if queue is None:
                    db.session.rollback()
                    return "gone"
                _publish_now(queue)
            except Exception:
                db.session.rollback()  # inside the scope: it refreshes the RLS settings
                raise
        return "published"
    finally:
        try:
            if redis_client.get(_running_key(queue_id)) == token:
                redis_client.delete(_running_key(queue_id))
        except Exception:  # noqa: BLE001 - it expires
            pass


def _publish_queue(queue: Queue) -> None:
    _publish_waiting_list(queue, {"active": queue.active, "name": queue.name})


def _publish_waiting_list(queue: Queue, extra: dict | None = None, *, estimates: dict | None = None) -> None:
    """The queue event, with the waiting count and the next tickets as this transaction leaves them.

    TVs take the next tickets from the event itself, so no web process has to
    rebuild a snapshot per change (that was 40 % of a web worker's CPU under
    load). The estimates computed for it are cached once the commit has
    invalidated the old ones: the status polls that follow read them.
    A change another request commits between this computation and this
    commit is missing from both until the next change of the queue, the
    15 s TTL, or the TVs' periodic refresh (kiosk/display/hub.py).
    """
    estimates = estimates if estimates is not None else compute_estimates(queue)
    emit(QueueChanged(establishment_id=queue.establishment_id, queue_id=str(queue.id),
                      waiting=len(estimates["order"]), next=estimates["next"], extra=extra or {},
                      warm={estimates_cache_name(queue.id): (estimates, ESTIMATES_TTL_SECONDS)}))


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
    waiting = waiting_list(queue.id, today)
    if not waiting:
        return None
    streak = current_vip_streak(queue.id, rules, now, today)
    # Read once: the model before the call gives the rule's step, the model
    # after it (this counter open and busy since now) the queue event's estimates.
    model_before, model_after = eta_inputs_around_call(queue, now, today, counter)
    step = timedelta(seconds=model_before.call_interval_seconds)
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
    # most frequent write), nor of the ETA model (read above as it is after the call).
    left = [t for t in waiting if t.id != ticket.id]
    streak_after = next_streak(streak, ticket.kind, any(t.kind != "VIP" for t in left))
    estimates = estimates_from(queue, now, rules, left, streak_after, model_after)
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
