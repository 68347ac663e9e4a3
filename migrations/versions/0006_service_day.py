"""Service days: EXPIRED tickets, refunds, codes unique per establishment and day.

Revision ID: 0006_service_day
Revises: 0008_cash_boxes (re-chained after main gained 0007 and 0008)

- ``tickets.status`` may be ``EXPIRED`` (the day closed before the ticket was served).
- ``tickets.refunded_at`` / ``refunded_by``: a paid ticket that ended unserved
  and whose money was handed back, when and by whom.
- VIP codes name their queue: ``queues.vip_prefix`` becomes ``V`` + the
  queue's prefix (``VA-007``). Tickets already issued keep their code, except
  VIP tickets that share a code with another ticket of the same establishment
  and service day (two queues that both issued ``V-001``): those take their
  queue's new VIP code, so the new unique constraint holds on old rows too.
- ``tickets.service_day`` has existed since 0001 and was always set at issue
  from the establishment's time zone: nothing to backfill.

No application import: the SQL is written here, and the renaming is done in
Python over plain rows, so it runs the same on SQLite and Postgres.
"""
from alembic import op
import sqlalchemy as sa

revision = "0006_service_day"
down_revision = "0008_cash_boxes"
branch_labels = None
depends_on = None

OLD_STATUSES = "status IN ('WAITING', 'CALLED', 'SERVED', 'NO_SHOW', 'CANCELLED')"
NEW_STATUSES = "status IN ('WAITING', 'CALLED', 'SERVED', 'NO_SHOW', 'CANCELLED', 'EXPIRED')"


def _cross_tenant(bind) -> None:
    # Row-level security is FORCEd, for the tables' owner too: this migration reads every establishment.
    if bind.dialect.name == "postgresql":
        bind.execute(sa.text("SELECT set_config('app.system', 'on', true)"))


def _rename_clashing_vip_codes(bind) -> None:
    clashes = bind.execute(sa.text(
        "SELECT t.id, t.number, t.establishment_id, t.service_day, q.vip_prefix "
        "FROM tickets t JOIN queues q ON q.id = t.queue_id "
        "WHERE t.kind = 'VIP' AND EXISTS (SELECT 1 FROM tickets o WHERE o.establishment_id = t.establishment_id "
        "AND o.service_day = t.service_day AND o.code = t.code AND o.id <> t.id) "
        "ORDER BY t.created_at, t.id")).all()
    taken = {(str(row[0]), str(row[1]), row[2]) for row in bind.execute(sa.text(
        "SELECT establishment_id, service_day, code FROM tickets"))}
    for ticket_id, number, establishment_id, service_day, vip_prefix in clashes:
        code = f"{vip_prefix}-{number:03d}"
        suffix = 1
        while (str(establishment_id), str(service_day), code) in taken:
            # Only possible for hand-made data; the suffix keeps the row valid and recognisable.
            suffix += 1
            code = f"{vip_prefix}-{number:03d}-{suffix}"
        taken.add((str(establishment_id), str(service_day), code))
        bind.execute(sa.text("UPDATE tickets SET code = :code WHERE id = :id"), {"code": code, "id": ticket_id})


def upgrade():
    bind = op.get_bind()
    _cross_tenant(bind)
    op.execute("UPDATE queues SET vip_prefix = 'V' || prefix")
    _rename_clashing_vip_codes(bind)
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.add_column(sa.Column("refunded_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("refunded_by", sa.Uuid(), nullable=True))
        batch_op.create_foreign_key("fk_tickets_refunded_by_users", "users", ["refunded_by"], ["id"],
                                    ondelete="SET NULL")
        batch_op.drop_constraint("ck_tickets_status", type_="check")
        batch_op.create_check_constraint("ck_tickets_status", NEW_STATUSES)
        batch_op.create_unique_constraint("uq_tickets_daily_code", ["establishment_id", "service_day", "code"])
        batch_op.create_index("ix_tickets_establishment_status_day", ["establishment_id", "status", "service_day"],
                              unique=False)


def downgrade():
    bind = op.get_bind()
    _cross_tenant(bind)
    # EXPIRED did not exist: those tickets were simply never served.
    op.execute("UPDATE tickets SET status = 'CANCELLED' WHERE status = 'EXPIRED'")
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.drop_index("ix_tickets_establishment_status_day")
        batch_op.drop_constraint("uq_tickets_daily_code", type_="unique")
        batch_op.drop_constraint("ck_tickets_status", type_="check")
        batch_op.create_check_constraint("ck_tickets_status", OLD_STATUSES)
        batch_op.drop_constraint("fk_tickets_refunded_by_users", type_="foreignkey")
        batch_op.drop_column("refunded_by")
        batch_op.drop_column("refunded_at")
    op.execute("UPDATE queues SET vip_prefix = 'V'")
