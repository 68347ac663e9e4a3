"""Typed domain events, emitted by writers and delivered after commit.

A service that changes something emits an event (``emit(TicketCalled(...))``)
inside its transaction. Nothing happens until the commit; a rollback drops it.
After the commit every subscriber of the event's type runs, in the order
they were registered by ``create_app``:

- the cache drops the establishment's cached reads (``kiosk.cache``);
- the TV fan-out publishes the event's ``broadcast()`` on the establishment's
  Redis channel (``kiosk.display.bus``);
- metrics count payments (``kiosk.observability.metrics``).

So a writer never calls a side effect, and a side effect can be added or
removed without touching a writer. A failing subscriber is logged and
swallowed: it must never fail the change that caused it.

What a screen receives (``broadcast()``) is documented in docs/display.md.
"""
from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable

from sqlalchemy import event as sa_event
from sqlalchemy.orm import Session

from kiosk.extensions import db

log = logging.getLogger(__name__)

_PENDING = "kiosk_after_commit"


# --- the events ------------------------------------------------------------------

@dataclass(frozen=True, kw_only=True)
class DomainEvent:
    establishment_id: uuid.UUID | str
    # Values computed inside the transaction, stored in the cache once the
    # commit has invalidated the old ones: {name: (value, ttl_seconds)}.
    warm: dict[str, tuple[Any, int]] = field(default_factory=dict, compare=False, repr=False)

    # Does this change make the establishment's cached reads stale?
    @property
    def stale_cache(self) -> bool:
        return True

    def broadcast(self) -> dict | None:
        """What screens listening to the establishment receive, or None."""
        return None


@dataclass(frozen=True, kw_only=True)
class TicketChanged(DomainEvent):
    """A ticket was issued, called, recalled, served, marked no-show or cancelled."""
    ticket_id: str
    queue_id: str
    code: str
    kind: str
    status: str
    counter: str | None = None

    def broadcast(self) -> dict:
        return {"type": "ticket", "ticket_id": self.ticket_id, "queue_id": self.queue_id, "code": self.code,
                "kind": self.kind, "status": self.status, "counter": self.counter}


@dataclass(frozen=True, kw_only=True)
class TicketCalled(DomainEvent):
    """A counter called (or recalled) a ticket: the TV announces it."""
    ticket_id: str
    queue_id: str
    code: str
    kind: str
    counter: str | None

    def broadcast(self) -> dict:
        return {"type": "called", "ticket": {"ticket_id": self.ticket_id, "code": self.code, "kind": self.kind,
                                             "counter": self.counter, "queue_id": self.queue_id}}


@dataclass(frozen=True, kw_only=True)
class QueueChanged(DomainEvent):
    """A waiting list changed: its count and the next tickets in calling order."""
    queue_id: str
    waiting: int
    next: list[dict]
    extra: dict = field(default_factory=dict)

    def broadcast(self) -> dict:
        return {"type": "queue", "queue_id": self.queue_id, "waiting": self.waiting, "next": self.next,
                **self.extra}


@dataclass(frozen=True, kw_only=True)
class DayClosed(DomainEvent):
    """A queue's service day ended (at closing, or by hand): its open tickets expired.

    Screens take a fresh snapshot: tickets at the counters may have gone too.
    """
    queue_id: str
    expired: int
    manual: bool = False

    def broadcast(self) -> dict:
        return {"type": "day_closed", "queue_id": self.queue_id, "expired": self.expired, "manual": self.manual}


@dataclass(frozen=True, kw_only=True)
class TicketRefunded(DomainEvent):
    """A paid ticket that ended unserved had its money handed back (revenue is net of refunds)."""
    ticket_id: str
    amount: int


@dataclass(frozen=True, kw_only=True)
class CallingRuleChanged(DomainEvent):
    calling: dict

    def broadcast(self) -> dict:
        return {"type": "settings", "calling": self.calling}


@dataclass(frozen=True, kw_only=True)
class ThemeChanged(DomainEvent):
    theme: dict

    def broadcast(self) -> dict:
        return {"type": "theme", "theme": self.theme}


@dataclass(frozen=True, kw_only=True)
class PaymentReceived(DomainEvent):
    """A device's payment was recorded, PENDING."""
    transaction_id: str

    @property
    def stale_cache(self) -> bool:
        return False


@dataclass(frozen=True, kw_only=True)
class PaymentSettled(DomainEvent):
    """A payment ended: CONFIRMED with its ticket, or FAILED with a reason."""
    transaction_id: str
    status: str
    ticket_id: str | None = None

    @property
    def stale_cache(self) -> bool:
        # A confirmed payment made a ticket and revenue; a failed one changed neither.
        return self.status == "CONFIRMED"

    def broadcast(self) -> dict:
        return {"type": "payment", "transaction_id": self.transaction_id, "status": self.status,
                "ticket_id": self.ticket_id}


@dataclass(frozen=True, kw_only=True)
class DisplayRevoked(DomainEvent):
    """A TV's token was revoked: its open sockets must close."""
    display_id: str

    @property
    def stale_cache(self) -> bool:
        return False

    def broadcast(self) -> dict:
        return {"type": "display_revoked", "display_id": self.display_id}


@dataclass(frozen=True, kw_only=True)
class DeviceChanged(DomainEvent):
    """A kiosk was disabled, enabled or given a new secret: processes drop their copy of it."""
    device_id: str

    @property
    def stale_cache(self) -> bool:
        return False


# --- subscribing and emitting -----------------------------------------------------

Subscriber = Callable[[DomainEvent], None]
_subscribers: list[tuple[type[DomainEvent], Subscriber]] = []


def subscribe(handler: Subscriber, *event_types: type[DomainEvent]) -> None:
    """Run ``handler(event)`` after the commit of every event of these types (all if none).

    Idempotent: ``create_app`` may run more than once in a process (tests).
    """
    for event_type in event_types or (DomainEvent,):
        if (event_type, handler) not in _subscribers:
            _subscribers.append((event_type, handler))


def deliver(event: DomainEvent) -> None:
    """Run the subscribers of ``event`` now; each failure is logged and swallowed."""
    for event_type, handler in list(_subscribers):
        if isinstance(event, event_type):
            try:
                handler(event)
            except Exception:  # noqa: BLE001
                log.exception("event subscriber failed", extra={
                    "event": type(event).__name__, "establishment_id": str(event.establishment_id)})


def emit(event: DomainEvent) -> None:
    """Deliver ``event`` once the current transaction commits (dropped on rollback)."""
    after_commit(lambda: deliver(event))


def after_commit(callback: Callable[[], None]) -> None:
    """Run ``callback`` once the current transaction commits (dropped on rollback)."""
    db.session().info.setdefault(_PENDING, []).append(callback)


@sa_event.listens_for(Session, "after_commit")
def _run_after_commit(session: Session) -> None:
    for callback in session.info.pop(_PENDING, []):
        try:
            callback()
        except Exception:  # noqa: BLE001
            log.exception("after-commit side effect failed")


@sa_event.listens_for(Session, "after_rollback")
def _drop_after_rollback(session: Session) -> None:
    session.info.pop(_PENDING, None)
