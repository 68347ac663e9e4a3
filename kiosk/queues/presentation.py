"""Tickets and queues as every API shows them (staff routes, payment status, tracking JSON)."""
from __future__ import annotations

import sqlalchemy as sa
from flask import current_app, has_request_context, request

from kiosk.base import iso
from kiosk.cache import cached
from kiosk.establishments.services import current_establishment
from kiosk.extensions import db
from kiosk.queues.estimates import ESTIMATES_TTL_SECONDS, compute_estimates, queue_estimates
from kiosk.queues.models import Queue, Ticket
from kiosk.queues.numbering import local_day


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
    """A ticket as every API shows it.

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
        "created_at": iso(ticket.created_at),
        "called_at": iso(ticket.called_at),
        "served_at": iso(ticket.served_at),
        "eta_minutes": eta,
    }


def describe_queue(queue: Queue, with_waiting: bool = False) -> dict:
    body = {"id": str(queue.id), "name": queue.name, "prefix": queue.prefix, "vip_prefix": queue.vip_prefix,
            "active": queue.active, "mean_service_seconds": round(queue.mean_service_seconds or 0, 1),
            "created_at": iso(queue.created_at)}
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
