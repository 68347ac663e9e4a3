"""Every model, imported once so metadata (Alembic, tests) sees them all."""
from kiosk.audit.models import AuditEvent
from kiosk.auth.models import User
from kiosk.base import TenantMixin
from kiosk.devices.models import Device, DeviceClaim
from kiosk.display.models import Display
from kiosk.establishments.models import Establishment
from kiosk.payments.models import CashCollection, Transaction
from kiosk.queues.models import Queue, Ticket, TicketSequence

TENANT_MODELS = [cls for cls in (User, AuditEvent, Device, DeviceClaim, Display, Transaction, CashCollection, Queue,
                                   Ticket, TicketSequence)
                 if issubclass(cls, TenantMixin)]

__all__ = ["AuditEvent", "Establishment", "User", "Device", "DeviceClaim", "Display", "Transaction", "CashCollection",
           "Queue", "Ticket", "TicketSequence", "TENANT_MODELS"]
