"""The tenant filter holds for every statement shape the code uses, on Postgres and on SQLite.

On Postgres it is checked twice: as the app runs (ORM filter + row-level
security) and as a superuser that bypasses RLS, so the ORM filter is proven
on its own there too. SQLite has no RLS: the ORM filter is all there is.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from cryptography.fernet import Fernet

from tests import tenant_shapes

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

SCRIPT = r'''
import json, sys
from flask_migrate import upgrade
from kiosk import create_app
from tests import tenant_shapes

config = {"DATABASE_URL": sys.argv[1], "SECRET_KEY": "s" * 40, "DEVICE_SECRET_KEYS": sys.argv[2],
          "KIOSK_ENV": "test", "TESTING": True, "DB_SKIP_APP_ROLE": True, "CELERY_TASK_ALWAYS_EAGER": True}
app = create_app(config)
with app.app_context():
    upgrade(revision="heads")
    tenant_shapes.seed()
    print("RESULT " + json.dumps(tenant_shapes.measure(), default=str))
'''


def check(result: dict) -> None:
    for name, entry in result.items():
        if name.startswith("_"):
            continue
        assert entry["raises"], f"{name}: ran with no tenant in context"
        assert entry["a"] > 0 and entry["a"] == entry["b"], (name, entry)
        assert entry["a"] + entry["b"] == entry["all"] or name == "select(Establishment)" and entry["all"] == 2, \
            (name, entry)
    update = result["_update"]
    assert update["raises"] and update["orm"] == update["core"] > 0, update
    assert update["a"] == "core" and update["b"] != "core" and update["b"] != "orm", update
    assert result["_get_other"] is True


def test_every_statement_shape_is_filtered_on_postgres_with_rls(app):
    with app.app_context():
        tenant_shapes.seed()
        check(tenant_shapes.measure())


def _run(database_url: str) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
    env["PYTHONPATH"] = ROOT
    done = subprocess.run([sys.executable, "-c", SCRIPT, database_url, Fernet.generate_key().decode()], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-3000:]
    line = next(line for line in done.stdout.splitlines() if line.startswith("RESULT "))
    return json.loads(line[len("RESULT "):])


def test_every_statement_shape_is_filtered_on_sqlite(tmp_path):
    check(_run(f"sqlite:///{tmp_path}/shapes.sqlite3"))


def test_every_statement_shape_is_filtered_on_postgres_by_the_orm_alone(tmp_path):
    """A superuser bypasses row-level security: what is filtered here, the ORM filter did."""
    import sqlalchemy as sa
    import uuid

    from tests.conftest import PG_ADMIN_URL

    name = f"kiosk_shapes_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        check(_run(PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name))
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


@pytest.mark.parametrize("name", sorted(tenant_shapes.SHAPES))
def test_shape_names_are_listed(name):
    assert callable(tenant_shapes.SHAPES[name])
