"""Staff accounts (users.active, users.token_version) and the append-only audit trail.

Revision ID: 0007_staff_audit
Revises: 0005_stats_indexes

Self-contained on purpose (no application imports): the RLS statements are
the same as migration 0002's, written out.
"""
from alembic import op
import sqlalchemy as sa

revision = "0007_staff_audit"
down_revision = "0005_stats_indexes"
branch_labels = None
depends_on = None

APP_ROLE = "kiosk_app"
PREDICATE = ("current_setting('app.system', true) = 'on' "
             "OR establishment_id::text = current_setting('app.establishment_id', true)")


def upgrade():
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("active", sa.Boolean(), server_default=sa.true(), nullable=False))
        batch_op.add_column(sa.Column("token_version", sa.Integer(), server_default="0", nullable=False))

    op.create_table(
        "audit_events",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor_id", sa.Uuid(), nullable=True),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("target_type", sa.String(length=32), nullable=False),
        sa.Column("target_id", sa.String(length=64), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("establishment_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(["establishment_id"], ["establishments.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_audit_events_establishment_id"), ["establishment_id"], unique=False)
        batch_op.create_index("ix_audit_events_establishment_time", ["establishment_id", "occurred_at"],
                              unique=False)

    if op.get_bind().dialect.name != "postgresql":
        return
    for statement in (
        "ALTER TABLE audit_events ENABLE ROW LEVEL SECURITY",
        "ALTER TABLE audit_events FORCE ROW LEVEL SECURITY",
        f"CREATE POLICY tenant_isolation ON audit_events USING ({PREDICATE}) WITH CHECK ({PREDICATE})",
        # Append-only for the app: it may read and add, never change or remove.
        f'GRANT SELECT, INSERT ON audit_events TO "{APP_ROLE}"',
        f'REVOKE UPDATE, DELETE, TRUNCATE ON audit_events FROM "{APP_ROLE}"',
        # ...and for every other role too, the owner included: a trigger, since
        # privileges do not bind the table's owner.
        """CREATE OR REPLACE FUNCTION audit_events_append_only() RETURNS trigger
           LANGUAGE plpgsql AS $$
           BEGIN
             RAISE EXCEPTION 'audit_events is append-only (% refused)', TG_OP
               USING ERRCODE = 'insufficient_privilege';
           END $$""",
        """CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE ON audit_events
           FOR EACH ROW EXECUTE FUNCTION audit_events_append_only()""",
    ):
        op.execute(statement)


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS audit_events_append_only ON audit_events")
        op.execute("DROP FUNCTION IF EXISTS audit_events_append_only()")
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_events_establishment_time")
        batch_op.drop_index(batch_op.f("ix_audit_events_establishment_id"))
    op.drop_table("audit_events")
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("token_version")
        batch_op.drop_column("active")
