"""The current establishment, the automatic ORM filter and RLS session setup.

Three layers keep one establishment's rows away from another's:

1. Every ORM SELECT/UPDATE/DELETE touching a tenant model gets
   ``establishment_id = <current>`` added by a ``do_orm_execute`` hook
   (``with_loader_criteria``). With no current establishment the hook raises
   ``TenantContextMissing``: a forgotten context fails loudly, it never reads
   across tenants.
2. New tenant rows are stamped with the current establishment on flush, and a
   row for another establishment is refused.
3. On Postgres, row-level security (see the initial migration) filters every
   statement, raw SQL included, on ``app.establishment_id``, set per
   transaction with ``set_config(..., true)``. The app connects, then
   ``SET ROLE``s to a role that does not own the tables and has no BYPASSRLS.

A few lookups must cross tenants by design: login by email, a device by its
public id, a ticket by its tracking token, the payment sweeper. They run
inside ``system_scope()``, which is explicit and greppable.
"""
from __future__ import annotations

import uuid
from contextlib import contextmanager
from contextvars import ContextVar
from functools import lru_cache
from typing import Iterator, TypeVar

import sqlalchemy as sa
from flask import Flask
from sqlalchemy import event
from sqlalchemy.orm import Session, with_loader_criteria
from sqlalchemy.sql.util import find_tables

from kiosk.base import TenantMixin, TenantRoot, as_uuid
from kiosk.errors import NotFound
from kiosk.extensions import db

_current: ContextVar[uuid.UUID | None] = ContextVar("kiosk_establishment", default=None)
_system: ContextVar[bool] = ContextVar("kiosk_system_scope", default=False)

T = TypeVar("T")


class TenantContextMissing(RuntimeError):
    """A tenant table was queried with no establishment in context."""


class TenantMismatch(RuntimeError):
    """A row for another establishment was about to be written."""


def current_establishment_id() -> uuid.UUID | None:
    return _current.get()


def require_establishment_id() -> uuid.UUID:
    tid = _current.get()
    if tid is None:
        raise TenantContextMissing("no establishment in context")
    return tid


def set_current_establishment(establishment_id) -> object:
    """Set the tenant for the rest of this context; returns a reset token."""
    return _current.set(as_uuid(establishment_id))


def reset_current_establishment(token) -> None:
    _current.reset(token)


@contextmanager
def tenant_scope(establishment_id) -> Iterator[uuid.UUID]:
    token = _current.set(as_uuid(establishment_id))
    try:
        yield _current.get()
    finally:
        _current.reset(token)


@contextmanager
def system_scope() -> Iterator[None]:
    """Cross-tenant access, for the few lookups that need it by design."""
    token = _system.set(True)
    try:
        yield
    finally:
        _system.reset(token)


def in_system_scope() -> bool:
    return _system.get()


@lru_cache(maxsize=1)
def _tenant_tables() -> dict[str, str]:
    """{table name: the column naming its establishment} for every tenant table (TenantMixin and TenantRoot)."""
    tables = {}
    for mapper in db.Model.registry.mappers:
        if issubclass(mapper.class_, TenantRoot):
            tables[mapper.local_table.name] = "id"
        elif issubclass(mapper.class_, TenantMixin):
            tables[mapper.local_table.name] = "establishment_id"
    return tables


def _tenant_entity(state) -> bool:
    return any(issubclass(mapper.class_, (TenantMixin, TenantRoot)) for mapper in state.all_mappers)


def _tenant_table_in(statement) -> bool:
    """Whether a tenant table appears anywhere in the statement, mapped entity or not.

    The entities among its columns are not enough: ``select(func.count())
    .select_from(Ticket)`` has none, and neither has a subquery in a WHERE. So
    every table of the statement is looked at: its columns, FROM list, joins,
    subqueries and the target of an UPDATE/DELETE.
    """
    tenant = _tenant_tables()
    tables = find_tables(statement, include_aliases=True, include_crud=True, check_columns=True)
    return any(getattr(table, "name", None) in tenant for table in tables)


def _filter_tenant_rows(state) -> None:
    if state.is_column_load or not (state.is_select or state.is_update or state.is_delete):
        return
    if _system.get():
        return
    # The common case, cheap: a tenant entity among the columns. Otherwise the
    # statement is searched (its FROM list, subqueries), which costs a walk of it.
    by_entity = _tenant_entity(state)
    if not by_entity and not _tenant_table_in(state.statement):
        return
    tid = _current.get()
    if tid is None:
        raise TenantContextMissing(
            "query on a tenant table with no establishment in context; "
            "set one with tenant_scope() or, if crossing tenants is intended, system_scope()"
        )
    # with_loader_criteria reaches every mapped entity of the statement, those
    # only in its FROM list or in a subquery included. A bare Table (Core) is
    # not an entity: its FROM entries get the same condition explicitly.
    statement = state.statement if by_entity else _filter_core_tables(state.statement, tid)
    state.statement = statement.options(
        with_loader_criteria(TenantMixin, lambda cls: cls.establishment_id == tid, include_aliases=True),
        with_loader_criteria(TenantRoot, lambda cls: cls.id == tid, include_aliases=True),
    )


def _from_entries(from_clause, nullable: bool = False) -> list:
    """The tables and aliases of a FROM entry; those on the optional side of an outer join are left out
    (a WHERE on them would turn the outer join into an inner one)."""
    if isinstance(from_clause, sa.Join):
        return (_from_entries(from_clause.left, nullable or from_clause.full)
                + _from_entries(from_clause.right, nullable or from_clause.isouter))
    return [] if nullable else [from_clause]


