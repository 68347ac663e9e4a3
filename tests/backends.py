"""One suite of races, two backends: Postgres and the embedded SQLite file.

A race test takes the ``backend`` fixture (``backend.app``,
``backend.owner_engine``), or a whole module runs on both by importing the
``app`` and ``owner_engine`` overrides below::

    from tests.backends import app, owner_engine  # noqa: F401 - both backends

The SQLite app is a real file-backed database with the embedded default's
engine settings (kiosk/database.py), shared by the threads of a test like a
``flask run --with-threads`` server shares it. It keeps the session's Redis:
the race is about the database, and a second app with the in-process
stand-in would replace the Redis client every other test uses.
"""
from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import Any

import pytest
import sqlalchemy as sa

BACKENDS = ["postgres", "sqlite"]


@dataclass
class Backend:
    name: str
    app: Any
    owner_engine: sa.Engine

    @property
    def sqlite(self) -> bool:
        return self.name == "sqlite"

    def id_param(self, value) -> str:
        """A UUID as the backend stores it, for raw SQL (SQLite: 32 hex digits)."""
        import uuid

        value = uuid.UUID(str(value))
        return value.hex if self.sqlite else str(value)


class SqliteSite:
    def __init__(self, path, redis_url: str):
        from flask_migrate import upgrade

        from kiosk import create_app
        from tests.conftest import make_config

        self.path = path
        self.app = create_app(make_config(f"sqlite:///{path}", redis_url))
        with self.app.app_context():
            upgrade(revision="heads")
        self.owner_engine = sa.create_engine(f"sqlite:///{path}")

    def clean(self) -> None:
        from kiosk.extensions import db

        with self.app.app_context():
            db.session.remove()
        # Straight to the file: no foreign keys (tickets and transactions
        # point at each other), no application settings.
        conn = sqlite3.connect(self.path, timeout=30)
        try:
            tables = [r[0] for r in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' "
                "AND name NOT LIKE 'sqlite_%' AND name <> 'alembic_version'")]
            for table in tables:
                conn.execute(f'DELETE FROM "{table}"')
            conn.commit()
        finally:
            conn.close()

    def close(self) -> None:
        from kiosk.extensions import db

        with self.app.app_context():
            db.session.remove()
            db.engine.dispose()
        self.owner_engine.dispose()


@pytest.fixture(scope="session")
def sqlite_site(tmp_path_factory, redis_url, postgres_app):
    # Created after the Postgres app, and left last: the factory re-points
    # process-wide clients (Redis, Celery's default app), all at equivalent
    # settings here, so the order does not matter to the tests either way.
    site = SqliteSite(tmp_path_factory.mktemp("sqlite-site") / "kiosk.sqlite3", redis_url)
    yield site
    site.close()


@pytest.fixture(params=BACKENDS)
def backend(request, postgres_app, pg_owner_engine):
    if request.param == "postgres":
        yield Backend("postgres", postgres_app, pg_owner_engine)
        return
    site = request.getfixturevalue("sqlite_site")
    yield Backend("sqlite", site.app, site.owner_engine)
    site.clean()


@pytest.fixture
def backend_world(backend):
    """Two equipped establishments (tests/factories.build_world) on ``backend``."""
    from tests import factories

    with backend.app.app_context():
        return factories.build_world()


@pytest.fixture
def app(backend):
    return backend.app


@pytest.fixture
def owner_engine(backend):
    return backend.owner_engine
