"""Every model, imported once so metadata (Alembic, tests) sees them all."""
from kiosk.audit.models import AuditEvent
from kiosk.auth.models import Establishment, User
from kiosk.devices.models import Device, DeviceClaim
from kiosk.display.models import Display
from kiosk.payments.models import Transaction
from kiosk.queues.models import Queue, Ticket, TicketSequence
from kiosk.tenancy import TenantMixin

TENANT_MODELS = [cls for cls in (User, AuditEvent, Device, DeviceClaim, Display, Transaction, Queue, Ticket, TicketSequence)
                 if issubclass(cls, TenantMixin)]

__all__ = ["AuditEvent", "Establishment", "User", "Device", "DeviceClaim", "Display", "Transaction", "Queue", "Ticket",
           "TicketSequence", "TENANT_MODELS"]
