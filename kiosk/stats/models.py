"""Indexes the stats queries rely on (declared here so the metadata matches
migration 0005; the tables themselves belong to payments and queues).

Both are partial and hold every column their query reads, so a cold stats
query is one index-only range scan, with no heap visits:

- revenue: CONFIRMED transactions by (establishment_id, created_at), amount;
- VIP count: VIP tickets by (establishment_id, created_at).
"""
from __future__ import annotations

import sqlalchemy as sa

from kiosk.payments.models import Transaction
from kiosk.queues.models import Ticket

CONFIRMED = sa.text("status = 'CONFIRMED'")
VIP = sa.text("kind = 'VIP'")

ix_transactions_confirmed = sa.Index(
    "ix_transactions_confirmed_stats", Transaction.establishment_id, Transaction.created_at, Transaction.amount,
    postgresql_where=CONFIRMED, sqlite_where=CONFIRMED,
)
ix_tickets_vip = sa.Index(
    "ix_tickets_vip_stats", Ticket.establishment_id, Ticket.created_at,
    postgresql_where=VIP, sqlite_where=VIP,
)
