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


def test_service_day_migration_keeps_old_rows_valid(tmp_path):
    """Two queues that both issued V-001 on one day: 0006 gives the clashing VIP codes their queue's name."""
    url = f"sqlite:///{tmp_path}/old.sqlite3"
    env = _env(tmp_path, url)
    up = _flask(["db", "upgrade", "0007_staff_audit"], env)
    assert up.returncode == 0, up.stderr[-2000:]
    engine = sa.create_engine(url)
    est, qa, qp = (uuid.uuid4().hex for _ in range(3))
    with engine.begin() as conn:
        conn.exec_driver_sql(
            "INSERT INTO establishments (id, name, slug, timezone, currency, locale, vip_price, theme, "
            "vip_streak_max, max_standard_wait_min, opening_hours, created_at) VALUES "
            f"('{est}', 'Old', 'old', 'UTC', 'XOF', 'fr', 500, '{{}}', 3, 45, '{{}}', '2026-01-05 08:00:00')")
        for queue, prefix in ((qa, "A"), (qp, "P")):
            conn.exec_driver_sql(
                "INSERT INTO queues (id, establishment_id, name, prefix, vip_prefix, active, mean_service_seconds, "
                f"served_count, created_at) VALUES ('{queue}', '{est}', '{prefix}', '{prefix}', 'V', 1, 300, 0, "
                "'2026-01-05 08:00:00')")
        rows = [(qa, "VIP", 1, "V-001", "2026-01-05"), (qp, "VIP", 1, "V-001", "2026-01-05"),
                (qa, "STANDARD", 1, "A-001", "2026-01-05"), (qa, "VIP", 1, "V-001", "2026-01-06")]
        for queue, kind, number, code, day in rows:
            conn.exec_driver_sql(
                "INSERT INTO tickets (id, establishment_id, queue_id, service_day, number, code, kind, status, "
                f"tracking_token, call_count, created_at) VALUES ('{uuid.uuid4().hex}', '{est}', '{queue}', "
                f"'{day}', {number}, '{code}', '{kind}', 'SERVED', '{uuid.uuid4().hex}', 0, '{day} 09:00:00')")
    up = _flask(["db", "upgrade"], env)
    assert up.returncode == 0, up.stderr[-2000:]
    with engine.connect() as conn:
        codes = sorted(conn.exec_driver_sql("SELECT service_day, code FROM tickets").all())
        prefixes = sorted(conn.exec_driver_sql("SELECT prefix, vip_prefix FROM queues").all())
    engine.dispose()
    # The two clashing V-001 of Monday now name their queue; Tuesday's lone V-001 and A-001 are untouched.
    assert codes == [("2026-01-05", "A-001"), ("2026-01-05", "VA-001"), ("2026-01-05", "VP-001"),
                     ("2026-01-06", "V-001")]
    assert prefixes == [("A", "VA"), ("P", "VP")]
