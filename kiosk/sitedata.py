"""A site's data as a whole: backup and restore of the embedded SQLite file,
and a portable export/import (JSON Lines) to move a site to Postgres.

Nothing here knows a domain: the export walks every table of the models'
metadata in foreign-key order, so a table added by a later migration is
exported and imported with no change here (and ``export`` refuses a database
holding a table the models do not describe, rather than leave it behind).
Rows are copied as stored: ids, password hashes and device secrets encrypted
with ``DEVICE_SECRET_KEYS`` (so the target must be given the same keys).

Export format, version 1, one JSON object per line:
1. ``{"format": "kiosk-export", "version": 1, "schema": [alembic revisions],
   "exported_at", "source": dialect, "tables": [names in insert order]}``
2. ``{"table": name, "row": {column: value}}`` for every row; UUIDs as text,
   times as ISO 8601 (UTC for zone-aware columns), bytes as ``{"$base64": ...}``
3. ``{"end": true, "counts": {table: rows}, "sha256": digest of the row lines}``:
   a truncated or edited file is refused before anything is written.
"""
from __future__ import annotations

import base64
import hashlib
import json
import sqlite3
import uuid
from datetime import date, datetime, time, timezone
from decimal import Decimal
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Callable, Iterator

import sqlalchemy as sa
from alembic.config import Config as AlembicConfig
from alembic.script import ScriptDirectory
from flask import Flask

from kiosk.database import configure_sqlite_engine
from kiosk.extensions import db

FORMAT = "kiosk-export"
VERSION = 1
BATCH = 500


class SiteDataError(RuntimeError):
    """A refusal, with the message an operator needs."""


# --- schema versions ----------------------------------------------------------

def code_heads(app: Flask) -> list[str]:
    """The migration heads this release expects."""
    directory = app.extensions["migrate"].directory
    config = AlembicConfig()
    config.set_main_option("script_location", str(directory))
    return sorted(ScriptDirectory.from_config(config).get_heads())


def schema_of(connection) -> list[str]:
    """The alembic revisions a database is at ([] when it was never migrated)."""
    if not sa.inspect(connection).has_table("alembic_version"):
        return []
    return sorted(r[0] for r in connection.exec_driver_sql("SELECT version_num FROM alembic_version"))


def _sqlite_schema(path: Path) -> list[str]:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        if conn.execute("PRAGMA quick_check").fetchone()[0] != "ok":
            raise SiteDataError(f"{path} is damaged (SQLite quick_check failed)")
        if not conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'alembic_version'").fetchone():
            return []
        return sorted(r[0] for r in conn.execute("SELECT version_num FROM alembic_version"))
    except sqlite3.DatabaseError as exc:
        raise SiteDataError(f"{path} is not a SQLite database ({exc})") from None
    finally:
        conn.close()


# --- backup and restore (embedded SQLite) ---------------------------------------

def sqlite_path(app: Flask) -> Path:
    url = sa.engine.make_url(app.config["SQLALCHEMY_DATABASE_URI"])
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        raise SiteDataError(
            "backup and restore work on the embedded SQLite database. This site runs on "
            f"{url.get_backend_name()}: back it up with pg_dump, for example "
            "pg_dump --format=custom --file=kiosk-$(date +%F).dump \"$DATABASE_URL\" "
            "(and pg_restore to restore), or use flask --app wsgi export for a portable copy."
        )
    return Path(url.database).resolve()


def _copy(source: sqlite3.Connection, target_path: Path) -> None:
    target = sqlite3.connect(target_path)
    try:
        # One step: the whole copy reads one snapshot (WAL lets writers go on).
        source.backup(target)
        # A self-contained file, with no -wal beside it.
        target.execute("PRAGMA journal_mode = DELETE")
    finally:
        target.close()


def backup(app: Flask, destination: str | Path) -> dict:
    """A consistent copy of the live SQLite database at ``destination`` (written
    beside it, then renamed: a failed backup never leaves half a file)."""
    source_path = sqlite_path(app)
    destination = Path(destination).resolve()
    if destination == source_path:
        raise SiteDataError("the backup must not overwrite the database itself")
    destination.parent.mkdir(parents=True, exist_ok=True)
    partial = destination.with_name(destination.name + ".partial")
    partial.unlink(missing_ok=True)
    source = sqlite3.connect(f"file:{source_path}?mode=ro", uri=True, timeout=30)
    try:
        _copy(source, partial)
    finally:
        source.close()
    schema = _sqlite_schema(partial)
    partial.replace(destination)
    return {"backup": str(destination), "bytes": destination.stat().st_size, "schema": schema}


