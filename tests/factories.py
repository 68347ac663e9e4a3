"""Data factories, in one place. Call inside an app context."""
from __future__ import annotations

import itertools
from dataclasses import dataclass, field

from kiosk.auth import services as auth_services
from kiosk.establishments.services import create_establishment
from kiosk.devices.services import register_device
from kiosk.display.services import create_display
from kiosk.queues.services import create_queue, issue_ticket
from kiosk.tenancy import tenant_scope

PASSWORD = "correct horse battery"
_counter = itertools.count(1)


@dataclass
class Tenant:
    """Everything one establishment has, with plain values (no live ORM rows)."""

    id: str
    name: str
    manager_email: str
    agent_email: str
    queue_id: str
    other_queue_id: str
    device_id: str
    device_secret: str
    display_id: str
    display_token: str
    extra: dict = field(default_factory=dict)


def make_establishment(name: str | None = None, timezone: str = "Africa/Abidjan", currency: str = "XOF",
                       vip_price: int = 500, locale: str = "fr"):
    n = next(_counter)
    return create_establishment(name or f"Establishment {n}", timezone, currency, vip_price,
                                              locale)


def make_user(establishment_id, role: str = "manager", email: str | None = None):
    email = email or f"{role}{next(_counter)}@example.test"
    return auth_services.create_user(establishment_id, email, PASSWORD, role)


def make_tenant(name: str | None = None, **establishment_kwargs) -> Tenant:
    establishment = make_establishment(name, **establishment_kwargs)
    manager = make_user(establishment.id, "manager")
    agent = make_user(establishment.id, "agent")
    with tenant_scope(establishment.id):
        queue = create_queue("General", "A")
        other = create_queue("Pharmacy", "P")
        device, secret = register_device("Entrance kiosk", queue.id)
        display = create_display("Waiting room")
        ticket = issue_ticket(queue)
        _add_claim_and_payment(device.device_id, queue.id)
        return Tenant(id=str(establishment.id), name=establishment.name, manager_email=manager.email,
                      agent_email=agent.email, queue_id=str(queue.id), other_queue_id=str(other.id),
                      device_id=device.device_id, device_secret=secret, display_id=str(display.id),
                      display_token=display.token, extra={"ticket_id": str(ticket.id), "manager_id": str(manager.id)})


def _add_claim_and_payment(device_id: str, queue_id) -> None:
    """Rows of every tenant model, so isolation tests have something to leak."""
    import hashlib
    import uuid
    from datetime import datetime, timedelta, timezone

    from kiosk.devices.models import DeviceClaim
    from kiosk.extensions import db
    from kiosk.payments.models import Transaction

    db.session.add(DeviceClaim(code_hash=hashlib.sha256(uuid.uuid4().bytes).hexdigest(), label="spare",
                               queue_id=queue_id, expires_at=datetime.now(timezone.utc) + timedelta(minutes=15)))
    db.session.add(Transaction(transaction_id=uuid.uuid4(), device_id=device_id, amount=100, currency="XOF",
                               status="FAILED", failure_reason="amount_below_vip_price", payload_hash="0" * 64))
    db.session.commit()
    # The box is emptied once (and found exact), so every tenant has a cash collection; it starts empty.
    from kiosk.payments.cash import collect

    collect(device_id, 100)


@dataclass
class World:
    a: Tenant
    b: Tenant


def build_world() -> World:
    return World(a=make_tenant("Clinique A"), b=make_tenant("Banque B"))
