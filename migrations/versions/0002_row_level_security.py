"""Row-level security on every tenant table (Postgres only).

Revision ID: 0002
Revises: 0001
"""
from alembic import op


revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

# Frozen here: a migration must not change when application code does.

def enable_rls_sql(table: str, column: str = "establishment_id", app_role: str = "kiosk_app") -> list[str]:
    """Statements that put one table under row-level security (Postgres)."""
    predicate = (f"current_setting('app.system', true) = 'on' "
                 f"OR {column}::text = current_setting('app.establishment_id', true)")
    return [
        f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY",
        f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY",
        f"DROP POLICY IF EXISTS tenant_isolation ON {table}",
        f"CREATE POLICY tenant_isolation ON {table} USING ({predicate}) WITH CHECK ({predicate})",
        f'GRANT SELECT, INSERT, UPDATE, DELETE ON {table} TO "{app_role}"',
    ]


def create_app_role_sql(app_role: str = "kiosk_app") -> list[str]:
    # Roles are cluster-wide; tolerate a concurrent creation by another database.
    return [
        f"""DO $$ BEGIN
              IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{app_role}') THEN
                CREATE ROLE "{app_role}" NOLOGIN NOBYPASSRLS;
              END IF;
            EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
            END $$""",
        f'GRANT "{app_role}" TO CURRENT_USER',
        f'GRANT USAGE ON SCHEMA public TO "{app_role}"',
    ]


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
