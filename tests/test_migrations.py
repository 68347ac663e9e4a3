"""Migrations apply on empty Postgres and SQLite, with no drift from the models."""
from __future__ import annotations

import os
import subprocess
import sys
import uuid

import sqlalchemy as sa

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _flask(args, env):
    return subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)


def _env(tmp_path, database_url):
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL",)}
    env.update({"DATABASE_URL": database_url, "SECRET_KEY": "x" * 32,
                "DEVICE_SECRET_KEYS": "xEbWJM8fGCEnI8yv0DGcCWnSybcPu9tEefiN79B0i2w=", "KIOSK_ENV": "test"})
    return env


def test_migrations_apply_on_sqlite_without_drift(tmp_path):
    env = _env(tmp_path, f"sqlite:///{tmp_path}/m.sqlite3")
    up = _flask(["db", "upgrade"], env)
    assert up.returncode == 0, up.stderr[-2000:]
    check = _flask(["db", "check"], env)
    assert check.returncode == 0, check.stdout[-2000:] + check.stderr[-2000:]
    down = _flask(["db", "downgrade", "base"], env)
    assert down.returncode == 0, down.stderr[-2000:]


def test_migrations_apply_on_empty_postgres_without_drift(tmp_path):
    from tests.conftest import PG_ADMIN_URL

    name = f"kiosk_mig_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        env = _env(tmp_path, PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name)
        up = _flask(["db", "upgrade"], env)
        assert up.returncode == 0, up.stderr[-2000:]
        check = _flask(["db", "check"], env)
        assert check.returncode == 0, check.stdout[-2000:] + check.stderr[-2000:]
        down = _flask(["db", "downgrade", "base"], env)
        assert down.returncode == 0, down.stderr[-2000:]
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()
