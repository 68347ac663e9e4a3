"""The SQL engine's per-dialect setup: the one place SQLite differs from Postgres.

The services are written once, for Postgres semantics: a read-then-write
(call-next, ticket numbering, the payment claim, claim codes, close-day,
refunds, cash collections) relies on ``SELECT ... FOR UPDATE [SKIP LOCKED]``,
conditional ``UPDATE``s and unique constraints. SQLite ignores ``FOR UPDATE``
and, in its default deferred transactions, lets two connections read the same
rows and then write one after the other: eight counters calling at once got
the same ticket. Here every SQLite transaction starts with ``BEGIN
IMMEDIATE``, which takes the database's single write lock *before the first
read*. Transactions then run one after another, so each one reads what the
previous one committed: the outcome of every race equals Postgres's, with no
code in any service (SKIP LOCKED has nothing to skip: no other writer holds a
row). A transaction that only reads takes the lock too; WAL keeps readers of
other connections going meanwhile (and ``kiosk backup`` too), and the
requests are short (docs/operations.md, "Single site", has the measured
cost). The alternative, taking the lock only in sessions flagged as writers,
would need every read-then-write site, including future ones, to remember the
flag; a forgotten one would be a silent double sale.

Other settings, on every new SQLite connection:
- WAL journal: readers do not block the writer, the writer does not block
  readers, and an online backup can copy the file while the app runs.
- busy_timeout: a transaction waits for the write lock instead of failing at
  once with "database is locked".
- foreign_keys: SQLite enforces declared foreign keys only when asked.
- synchronous stays FULL (SQLite's default): a committed payment survives a
  power cut; NORMAL would trade that for speed.

pysqlite's own transaction handling is switched off (``isolation_level =
None``) so that SQLAlchemy's begin emits our ``BEGIN IMMEDIATE`` (the
"Serializable isolation / Savepoints / Transactional DDL" recipe of the
SQLAlchemy pysqlite docs); SAVEPOINTs and transactional DDL work as on
Postgres as a side effect.
"""
from __future__ import annotations

import logging
import os

from celery.signals import task_prerun
from flask import Flask, has_app_context
from sqlalchemy import event
from sqlalchemy.engine import Engine

from kiosk.extensions import db

log = logging.getLogger(__name__)

BUSY_TIMEOUT_MS = int(os.environ.get("SQLITE_BUSY_TIMEOUT_MS", "15000"))


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


def _configure_connection(dbapi_connection, connection_record) -> None:  # noqa: ANN001
    # SQLAlchemy emits BEGIN (see _begin_immediate); pysqlite must not.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys = ON")
        # Persistent in the file; an in-memory database answers "memory".
        cursor.execute("PRAGMA journal_mode = WAL")
    finally:
        cursor.close()


def _begin_immediate(conn) -> None:  # noqa: ANN001
    conn.exec_driver_sql("BEGIN IMMEDIATE")


def _begin_deferred(conn) -> None:  # noqa: ANN001
    conn.exec_driver_sql("BEGIN")


def configure_sqlite_engine(engine: Engine, *, read_only: bool = False) -> None:
    """Install the SQLite settings on ``engine`` (idempotent). Connections made
    before this call (none, in the factory) would keep the old settings.

    ``read_only``: for an engine that never writes (an export): a plain BEGIN,
    whose first read fixes one consistent snapshot without taking the lock.
    """
    if not is_sqlite(engine) or event.contains(engine, "connect", _configure_connection):
        return
    event.listen(engine, "connect", _configure_connection)
    event.listen(engine, "begin", _begin_deferred if read_only else _begin_immediate)


def init_database(app: Flask) -> None:
    with app.app_context():
        engine = db.engine
        if is_sqlite(engine):
            engine.dispose()  # no connection may predate the settings
            configure_sqlite_engine(engine)


@task_prerun.connect
def _release_write_lock_before_inline_task(sender=None, task=None, **kwargs) -> None:  # noqa: ANN001
    """Without a broker, tasks run in the caller's thread, in a session of their
    own. On SQLite the caller's open transaction holds the write lock, and the
    task's BEGIN IMMEDIATE would wait for it forever (until busy_timeout): the
    caller's transaction is committed first. With a broker the worker could
    never see uncommitted work either, so callers enqueue after committing;
    what is committed here is at most their reads since then.
    """
    if task is None or not task.request.is_eager or not has_app_context():
        return
    session = db.session()
    if session.in_transaction() and is_sqlite(session.get_bind()):
        session.commit()
