"""Displays (TV screens): tokens, health, heartbeats and the state they show.

The snapshot built here is the one source of what a TV shows: the WebSocket
sends it on connect and on resync, ``state.json`` returns it to polling
screens, and the fan-out hub pushes a fresh one after queue changes.
"""
from __future__ import annotations

import json
import logging
import random
import re
import secrets
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from flask import current_app
from flask_babel import lazy_gettext as _l

from kiosk.base import TOKEN_SHAPE, aware, iso, utcnow
from kiosk.cache import note_redis_failure, redis_in_outage
from kiosk.display.bus import seq_key
from kiosk.display.models import Display
from kiosk.establishments.hours import is_open
from kiosk.establishments.models import Establishment
from kiosk.establishments.services import current_establishment, screen_theme
from kiosk.events import DisplayRevoked, emit
from kiosk.extensions import db, redis_client
from kiosk.queues.estimates import NEXT_TICKETS, queue_estimates, ticket_brief
from kiosk.queues.models import Queue, Ticket
from kiosk.queues.numbering import local_day
from kiosk.tenancy import get_or_404, system_scope, tenant_scope

log = logging.getLogger(__name__)

QUIET_AFTER_SECONDS = 120
HEARTBEAT_WRITE_SECONDS = 60
RECENT_CALLS = 8
SNAPSHOT_MEMO_SECONDS = 2.0


# --- management (manager API) ----------------------------------------------------

def create_display(label: str) -> Display:
    display = Display(label=label, token=secrets.token_urlsafe(24))
    db.session.add(display)
    db.session.commit()
    return display


def list_displays() -> list[Display]:
    return list(db.session.scalars(sa.select(Display).order_by(Display.created_at)))


def get_display(display_id) -> Display:
    """:raise NotFound: unknown id, or another establishment's display."""
    return get_or_404(Display, display_id)


def rename_display(display_id, label: str) -> Display:
    display = get_display(display_id)
    display.label = label
    db.session.commit()
    return display


def revoke_display(display_id) -> Display:
    """Revoke the token for good: page, state.json and WebSocket answer 404.

    Idempotent. Screens connected right now are dropped through the event
    bus (every web process sees it), with the heartbeat check as a backstop.
    """
    display = get_display(display_id)
    if display.revoked_at is None:
        display.revoked_at = utcnow()
        emit(DisplayRevoked(establishment_id=display.establishment_id, display_id=str(display.id)))
        db.session.commit()
        _heartbeat_written.pop(display.id, None)
    return display


def display_url(token: str, base_url: str) -> str:
    return f"{base_url.rstrip('/')}/display/{token}"


