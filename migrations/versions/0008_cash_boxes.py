"""Cash boxes: collections, the payment each one counted, the highlight threshold.

Revision ID: 0008_cash_boxes
Revises: 0007_staff_audit

- ``cash_collections``: one emptying of a kiosk's coin box (tenant table,
  row-level security like 0002, SQL inlined: migrations import no app code);
- ``transactions.collection_id``: the collection that counted a payment,
  NULL while its coins are in the box, with a partial index on the open box;
- ``establishments.cash_difference_threshold``: differences beyond it are
  highlighted on the kiosks page (minor units, 0 = any difference).
"""
from alembic import op
import sqlalchemy as sa

revision = "0008_cash_boxes"
down_revision = "0007_staff_audit"
branch_labels = None
depends_on = None

APP_ROLE = "kiosk_app"
OPEN_BOX = sa.text("collection_id IS NULL")
RLS_PREDICATE = ("current_setting('app.system', true) = 'on' "
                 "OR establishment_id::text = current_setting('app.establishment_id', true)")


def upgrade():
    op.create_table(
        "cash_collections",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("device_id", sa.String(length=40), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("collected_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("since", sa.DateTime(timezone=True), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("expected", sa.BigInteger(), nullable=False),
        sa.Column("counted", sa.BigInteger(), nullable=False),
        sa.Column("difference", sa.BigInteger(), nullable=False),
        sa.Column("payments", sa.Integer(), nullable=False),
        sa.Column("collected_by", sa.Uuid(), nullable=True),
        sa.Column("establishment_id", sa.Uuid(), nullable=False),
        sa.CheckConstraint("counted >= 0", name="ck_cash_collections_counted"),
        sa.ForeignKeyConstraint(["device_id"], ["devices.device_id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["collected_by"], ["users.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["establishment_id"], ["establishments.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("device_id", "number", name="uq_cash_collections_device_number"),
    )
    op.create_index("ix_cash_collections_establishment_id", "cash_collections", ["establishment_id"])
    op.create_index("ix_cash_collections_collected", "cash_collections", ["establishment_id", "collected_at"])
    op.add_column("transactions", sa.Column("collection_id", sa.Uuid(), nullable=True))
    op.create_index("ix_transactions_open_box", "transactions", ["device_id", "created_at"],
                    postgresql_where=OPEN_BOX, sqlite_where=OPEN_BOX)
    op.add_column("establishments", sa.Column("cash_difference_threshold", sa.BigInteger(), nullable=False,
                                              server_default="0"))
    if op.get_bind().dialect.name == "postgresql":
        # The app role exists since 0002.
        op.execute("ALTER TABLE cash_collections ENABLE ROW LEVEL SECURITY")
        op.execute("ALTER TABLE cash_collections FORCE ROW LEVEL SECURITY")
        op.execute("DROP POLICY IF EXISTS tenant_isolation ON cash_collections")
        op.execute(f"CREATE POLICY tenant_isolation ON cash_collections USING ({RLS_PREDICATE}) "
                   f"WITH CHECK ({RLS_PREDICATE})")
        op.execute(f'GRANT SELECT, INSERT, UPDATE, DELETE ON cash_collections TO "{APP_ROLE}"')


def downgrade():
    with op.batch_alter_table("establishments") as batch:
        batch.drop_column("cash_difference_threshold")
    op.drop_index("ix_transactions_open_box", table_name="transactions")
    with op.batch_alter_table("transactions") as batch:
        batch.drop_column("collection_id")
    op.drop_index("ix_cash_collections_collected", table_name="cash_collections")
    op.drop_index("ix_cash_collections_establishment_id", table_name="cash_collections")
    op.drop_table("cash_collections")
