"""Shared fixtures: one throwaway Postgres database and one Redis db per
session, a clean slate per test, and small helpers to act as staff or device.

Postgres and Redis are required: if either cannot be reached the session
stops with an error (never a skip), so CI cannot pass by testing nothing.
"""
from __future__ import annotations

import json
import os
import uuid

import pytest
import redis as redis_lib
import sqlalchemy as sa
from cryptography.fernet import Fernet

from tests import factories
from tests.helpers import ApiClient, DeviceClient

PG_ADMIN_URL = os.environ.get("TEST_PG_ADMIN_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres")
REDIS_BASE_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379")
DEVICE_KEY = Fernet.generate_key().decode()


def _fail(message: str):
    pytest.exit(f"test infrastructure unavailable: {message}", returncode=3)


@pytest.fixture(scope="session")
def database_url():
    name = f"kiosk_test_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    try:
        admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    except Exception as exc:  # noqa: BLE001
        _fail(f"Postgres at {PG_ADMIN_URL}: {exc}")
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    yield url
    with admin.connect() as conn:
        conn.exec_driver_sql(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
            (name,),
        )
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}"')
    admin.dispose()


@pytest.fixture(scope="session")
def redis_url():
    """A Redis logical db of our own, leased so parallel sessions don't collide."""
    try:
        lease = redis_lib.Redis.from_url(REDIS_BASE_URL + "/0", socket_timeout=2)
        lease.ping()
    except Exception as exc:  # noqa: BLE001
        _fail(f"Redis at {REDIS_BASE_URL}: {exc}")
    for index in range(1, 16):
        if lease.set(f"kiosk:test-lease:{index}", os.getpid(), nx=True, ex=3 * 3600):
            break
    else:
        _fail("no free Redis logical database (1-15) for this test session")
    url = f"{REDIS_BASE_URL}/{index}"
    redis_lib.Redis.from_url(url).flushdb()
    yield url
    redis_lib.Redis.from_url(url).flushdb()
    lease.delete(f"kiosk:test-lease:{index}")


def make_config(database_url: str, redis_url: str, **extra) -> dict:
    config = {
        "TESTING": True,
        "KIOSK_ENV": "test",
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "SECRET_KEY": "test-secret-key-" + "x" * 32,
        "DEVICE_SECRET_KEYS": DEVICE_KEY,
        "CELERY_TASK_ALWAYS_EAGER": True,
        "PUBLIC_BASE_URL": "http://localhost",
    }
    config.update(extra)
    return config


@pytest.fixture(scope="session")
def postgres_app(database_url, redis_url):
    from flask_migrate import upgrade

    from kiosk import create_app

    app = create_app(make_config(database_url, redis_url))
    with app.app_context():
        upgrade(revision="heads")
    yield app
    with app.app_context():
        from kiosk.extensions import db

        db.session.remove()
        db.engine.dispose()


@pytest.fixture(scope="session")
def app(postgres_app):
    """The app under test. Race tests override it with ``backend.app`` (tests/backends.py)."""
    return postgres_app


@pytest.fixture(scope="session")
def pg_owner_engine(database_url):
    """A connection as the table owner (no app role, no RLS): for set-up and checks."""
    engine = sa.create_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def owner_engine(pg_owner_engine):
    return pg_owner_engine


def _tables(engine) -> list[str]:
    with engine.connect() as conn:
        rows = conn.exec_driver_sql(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'alembic_version'"
        ).fetchall()
    return [r[0] for r in rows]


@pytest.fixture(autouse=True)
def clean_slate(request, postgres_app, pg_owner_engine, redis_url):
    """Every test starts with empty tables and an empty Redis db."""
    yield
    from kiosk.extensions import db

    app, owner_engine = postgres_app, pg_owner_engine
    with app.app_context():
        db.session.remove()
    tables = _tables(owner_engine)
    with owner_engine.begin() as conn:
        conn.exec_driver_sql("SET lock_timeout = '3s'")
        try:
            conn.exec_driver_sql("TRUNCATE " + ", ".join(tables) + " CASCADE")
        except sa.exc.OperationalError:
            conn.rollback()
            _terminate_others(owner_engine)
            with owner_engine.begin() as retry:
                retry.exec_driver_sql("TRUNCATE " + ", ".join(tables) + " CASCADE")
    try:
        redis_lib.Redis.from_url(redis_url).flushdb()
    except redis_lib.exceptions.ConnectionError:
        pass  # a fault test stopped our Redis; it restarts it itself
    # A Redis failure a test provoked must not make the next test skip Redis.
    from kiosk.cache import reset_outage

    reset_outage()
    # The tables were emptied behind the app's back: so are the per-process
    # caches of their rows (device ids are reused from test to test).
    from kiosk.devices import cache as device_cache
    from kiosk.display import tokens as display_tokens

    device_cache.listener().drop()
    display_tokens.listener().drop()


def _terminate_others(engine) -> None:
    with engine.connect() as conn:
        conn.exec_driver_sql(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )


@pytest.fixture
def app_ctx(app):
    with app.app_context():
        yield app


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def api(app):
    """Acts as staff: ``api.login_as(user)``, then ``api.get/post``."""
    return ApiClient(app.test_client())


@pytest.fixture
def world(app):
    """Two establishments, A and B, each fully equipped (see factories.build_world)."""
    with app.app_context():
        return factories.build_world()


@pytest.fixture
def device_client(app):
    def make(device_id: str, secret_key: str) -> DeviceClient:
        return DeviceClient(app.test_client(), device_id, secret_key)

    return make


# The SQLite backend of the race tests (tests/backends.py).
from tests.backends import backend, backend_world, sqlite_site  # noqa: E402,F401


@pytest.fixture
def clock(monkeypatch):
    """The app's one clock, under the test's control (tests/clock.py); starts at 2026-03-02 08:00 UTC."""
    from datetime import datetime, timezone

    from tests.clock import install

    return install(monkeypatch, datetime(2026, 3, 2, 8, 0, tzinfo=timezone.utc))


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: spawns processes or browsers")
    config.addinivalue_line("markers", "browser: drives headless Chromium through Playwright")


def dumps(data) -> bytes:
    return json.dumps(data, separators=(",", ":")).encode()