def display_health(display: Display, establishment: Establishment, now: datetime | None = None) -> dict:
    """Status of one screen for the dashboard.

    ``live``: heard from within 2 minutes; ``quiet``: not since; ``never``:
    never connected; ``revoked``. A warning is raised for a quiet screen
    during opening hours only (a TV switched off at night is normal). A
    display that never connected gets no warning: it may be a spare.
    """
    now = now or utcnow()
    last = aware(display.last_heartbeat)
    open_now = is_open(establishment.opening_hours, establishment.timezone, now)
    health = {"status": "never", "quiet_for_seconds": None, "open_now": open_now,
              "warning": None, "warning_message": None}
    if display.revoked_at is not None:
        health["status"] = "revoked"
        return health
    if last is None:
        return health
    quiet_for = max(0, int((now - last).total_seconds()))
    health["quiet_for_seconds"] = quiet_for
    health["status"] = "live" if quiet_for <= QUIET_AFTER_SECONDS else "quiet"
    if health["status"] == "quiet" and open_now:
        health["warning"] = "quiet_during_opening_hours"
        health["warning_message"] = str(_l("This screen has not been heard from for %(minutes)d minutes "
                                           "during opening hours.", minutes=quiet_for // 60))
    return health


def describe(display: Display, establishment: Establishment, base_url: str, now: datetime | None = None) -> dict:
    """A display as managers see it: its URL and its health."""
    return {"id": display.id, "label": display.label, "token": display.token,
            "url": display_url(display.token, base_url), "last_heartbeat": aware(display.last_heartbeat),
            "created_at": aware(display.created_at), "revoked_at": aware(display.revoked_at),
            **display_health(display, establishment, now)}


def describe_all(base_url: str) -> list[dict]:
    establishment = current_establishment()
    now = utcnow()
    return [describe(d, establishment, base_url, now) for d in list_displays()]


# --- public side (token holders) ---------------------------------------------------

@dataclass(frozen=True)
class DisplayRef:
    """What a request needs to know about a display, detached from the session."""

    id: uuid.UUID
    establishment_id: uuid.UUID
    label: str
    establishment_name: str
    locale: str
    timezone: str


def resolve_token(token: str) -> DisplayRef | None:
    """The active display holding ``token``, or None (unknown or revoked)."""
    return resolve_tokens([token]).get(token)


def resolve_tokens(candidates) -> dict[str, DisplayRef]:
    """The active displays holding ``candidates``, by token, in one query (unknown and revoked ones absent).

    One SELECT for the screens of a reconnect storm whose tokens are not in
    the process's cache yet (``tokens``), whatever their establishment:
    each ref carries its own display's establishment.
    """
    wanted = {t for t in candidates if TOKEN_SHAPE.match(t or "")}
    if not wanted:
        return {}
    # Columns, not entities: nothing is written back, and 1,000 ORM rows would
    # cost the storm more than the query itself.
    with system_scope():
        rows = db.session.execute(
            sa.select(Display.token, Display.id, Display.establishment_id, Display.label,
                      Establishment.name, Establishment.locale, Establishment.timezone)
            .join(Establishment, Establishment.id == Display.establishment_id)
            .where(Display.token.in_(wanted), Display.revoked_at.is_(None))
        ).all()
    # End the read. A WebSocket's request context lasts as long as the
    # socket, and an open transaction would hold a pooled connection until its
    # first heartbeat: in a 1,000-screen reconnect storm the pool ran dry and
    # handshakes timed out after 30 s (docs/load-test.md).
    db.session.rollback()
    return {token: DisplayRef(id=display_id, establishment_id=establishment_id, label=label,
                              establishment_name=name, locale=locale, timezone=timezone)
            for token, display_id, establishment_id, label, name, locale, timezone in rows}


# state.json is polled by every TV that lost its WebSocket (every 5 s each).
# Its token check is kept in Redis: ``poll:display:<token>`` holds the
# display and establishment ids (they never change for a token), and a
# revocation leaves a tombstone under the display id, checked on every hit
# in the same MGET as the seq. A poll that read the display as active just
# before its revocation may still write the entry: the tombstone, written
# after the commit and outliving every entry, makes that entry useless.
POLL_TOKEN_TTL = 60
REVOKED_TTL = 2 * 24 * 3600


def _poll_token_key(token: str) -> str:
    return f"poll:display:{token}"


def _revoked_key(display_id) -> str:
    return f"poll:display-revoked:{display_id}"


def resolve_poll_token(token: str) -> tuple[uuid.UUID, uuid.UUID, int | None] | None:
    """state.json's check: (display id, establishment id, seq or None if not read) of an active display.

    None for an unknown or revoked token. Redis down: the database answers.
    """
    if not TOKEN_SHAPE.match(token or ""):
        return None
    key = _poll_token_key(token)
    if not redis_in_outage():
        try:
            entry = redis_client.get(key)
            if entry is not None:
                display_id, establishment_id = entry.decode().split(":")
                seq, revoked = redis_client.mget(seq_key(establishment_id), _revoked_key(display_id))
                if revoked is None:
                    return uuid.UUID(display_id), uuid.UUID(establishment_id), int(seq) if seq else 0
        except Exception:  # noqa: BLE001 - the database answers instead
            note_redis_failure("display token read")
    ref = resolve_token(token)
    if ref is None:
        return None
    if not redis_in_outage():
        try:
            redis_client.set(key, f"{ref.id}:{ref.establishment_id}", ex=POLL_TOKEN_TTL)
        except Exception:  # noqa: BLE001 - the next poll reads the database again
            note_redis_failure("display token write", ref.establishment_id)
    return ref.id, ref.establishment_id, None


def forget_poll_token(event: DisplayRevoked) -> None:
    """Event subscriber: a revoked display's state.json answers 404 from the next poll on."""
    try:
        redis_client.set(_revoked_key(event.display_id), 1, ex=REVOKED_TTL)
    except Exception:  # noqa: BLE001 - the heartbeat (state.json checks it) catches it within a minute
        note_redis_failure("display revocation", event.establishment_id)
        log.warning("display revocation not recorded for polls", extra={"display_id": event.display_id})


# Per process: when each display's heartbeat was last written. A TV answers a
# ping every 15 s; writing each one would cost 4 UPDATEs a minute per screen.
_heartbeat_written: dict[uuid.UUID, float] = {}


def record_heartbeat(display_id: uuid.UUID, establishment_id: uuid.UUID, *, force: bool = False) -> bool:
    """Note that a screen is alive, at most once a minute per process.

    Returns False when the display has been revoked (the caller drops it).
    A database failure is logged and treated as alive: a Postgres outage
    must not disconnect every TV.
    """
    now = time.monotonic()
    last = _heartbeat_written.get(display_id)
    if not force and last is not None and now - last < HEARTBEAT_WRITE_SECONDS:
        return True
    try:
        with tenant_scope(establishment_id):
            result = db.session.execute(
                sa.update(Display).where(Display.id == display_id, Display.revoked_at.is_(None))
                .values(last_heartbeat=utcnow())
            )
            db.session.commit()
    except Exception:  # noqa: BLE001
        db.session.rollback()
        log.warning("display heartbeat not recorded", extra={"display_id": str(display_id)})
        return True
    # Screens that connected together (a web process restarted under them)
    # would otherwise write together every minute for good: under the load
    # test, 1,000 UPDATEs landed in the same few seconds each minute. A
    # random head start spreads the next writes over the second half-minute.
    _heartbeat_written[display_id] = now - (random.uniform(0, HEARTBEAT_WRITE_SECONDS / 2) if last is None else 0)
    return result.rowcount > 0


def record_heartbeats(establishment_id: uuid.UUID, display_ids: list[uuid.UUID]) -> set[uuid.UUID]:
    """``record_heartbeat`` for screens of one establishment that connected together: one UPDATE.

    Returns the displays still active (a revoked one is absent: the caller
    drops it). Those written within the minute are not written again and
    count as active, as in ``record_heartbeat``; so does everyone when the
    database fails.
    """
    now = time.monotonic()
    due = [d for d in display_ids
           if (last := _heartbeat_written.get(d)) is None or now - last >= HEARTBEAT_WRITE_SECONDS]
    if not due:
        return set(display_ids)
    try:
        with tenant_scope(establishment_id):
            written = set(db.session.scalars(
                sa.update(Display).where(Display.id.in_(due), Display.revoked_at.is_(None))
                .values(last_heartbeat=utcnow()).returning(Display.id)
            ))
            db.session.commit()
    except Exception:  # noqa: BLE001
        db.session.rollback()
        log.warning("display heartbeats not recorded", extra={"establishment_id": str(establishment_id)})
        return set(display_ids)
    for display_id in written:  # spread over the next half-minute, as above
        _heartbeat_written[display_id] = now - random.uniform(0, HEARTBEAT_WRITE_SECONDS / 2)
    return written | (set(display_ids) - set(due))


def current_seq(establishment_id) -> int:
    """The establishment's last event number; 0 when Redis cannot say.

    Read *before* the database, so every event numbered up to it is already
    reflected in what is read next (events are numbered after commit).
    """
    try:
        value = redis_client.get(seq_key(establishment_id))
        return int(value) if value else 0
    except Exception:  # noqa: BLE001 - a snapshot must work without Redis
        return 0


def _ticket_brief(ticket: Ticket) -> dict:
    return ticket_brief(ticket, ticket.queue_id)


def _next_tickets(queues: list[Queue], today) -> dict[uuid.UUID, list[dict]]:
    """The next waiting tickets of each queue, in the order the calling rule will call them."""
    result: dict[uuid.UUID, list[dict]] = {}
    for queue in queues:
        try:
            result[queue.id] = queue_estimates(queue)["next"]
        except Exception:  # noqa: BLE001 - a TV must keep showing something if the estimator fails
            log.exception("calling order unavailable; the TV shows VIP first, then oldest")
            result[queue.id] = [_ticket_brief(t) for t in db.session.scalars(
                sa.select(Ticket).where(Ticket.queue_id == queue.id, Ticket.status == "WAITING",
                                        Ticket.service_day == today)
                .order_by((Ticket.kind == "VIP").desc(), Ticket.created_at).limit(NEXT_TICKETS))]
    return result


def build_snapshot(establishment_id) -> dict:
    """Everything a TV shows, as of the returned ``seq``."""
    seq = current_seq(establishment_id)
    with tenant_scope(establishment_id):
        establishment = current_establishment()
        queues = list(db.session.scalars(
            sa.select(Queue).where(Queue.active.is_(True)).order_by(Queue.created_at)))
        queue_ids = [q.id for q in queues]
        today = local_day(establishment)
        # Today's only: a ticket of a past day is never waiting, even before the day's expiry has run.
        waiting = dict(db.session.execute(
            sa.select(Ticket.queue_id, sa.func.count()).where(Ticket.status == "WAITING", Ticket.service_day == today)
            .group_by(Ticket.queue_id)).all())
        upcoming = _next_tickets(queues, today)
        called = list(db.session.scalars(
            sa.select(Ticket).where(Ticket.queue_id.in_(queue_ids) if queue_ids else sa.false(),
                                    Ticket.service_day == today, Ticket.called_at.is_not(None))
            .order_by(Ticket.called_at.desc()).limit(50)))
        snapshot = {
            "type": "snapshot",
            "seq": seq,
            "server_time": time.time(),
            "ping_interval": current_app.config.get("DISPLAY_PING_SECONDS", 15),
            "establishment": {"id": str(establishment.id), "name": establishment.name,
                              "timezone": establishment.timezone, "locale": establishment.locale},
            "theme": screen_theme(establishment),
            "queues": [{"id": str(q.id), "name": q.name, "prefix": q.prefix, "waiting": waiting.get(q.id, 0),
                        "next": upcoming[q.id]} for q in queues],
            "now_serving": _now_serving(called),
            "recent_calls": [{**_ticket_brief(t), "counter": t.counter, "called_at": iso(t.called_at),
                              "call_count": t.call_count} for t in called[:RECENT_CALLS]],
        }
    return snapshot


def _now_serving(called: list[Ticket]) -> list[dict]:
    """The ticket each counter is serving: its latest call, if still CALLED."""
    latest: dict[str, Ticket] = {}
    for ticket in called:  # newest first
        latest.setdefault(ticket.counter or "", ticket)
    serving = [t for t in latest.values() if t.status == "CALLED"]
    serving.sort(key=lambda t: _natural_key(t.counter or ""))
    return [{**_ticket_brief(t), "counter": t.counter, "called_at": iso(t.called_at)} for t in serving]


def _natural_key(text: str) -> list:
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", text)]


# Per process, per establishment: the last snapshot as JSON, reused while its
# seq is current and it is under 2 s old, so a reconnect storm (a web process
# restarted under 1,000 TVs) costs one build per establishment, not 1,000.
_memo: dict[uuid.UUID, tuple[int, float, str]] = {}
_memo_lock = threading.Lock()


def snapshot_json(establishment_id, seq: int | None = None) -> tuple[str, int]:
    """The snapshot serialised once, with its seq (``seq``: the current one, if the caller just read it)."""
    key = uuid.UUID(str(establishment_id))
    seq = current_seq(key) if seq is None else seq
    hit = _memo.get(key)
    if hit and hit[0] == seq and time.monotonic() - hit[1] < SNAPSHOT_MEMO_SECONDS and seq:
        return hit[2], seq
    snapshot = build_snapshot(key)
    text = json.dumps(snapshot, separators=(",", ":"), default=str)
    with _memo_lock:
        _memo[key] = (snapshot["seq"], time.monotonic(), text)
    return text, snapshot["seq"]
