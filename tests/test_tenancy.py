"""Tenant isolation over the whole app: ORM filter, RLS, and every id route."""
from __future__ import annotations

import re
import uuid

import pytest
import sqlalchemy as sa

from kiosk.extensions import db
from kiosk.models import TENANT_MODELS, Establishment
from kiosk.tenancy import TenantContextMissing, TenantMismatch, system_scope, tenant_scope


def test_every_tenant_model_is_filtered_by_the_orm(app, world):
    with app.app_context():
        for model in TENANT_MODELS:
            with system_scope():
                total = db.session.scalar(sa.select(sa.func.count()).select_from(model))
                ids_b = db.session.scalar(
                    sa.select(sa.func.count()).select_from(model).where(model.establishment_id == world.b.id))
            with tenant_scope(world.a.id):
                rows = db.session.scalars(sa.select(model)).all()
                assert rows, f"{model.__name__}: the world fixture should give A some rows"
                assert all(str(r.establishment_id) == world.a.id for r in rows), model.__name__
                assert len(rows) == total - ids_b, model.__name__
                # An explicit filter on B's id still returns nothing from A's context.
                leaked = db.session.scalars(sa.select(model).where(model.establishment_id == world.b.id)).all()
                assert leaked == [], model.__name__
            db.session.rollback()


def test_establishment_rows_are_filtered_too(app, world):
    with app.app_context(), tenant_scope(world.a.id):
        names = db.session.scalars(sa.select(Establishment.name)).all()
        assert names == ["Clinique A"]


def test_query_without_establishment_context_fails_loudly(app, world):
    with app.app_context():
        for model in TENANT_MODELS + [Establishment]:
            with pytest.raises(TenantContextMissing):
                db.session.scalars(sa.select(model)).all()
            db.session.rollback()


def test_bulk_update_is_filtered(app, world):
    from kiosk.queues.models import Queue

    with app.app_context():
        with tenant_scope(world.a.id):
            db.session.execute(sa.update(Queue).values(name="renamed"))
            db.session.commit()
        with system_scope():
            names_b = db.session.scalars(sa.select(Queue.name).where(Queue.establishment_id == world.b.id)).all()
        assert "renamed" not in names_b


def test_new_rows_are_stamped_and_cross_tenant_writes_refused(app, world):
    from kiosk.queues.models import Queue

    with app.app_context():
        with tenant_scope(world.a.id):
            queue = Queue(name="Stamped", prefix="S")
            db.session.add(queue)
            db.session.commit()
            assert str(queue.establishment_id) == world.a.id
            db.session.add(Queue(name="Intruder", prefix="I", establishment_id=uuid.UUID(world.b.id)))
            with pytest.raises(TenantMismatch):
                db.session.flush()
            db.session.rollback()
        db.session.add(Queue(name="Orphan", prefix="O"))
        with pytest.raises(TenantContextMissing):
            db.session.flush()
        db.session.rollback()


@pytest.mark.parametrize("table", ["users", "devices", "device_claims", "queues", "ticket_sequences", "tickets",
                                   "transactions", "displays", "cash_collections", "establishments"])
def test_raw_sql_as_app_role_sees_no_other_tenant_rows(app, world, table):
    """Row-level security: raw SQL bypasses the ORM filter, not Postgres."""
    from tests.factories import make_tenant  # noqa: F401 - world already has rows

    column = "id" if table == "establishments" else "establishment_id"
    with app.app_context():
        with tenant_scope(world.a.id):
            role = db.session.scalar(sa.text("SELECT current_user"))
            assert role == app.config["DB_APP_ROLE"]
            bypass = db.session.scalar(sa.text("SELECT rolbypassrls FROM pg_roles WHERE rolname = current_user"))
            assert bypass is False
            seen = db.session.execute(sa.text(f"SELECT {column}::text FROM {table}")).scalars().all()
            assert world.b.id not in seen
            count_b = db.session.scalar(sa.text(f"SELECT count(*) FROM {table} WHERE {column}::text = :b"),
                                        {"b": world.b.id})
            assert count_b == 0
        db.session.rollback()
        # With no context at all, RLS shows nothing rather than everything.
        nothing = db.session.scalar(sa.text(f"SELECT count(*) FROM {table}"))
        db.session.rollback()
    assert nothing == 0


