"""What the customer's phone sees: the public state behind a tracking token.

Phones poll ``/t/<token>.json`` about once a second, so the hot path avoids
the database and costs one Redis round trip: the token's (establishment,
ticket) pair never changes, so each process keeps it in memory (and Redis
for the other processes), and the state is a snapshot of the response's
exact bytes and ETag, tagged with the establishment's cache generation
(kiosk/cache.py), which every ticket and queue change bumps after its
commit. The generation is read with the snapshot, before the database: a
snapshot computed from a read that a change overtook carries the old
generation and is never served. A Redis outage falls back to the database,
never to an error.
"""
from __future__ import annotations

import hashlib
import json
import logging
import uuid
from datetime import timedelta

import sqlalchemy as sa

from kiosk.base import TOKEN_SHAPE, aware, utcnow
from kiosk.cache import generation_key, note_redis_failure, redis_in_outage
from kiosk.errors import NotFound
from kiosk.establishments import theme as theme_rules
from kiosk.establishments.models import Establishment
from kiosk.extensions import db, redis_client
from kiosk.queues.estimates import ESTIMATES_TTL_SECONDS
from kiosk.queues.models import REFUNDABLE_STATUSES, Queue, Ticket
from kiosk.queues.presentation import describe_ticket
from kiosk.queues.services import ticket_by_token
from kiosk.tenancy import tenant_scope

log = logging.getLogger(__name__)

# While the page is visible; the page slows down when hidden and backs off on errors.
POLL_MS = 750
# A VIP ticket this young gets the payment-confirmation animation.
FRESH_VIP = timedelta(minutes=3)
_INDEX_TTL = 3 * 24 * 3600


def _index_key(token: str) -> str:
    return f"track-token:{token}"


# Per process: token -> (establishment_id, ticket_id). Never stale: a token's pair never changes.
_located: dict[str, tuple[str, str]] = {}
_LOCATED_MAX = 20_000  # ~5 MB; past it, the Redis index answers (one GET)


def _locate(token: str) -> tuple[str, str]:
    """(establishment_id, ticket_id) for a token; raises NotFound for unknown ones."""
    pair = _located.get(token)
    if pair is None:
        pair = _locate_shared(token)
        if len(_located) >= _LOCATED_MAX:
            _located.clear()
        _located[token] = pair
    return pair


def _locate_shared(token: str) -> tuple[str, str]:
    try:
        hit = redis_client.get(_index_key(token))
        if hit:
            establishment_id, ticket_id = hit.decode().split(":", 1)
            return establishment_id, ticket_id
    except Exception:  # noqa: BLE001 - the database answers instead
        log.warning("tracking index unavailable")
    ticket = ticket_by_token(token)
    pair = (str(ticket.establishment_id), str(ticket.id))
    try:
        redis_client.set(_index_key(token), ":".join(pair), ex=_INDEX_TTL)
    except Exception:  # noqa: BLE001
        pass
    return pair


def _compute(ticket_id: str) -> dict:
    # A real UUID: SQLite's Uuid type does not take strings (psycopg2 does).
    ticket = db.session.execute(
        sa.select(Ticket).where(Ticket.id == uuid.UUID(ticket_id))).scalar_one_or_none()
    if ticket is None:
        raise NotFound()
    queue = db.session.execute(sa.select(Queue).where(Queue.id == ticket.queue_id)).scalar_one()
    establishment = db.session.execute(
        sa.select(Establishment).where(Establishment.id == ticket.establishment_id)).scalar_one()
    described = describe_ticket(ticket)
    created = aware(ticket.created_at)
    fresh_vip = (ticket.kind == "VIP" and ticket.transaction_id is not None
                 and utcnow() - created < FRESH_VIP)
    return {
        "ticket": {**described, "call_count": ticket.call_count or 0},
        "queue": {"name": queue.name},
        "establishment": {"name": establishment.name, "locale": establishment.locale,
                          "timezone": establishment.timezone},
        "theme": theme_rules.public_theme(establishment.theme),
        "sounds": theme_rules.sound_urls(establishment.theme),
        "fresh_vip": fresh_vip,
        "refund": refund_state(ticket),
        "poll_ms": POLL_MS,
    }


def refund_state(ticket: Ticket) -> dict:
    """What the page says about the money: a paid ticket that ended unserved is owed it back.

    A ticket carries a ``transaction_id`` only once its payment was CONFIRMED
    (kiosk/payments), so that is what "paid" means here.
    """
    paid = ticket.transaction_id is not None
    owed = paid and ticket.status in REFUNDABLE_STATUSES
    return {"paid": paid, "due": owed and ticket.refunded_at is None, "refunded": owed and ticket.refunded_at is not None}


def public_state(token: str) -> dict:
    """Everything the ticket page shows, JSON-ready.

    :raise NotFound: malformed or unknown token.
    """
    return json.loads(public_state_json(token)[0])


def _snapshot_key(establishment_id: str, ticket_id: str) -> str:
    return f"poll:track:{establishment_id}:{ticket_id}"


def public_state_json(token: str) -> tuple[bytes, str]:
    """``/t/<token>.json``'s body (compact JSON, sorted keys) and its ETag.

    :raise NotFound: malformed or unknown token.
    """
    if not TOKEN_SHAPE.match(token or ""):
        raise NotFound()
    establishment_id, ticket_id = _locate(token)
    if redis_in_outage():
        return _fresh(establishment_id, ticket_id)
    key = _snapshot_key(establishment_id, ticket_id)
    try:
        generation, entry = redis_client.mget(generation_key(establishment_id), key)
    except Exception:  # noqa: BLE001 - the database answers instead
        note_redis_failure("tracking read", establishment_id)
        return _fresh(establishment_id, ticket_id)
    generation = generation or b"0"
    if entry is not None:
        tag, etag, body = entry.split(b"\n", 2)
        if tag == generation:
            return body, etag.decode()
    body, etag = _fresh(establishment_id, ticket_id)
    try:
        redis_client.set(key, b"\n".join((generation, etag.encode(), body)), ex=ESTIMATES_TTL_SECONDS)
    except Exception:  # noqa: BLE001 - the next poll computes again
        note_redis_failure("tracking write", establishment_id)
    return body, etag


def _fresh(establishment_id: str, ticket_id: str) -> tuple[bytes, str]:
    with tenant_scope(establishment_id):
        state = _compute(ticket_id)
    body = json.dumps(state, separators=(",", ":"), sort_keys=True, default=str).encode()
    return body, hashlib.sha256(body).hexdigest()[:20]
