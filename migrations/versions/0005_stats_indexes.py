"""Partial covering indexes for the stats queries (SQLite and Postgres).

Revision ID: 0005_stats_indexes
Revises: 0002

Revenue reads CONFIRMED transactions of one establishment over a UTC range
and needs (created_at, amount); the VIP count reads VIP tickets of one
establishment over a UTC range. With these, each is an index-only range
scan (see docs/performance.md, "Stats").
"""
from alembic import op
import sqlalchemy as sa

revision = "0005_stats_indexes"
down_revision = "0002"
branch_labels = None
depends_on = None

CONFIRMED = sa.text("status = 'CONFIRMED'")
VIP = sa.text("kind = 'VIP'")


def upgrade():
    op.create_index("ix_transactions_confirmed_stats", "transactions", ["establishment_id", "created_at", "amount"],
                    postgresql_where=CONFIRMED, sqlite_where=CONFIRMED)
    op.create_index("ix_tickets_vip_stats", "tickets", ["establishment_id", "created_at"],
                    postgresql_where=VIP, sqlite_where=VIP)


def downgrade():
    op.drop_index("ix_tickets_vip_stats", table_name="tickets")
    op.drop_index("ix_transactions_confirmed_stats", table_name="transactions")