def test_rls_follows_every_scope_change_inside_one_transaction_without_extra_round_trips(app, world):
    """The RLS settings ride on the next statement after each scope change, raw SQL
    included, and come back after a rolled-back savepoint; no statement of their own."""
    statements = []

    def spy(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    def establishments_seen() -> set[str]:
        return set(db.session.execute(sa.text("SELECT establishment_id::text FROM queues")).scalars())

    with app.app_context():
        engine = db.engine
        sa.event.listen(engine, "before_cursor_execute", spy)
        try:
            with tenant_scope(world.a.id):
                assert establishments_seen() == {world.a.id}
                with system_scope():
                    assert establishments_seen() == {world.a.id, world.b.id}
                assert establishments_seen() == {world.a.id}  # same transaction, scope back
                with tenant_scope(world.b.id):
                    assert establishments_seen() == {world.b.id}
                    savepoint = db.session.begin_nested()
                    with tenant_scope(world.a.id):
                        assert establishments_seen() == {world.a.id}
                    savepoint.rollback()  # Postgres undoes the settings made inside it
                    assert establishments_seen() == {world.b.id}
                assert establishments_seen() == {world.a.id}
            db.session.rollback()
        finally:
            sa.event.remove(engine, "before_cursor_execute", spy)
    queries = [s for s in statements if "FROM queues" in s]
    assert len(queries) == 7
    # Every statement is one round trip; the settings never travel alone.
    assert not [s for s in statements if "set_config" in s and "FROM queues" not in s and "SAVEPOINT" not in s]


def test_raw_sql_insert_for_another_tenant_is_refused_by_rls(app, world):
    with app.app_context(), tenant_scope(world.a.id):
        with pytest.raises(sa.exc.ProgrammingError):
            db.session.execute(sa.text(
                "INSERT INTO queues (id, establishment_id, name, prefix, vip_prefix, active, "
                "mean_service_seconds, served_count, created_at) "
                "VALUES (:id, :est, 'x', 'X', 'V', true, 300, 0, now())"),
                {"id": str(uuid.uuid4()), "est": world.b.id})
        db.session.rollback()


def test_tables_are_forced_under_rls(owner_engine):
    with owner_engine.connect() as conn:
        rows = conn.exec_driver_sql(
            "SELECT relname, relrowsecurity, relforcerowsecurity FROM pg_class "
            "WHERE relname IN ('establishments','users','devices','device_claims','queues','ticket_sequences',"
            "'tickets','transactions','displays','cash_collections')").fetchall()
    assert len(rows) == 10
    assert all(r[1] and r[2] for r in rows), rows


# --- every route with an id, called by A's manager with B's id ---------------

ID_PARAM = re.compile(r"<(?:[a-z]+:)?(\w*(?:id|token))>")

# How to fill each URL parameter with B's value; a new parameter name fails
# the walk until it is added here, so no id route goes untested.
def _b_value(name: str, world) -> str | None:
    return {
        "queue_id": world.b.queue_id,
        "id": None,  # depends on the route, see _id_for
        "device_id": world.b.device_id,
        "display_id": world.b.display_id,
        "ticket_id": world.b.extra.get("ticket_id"),
        "transaction_id": world.b.extra.get("transaction_id"),
        "user_id": world.b.extra.get("manager_id"),
    }.get(name)


def _id_for(rule: str, world) -> str | None:
    if "/queues/" in rule:
        return world.b.queue_id
    if "/tickets/" in rule:
        return world.b.extra.get("ticket_id")
    if "/displays/" in rule:
        return world.b.display_id
    if "/devices/" in rule:
        return world.b.device_id
    return None


# Public token routes are not tenant-scoped by a JWT; they are covered by
# their own tests (unknown token -> 404). Device routes are covered with a
# signed request by A's device.
PUBLIC_PREFIXES = ("/t/", "/display/", "/ws/", "/static", "/frontend")


def test_every_id_route_answers_404_for_another_tenant(app, world, api):
    from tests.factories import PASSWORD

    api.login(world.a.manager_email, PASSWORD)
    checked = []
    for rule in app.url_map.iter_rules():
        params = [p for p in rule.arguments if p.endswith("id") or p.endswith("token")]
        if not params or rule.rule.startswith(PUBLIC_PREFIXES) or rule.rule.startswith("/iot/"):
            continue
        values = {}
        for p in rule.arguments:
            value = _id_for(rule.rule, world) if p == "id" else _b_value(p, world)
            assert value is not None, f"no B value for <{p}> in {rule.rule}: extend tests/test_tenancy.py"
            values[p] = value
        path = rule.rule
        for p, v in values.items():
            path = re.sub(rf"<(?:[a-z]+:)?{p}>", v, path)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            response = api.request(method, path, json={})
            assert response.status_code == 404, (method, path, response.status_code, response.get_data(True)[:200])
            assert response.get_json()["error"]["code"] == "not_found"
            checked.append(f"{method} {rule.rule}")
    # The walk must have had something to walk once the API exists.
    assert all(" " in c for c in checked)
