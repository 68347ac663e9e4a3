"""Row-level security on every tenant table (Postgres only).

Revision ID: 0002
Revises: 0001
"""
from alembic import op

from kiosk.tenancy import create_app_role_sql, enable_rls_sql

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

TENANT_TABLES = ["users", "devices", "device_claims", "queues", "ticket_sequences", "tickets",
                 "transactions", "displays"]


def upgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    for statement in create_app_role_sql():
        op.execute(statement)
    for statement in enable_rls_sql("establishments", column="id"):
        op.execute(statement)
    for table in TENANT_TABLES:
        for statement in enable_rls_sql(table):
            op.execute(statement)


def downgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in TENANT_TABLES + ["establishments"]:
        op.execute(f"DROP POLICY IF EXISTS tenant_isolation ON {table}")
        op.execute(f"ALTER TABLE {table} NO FORCE ROW LEVEL SECURITY")
        op.execute(f"ALTER TABLE {table} DISABLE ROW LEVEL SECURITY")