def restore(app: Flask, source: str | Path, *, site_running: Callable[[], bool]) -> dict:
    """Replace the SQLite database with the backup at ``source``.

    Checks everything before it changes anything: the file is an intact SQLite
    database at the schema this release expects, and no process serves the
    site. The current database is kept beside it first (``.before-restore-…``).
    """
    target_path = sqlite_path(app)
    source = Path(source).resolve()
    if not source.is_file():
        raise SiteDataError(f"{source}: no such file")
    found, expected = _sqlite_schema(source), code_heads(app)
    if found != expected:
        raise SiteDataError(
            f"{source} has schema version {', '.join(found) or 'none'}, this release expects "
            f"{', '.join(expected)}. Nothing was changed. Restore it with the release that made it "
            "(then upgrade with flask --app wsgi db upgrade), or pick a backup of this release."
        )
    if site_running():
        raise SiteDataError("the site is running: stop it (the process serving it), then restore. "
                            "Nothing was changed.")
    kept = None
    with app.app_context():
        db.engine.dispose()
    if target_path.exists():
        kept = target_path.with_name(f"{target_path.name}.before-restore-{datetime.now():%Y%m%d-%H%M%S}")
        current = sqlite3.connect(target_path, timeout=30)
        try:
            _copy(current, kept)
        finally:
            current.close()
    backup_conn = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    target = sqlite3.connect(target_path, timeout=30)
    try:
        # Through SQLite's backup API: the live file is replaced page by page
        # under its own lock, WAL included, never left half-written.
        backup_conn.backup(target)
        target.execute("PRAGMA journal_mode = WAL")
    finally:
        target.close()
        backup_conn.close()
    return {"restored": str(source), "database": str(target_path), "schema": found,
            "previous_database_kept_at": str(kept) if kept else None}


# --- export and import (portable, any database) ----------------------------------

@contextmanager
def _site_transaction(app: Flask, *, read_only: bool) -> Iterator[sa.Connection]:
    """One transaction over the whole site, on a connection of its own.

    On Postgres it runs as the login role (the owner, as migrations do), not
    the app role, and declares itself system scope for row-level security
    (FORCE applies to the owner too): every establishment's rows, on purpose,
    as the payment sweeper reads them. Its own engine, so the owner's
    connection never returns to the app's pool.
    """
    engine = sa.create_engine(app.config["SQLALCHEMY_DATABASE_URI"], poolclass=sa.pool.NullPool)
    configure_sqlite_engine(engine, read_only=read_only)
    try:
        with engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                if read_only:
                    conn.exec_driver_sql("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                conn.exec_driver_sql("SELECT set_config('app.system', 'on', true)")
            yield conn
    finally:
        engine.dispose()


def _tables() -> list[sa.Table]:
    return list(db.metadata.sorted_tables)


def _encode(column: sa.Column, value):
    if value is None:
        return None
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, datetime):
        if value.tzinfo is None and getattr(column.type, "timezone", False):
            value = value.replace(tzinfo=timezone.utc)  # SQLite drops the zone; stored values are UTC
        return value.isoformat()
    if isinstance(value, (date, time)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (bytes, memoryview)):
        return {"$base64": base64.b64encode(bytes(value)).decode()}
    return value


def _decoder(column: sa.Column) -> Callable | None:
    try:
        kind = column.type.python_type
    except NotImplementedError:
        return None
    return {uuid.UUID: uuid.UUID, datetime: datetime.fromisoformat, date: date.fromisoformat,
            time: time.fromisoformat, Decimal: Decimal,
            bytes: lambda v: base64.b64decode(v["$base64"])}.get(kind)


def _line(data: dict) -> str:
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False, sort_keys=True) + "\n"


def export(app: Flask, out: IO[str]) -> dict:
    """Write every row of every table (all establishments) to ``out``."""
    tables = _tables()
    counts: dict[str, int] = {}
    digest = hashlib.sha256()
    # One read transaction: a consistent snapshot even while the site runs.
    with _site_transaction(app, read_only=True) as conn:
        known = {t.name for t in tables} | {"alembic_version"}
        unknown = sorted(set(sa.inspect(conn).get_table_names()) - known)
        if unknown:
            raise SiteDataError(f"tables without a model would be left behind: {', '.join(unknown)}")
        out.write(_line({"format": FORMAT, "version": VERSION, "schema": schema_of(conn),
                         "exported_at": datetime.now(timezone.utc).isoformat(),
                         "source": conn.dialect.name, "tables": [t.name for t in tables]}))
        for table in tables:
            order = list(table.primary_key.columns) or list(table.columns)
            counts[table.name] = 0
            for row in conn.execute(sa.select(table).order_by(*order)).mappings():
                line = _line({"table": table.name,
                              "row": {c.name: _encode(c, row[c.name]) for c in table.columns}})
                digest.update(line.encode())
                out.write(line)
                counts[table.name] += 1
    out.write(_line({"end": True, "counts": counts, "sha256": digest.hexdigest()}))
    return {"tables": len(tables), "rows": sum(counts.values()), "counts": counts}