def _tenant_column(from_clause):
    """The column naming the establishment in a Core FROM entry (a table or an alias of one), or None.

    An ORM entity's table is left to the loader criteria, which put it in the right place (an outer join's ON).
    """
    if "parententity" in getattr(from_clause, "_annotations", {}):
        return None
    table = getattr(from_clause, "element", from_clause)
    column = _tenant_tables().get(getattr(table, "name", None)) if isinstance(table, sa.Table) else None
    return from_clause.c[column] if column else None


def _filter_core_tables(statement, tid):
    """Add ``establishment = tid`` for each Core tenant table among the FROM entries (or the UPDATE/DELETE target).

    A Core table inside a subquery is left to row-level security (Postgres).
    """
    if isinstance(statement, sa.Select):
        entries = [entry for from_clause in statement.get_final_froms() for entry in _from_entries(from_clause)]
    elif isinstance(statement, (sa.Update, sa.Delete)):
        entries = [statement.table]
    else:
        return statement
    for entry in entries:
        column = _tenant_column(entry)
        if column is not None:
            statement = statement.where(column == tid)
    return statement


def _stamp_new_rows(session: Session, flush_context, instances) -> None:
    tid = _current.get()
    for obj in session.new:
        if not isinstance(obj, TenantMixin):
            continue
        if obj.establishment_id is None:
            if tid is None:
                raise TenantContextMissing(f"new {type(obj).__name__} with no establishment in context")
            obj.establishment_id = tid
        elif tid is not None and obj.establishment_id != tid and not _system.get():
            raise TenantMismatch(f"{type(obj).__name__} for another establishment")


# --- Postgres row-level security -------------------------------------------
#
# ``app.establishment_id`` and ``app.system`` must match the scope of every
# statement. They are set lazily, at the engine's lowest level: before a
# statement runs, if the scope differs from what this transaction last set,
# the ``set_config`` calls are prepended to the statement itself (psycopg2
# sends both in one round trip and returns the last result). Every statement
# is covered, raw SQL included, and a request pays no round trip for it:
# setting it on each transaction begin and scope change used to cost three
# round trips per signed request, each one a wait on a busy gevent worker.

_RLS_INFO = "kiosk_rls_settings"


def _rls_settings() -> dict:
    tid = _current.get()
    return {"tid": str(tid) if tid else "", "system": "on" if _system.get() else "off"}


def _set_config_sql(settings: dict) -> str:
    # Inlined, not bound: the statement that follows brings its own parameters.
    # Both values are generated here (a UUID's text, "on"/"off"), never user text.
    return (f"SELECT set_config('app.establishment_id', '{settings['tid']}', true), "
            f"set_config('app.system', '{settings['system']}', true); ")


# A setting made just before ROLLBACK TO SAVEPOINT would be undone by it; the
# statement after it sets them again (the rollback_savepoint event forgets them).
_SAVEPOINT_STATEMENTS = ("SAVEPOINT", "ROLLBACK TO SAVEPOINT", "RELEASE SAVEPOINT")


def _rls_before_execute(conn, cursor, statement, parameters, context, executemany):  # noqa: ANN001
    if statement.lstrip()[:21].upper().startswith(_SAVEPOINT_STATEMENTS):
        return statement, parameters
    settings = _rls_settings()
    if conn.info.get(_RLS_INFO) == settings:
        return statement, parameters
    conn.info[_RLS_INFO] = settings
    if executemany:
        cursor.execute(_set_config_sql(settings))
        return statement, parameters
    return _set_config_sql(settings) + statement, parameters


def _forget_rls_settings(conn, *args) -> None:  # noqa: ANN001
    # set_config(..., true) lasts until the transaction (or savepoint) ends.
    conn.info.pop(_RLS_INFO, None)


def _install_rls(engine) -> None:
    if event.contains(engine, "before_cursor_execute", _rls_before_execute):
        return
    event.listen(engine, "before_cursor_execute", _rls_before_execute, retval=True)
    for name in ("begin", "commit", "rollback", "rollback_savepoint"):
        event.listen(engine, name, _forget_rls_settings)


def init_tenancy(app: Flask) -> None:
    if not event.contains(Session, "do_orm_execute", _filter_tenant_rows):
        event.listen(Session, "do_orm_execute", _filter_tenant_rows)
        event.listen(Session, "before_flush", _stamp_new_rows)
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql"):
        role = app.config["DB_APP_ROLE"]
        with app.app_context():
            engine = db.engine
            _install_rls(engine)

            @event.listens_for(engine, "connect")
            def _drop_privileges(dbapi_connection, connection_record):  # noqa: ANN001
                # The login role may own the tables (it runs migrations); the
                # app itself runs as a role RLS applies to.
                if app.config.get("DB_SKIP_APP_ROLE"):
                    return
                cursor = dbapi_connection.cursor()
                try:
                    cursor.execute(f'SET ROLE "{role}"')
                finally:
                    cursor.close()
                dbapi_connection.commit()

    @app.teardown_request
    def _forget_tenant(exc=None) -> None:
        _current.set(None)
        _system.set(False)


def get_or_404(model: type[T], ident, *, column=None) -> T:
    """Load one row of the current tenant by id, or raise the contract's 404.

    Malformed ids are 404 too: an id either names one of your rows or nothing.
    """
    column = column if column is not None else sa.inspect(model).primary_key[0]
    if isinstance(column.type, sa.Uuid):
        try:
            ident = uuid.UUID(str(ident))
        except (ValueError, TypeError, AttributeError):
            raise NotFound() from None
    row = db.session.execute(sa.select(model).where(column == ident)).scalar_one_or_none()
    if row is None:
        raise NotFound()
    return row