def _read_export(path: Path) -> tuple[dict, dict]:
    """Check the whole file first: header, every line, the end line's counts and digest."""
    if not path.is_file():
        raise SiteDataError(f"{path}: no such file")
    header = end = None
    counts: dict[str, int] = {}
    digest = hashlib.sha256()
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, 1):
            try:
                data = json.loads(line)
            except ValueError:
                raise SiteDataError(f"{path}, line {number}: not JSON; is this a Kiosk export?") from None
            if number == 1:
                if not isinstance(data, dict) or data.get("format") != FORMAT:
                    raise SiteDataError(f"{path} is not a Kiosk export")
                if data.get("version") != VERSION:
                    raise SiteDataError(f"{path} is export format version {data.get('version')}; "
                                        f"this release reads version {VERSION}")
                header = data
            elif end is not None:
                raise SiteDataError(f"{path}, line {number}: data after the end line")
            elif not isinstance(data, dict):
                raise SiteDataError(f"{path}, line {number}: not a row")
            elif data.get("end") is True:
                end = data
            elif isinstance(data.get("table"), str) and isinstance(data.get("row"), dict):
                digest.update(line.encode())
                counts[data["table"]] = counts.get(data["table"], 0) + 1
            else:
                raise SiteDataError(f"{path}, line {number}: not a row")
    if header is None or end is None:
        raise SiteDataError(f"{path} is incomplete (no end line): export it again")
    expected = {name: n for name, n in end.get("counts", {}).items() if n}
    if counts != expected or digest.hexdigest() != end.get("sha256"):
        raise SiteDataError(f"{path} does not match its own end line (edited or damaged): export it again")
    return header, end


def _rows(path: Path) -> Iterator[dict]:
    with path.open(encoding="utf-8") as lines:
        next(lines)
        for line in lines:
            data = json.loads(line)
            if "table" in data:
                yield data


def import_(app: Flask, path: str | Path) -> dict:
    """Load an export into this (empty, migrated) database, ids kept, in one transaction."""
    path = Path(path)
    header, end = _read_export(path)
    tables = {t.name: t for t in _tables()}
    missing = [name for name in header["tables"] if name not in tables]
    if missing:
        raise SiteDataError(f"this release has no table {', '.join(missing)}: import with a newer release")
    counts: dict[str, int] = {}
    with _site_transaction(app, read_only=False) as conn:
        schema = schema_of(conn)
        if schema != header["schema"]:
            raise SiteDataError(
                f"the export has schema version {', '.join(header['schema']) or 'none'}, this database "
                f"{', '.join(schema) or 'none (not migrated)'}: migrate it to the same version first "
                "(flask --app wsgi db upgrade), with the release that made the export")
        used = [name for name, table in tables.items()
                if conn.execute(sa.select(sa.literal(1)).select_from(table).limit(1)).first()]
        if used:
            raise SiteDataError(f"the database is not empty ({', '.join(sorted(used))} have rows): "
                                "import only into a new, migrated database. Nothing was changed.")
        decoders = {name: {c.name: _decoder(c) for c in table.columns} for name, table in tables.items()}
        order = {name: i for i, name in enumerate(tables)}
        # Rows come grouped by table in dependency order; insert in batches.
        batch: list[dict] = []
        current = None
        for data in _rows(path):
            name = data["table"]
            if name not in tables:
                raise SiteDataError(f"{path}: rows of an unknown table {name}")
            if current is not None and order[name] < order[current]:
                raise SiteDataError(f"{path}: {name} rows after {current} rows (not in dependency order)")
            if name != current:
                _flush(conn, tables.get(current), batch)
                batch, current = [], name
            row = {column: (decoders[name][column](value) if value is not None and decoders[name].get(column)
                            else value) for column, value in data["row"].items()}
            batch.append(row)
            counts[name] = counts.get(name, 0) + 1
            if len(batch) >= BATCH:
                _flush(conn, tables[name], batch)
                batch = []
        _flush(conn, tables.get(current), batch)
        _reset_sequences(conn, tables.values())
    return {"imported": str(path), "rows": sum(counts.values()), "counts": counts}


def _flush(conn, table: sa.Table | None, rows: list[dict]) -> None:
    if table is not None and rows:
        conn.execute(table.insert(), rows)


def _reset_sequences(conn, tables) -> None:
    """Integer keys drawn from a Postgres sequence continue after the imported ids."""
    if conn.dialect.name != "postgresql":
        return
    for table in tables:
        for column in table.primary_key.columns:
            if not isinstance(column.type, sa.Integer):
                continue
            sequence = conn.execute(sa.text("SELECT pg_get_serial_sequence(:t, :c)"),
                                    {"t": table.name, "c": column.name}).scalar()
            if sequence:
                top = conn.execute(sa.select(sa.func.max(column))).scalar() or 0
                conn.execute(sa.text("SELECT setval(:s, :v, false)"), {"s": sequence, "v": top + 1})
