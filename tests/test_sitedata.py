"""Backup, restore, export and import of a whole site (kiosk/sitedata.py),
through the CLI commands operators run.

The embedded site is a real SQLite file (tests/backends.py); the target of
the move is the session's Postgres database, migrated and empty at the start
of each test, running as the app role under row-level security.
"""
from __future__ import annotations

import json
import sqlite3
import threading
import uuid
from datetime import timezone

import pytest
import redis as redis_lib
import sqlalchemy as sa

from kiosk.extensions import db
from kiosk.tenancy import tenant_scope
from tests.helpers import ApiClient, DeviceClient

pytestmark = pytest.mark.slow


@pytest.fixture
def site(sqlite_site):
    yield sqlite_site
    sqlite_site.clean()


def cli(app, *args):
    result = app.test_cli_runner().invoke(args=list(args))
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.output


def seed_site(site) -> dict:
    """The demo seed, then a morning of use: tickets called and served, paid
    tickets, a refused payment, a claim code, a theme and calling settings."""
    from kiosk.commands import seed_demo
    from kiosk.devices.services import create_claim
    from kiosk.establishments import services as establishments
    from kiosk.queues import services as queues

    with site.app.app_context():
        demo = json.loads(json.dumps(seed_demo("http://site.test"), default=str))
        establishment_id = demo["establishment"]["id"]
        with tenant_scope(establishment_id):
            queue = queues.get_queue(demo["queues"][0]["id"])
            for kind in ("STANDARD", "STANDARD", "VIP", "STANDARD"):
                queues.issue_ticket(queue, kind)
            called = queues.call_next(queue, "1")
            queues.transition(called.id, "serve")
            queues.call_next(queue, "2")
            create_claim("Spare kiosk", queue.id)
            establishments.update_theme({"primary": "#123456", "accent": "#ffb400", "vip": "#c8102e", "logo_url": None,
                                 "sound": "chime"})
            establishments.update_calling_settings({"vip_streak_max": 2})
    device = DeviceClient(site.app.test_client(), demo["device"]["device_id"], demo["device"]["secret_key"])
    for amount in (500, 500, 100):
        answer = device.post("/iot/payments", {"transaction_id": str(uuid.uuid4()), "amount": amount})
        assert answer.status_code == 202, answer.get_json()
    from kiosk.payments.cash import collect

    with site.app.app_context(), tenant_scope(establishment_id):
        collect(demo["device"]["device_id"], 1000)  # the box emptied once, 100 short
    return demo


def table_rows(engine, metadata_tables) -> dict:
    """Every row of every table, typed by the models and in key order; zone-less
    times (SQLite) read as the UTC they are."""
    found = {}
    with engine.connect() as conn:
        for table in metadata_tables:
            rows = []
            for row in conn.execute(sa.select(table).order_by(*table.primary_key.columns)).mappings():
                rows.append({k: (v.replace(tzinfo=timezone.utc) if getattr(v, "tzinfo", 1) is None else v)
                             for k, v in row.items()})
            found[table.name] = rows
    return found


# --- export / import ------------------------------------------------------------------------------

def test_a_seeded_site_moves_to_postgres_row_for_row_and_its_kiosk_keeps_working(
        site, postgres_app, pg_owner_engine, redis_url, tmp_path):
    demo = seed_site(site)
    path = tmp_path / "site.jsonl"
    code, output = cli(site.app, "export", str(path))
    assert code == 0, output
    summary = json.loads(output)
    assert summary["counts"]["tickets"] == 6 and summary["counts"]["transactions"] == 3

    code, output = cli(postgres_app, "import", str(path))
    assert code == 0, output
    assert json.loads(output)["rows"] == summary["rows"]

    tables = db.metadata.sorted_tables
    assert {t.name for t in tables} >= {"establishments", "users", "devices", "device_claims", "displays",
                                        "queues", "tickets", "ticket_sequences", "transactions"}
    before, after = table_rows(site.owner_engine, tables), table_rows(pg_owner_engine, tables)
    for table in tables:
        assert after[table.name] == before[table.name], table.name
        assert before[table.name] or table.name in ("ticket_sequences",), f"{table.name} was not seeded"
    # What Postgres holds exports to the very same rows (the encoding is symmetric).
    again = tmp_path / "again.jsonl"
    assert cli(postgres_app, "export", str(again))[0] == 0
    rows_of = lambda p: [line for line in p.read_text().splitlines() if line.startswith('{"row"')]  # noqa: E731
    assert rows_of(again) == rows_of(path) and len(rows_of(path)) == summary["rows"]
    users = after["users"]
    assert all(u["password_hash"] and u["password_hash"] != "demo-password" for u in users)
    assert all(d["secret_encrypted"].startswith("gAAAA") for d in after["devices"])  # still Fernet-encrypted

    # The new server, with a fresh Redis and the same DEVICE_SECRET_KEYS: the kiosk signs
    # a payment with the secret it was given on the old one, and gets its ticket.
    redis_lib.Redis.from_url(redis_url).flushdb()
    kiosk = DeviceClient(postgres_app.test_client(), demo["device"]["device_id"], demo["device"]["secret_key"])
    tid = str(uuid.uuid4())
    paid = kiosk.post("/iot/payments", {"transaction_id": tid, "amount": 500})
    assert paid.status_code == 202 and paid.get_json()["status"] == "CONFIRMED", paid.get_json()
    ticket = kiosk.get(f"/iot/payments/{tid}").get_json()["ticket"]
    assert ticket["kind"] == "VIP"
    # Numbering goes on from the imported day: no code handed out twice.
    assert ticket["code"] not in {t["code"] for t in before["tickets"]}
    # Staff sign in with their old passwords.
    ApiClient(postgres_app.test_client()).login(demo["logins"]["manager"]["email"], "demo-password")



def test_import_refuses_a_database_that_is_not_empty(site, postgres_app, pg_owner_engine, tmp_path):
    seed_site(site)
    path = tmp_path / "site.jsonl"
    assert cli(site.app, "export", str(path))[0] == 0
    assert cli(postgres_app, "import", str(path))[0] == 0
    with pg_owner_engine.connect() as conn:
        before = conn.execute(sa.text("SELECT count(*) FROM tickets")).scalar()
    code, output = cli(postgres_app, "import", str(path))
    assert code == 1 and "not empty" in output and "Nothing was changed" in output
    with pg_owner_engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM tickets")).scalar() == before


@pytest.mark.parametrize("damage, message", [
    (lambda lines: lines[:-1], "incomplete"),
    (lambda lines: [line.replace("Clinique du Plateau", "Clinique du Lac") for line in lines], "does not match"),
    (lambda lines: [lines[0].replace('"schema":["', '"schema":["0001", "')] + lines[1:], "schema version"),
    (lambda lines: ['{"hello": "world"}'] + lines[1:], "not a Kiosk export"),
    (lambda lines: ["not json at all"], "not JSON"),
])
def test_import_refuses_a_damaged_or_foreign_file_and_writes_nothing(
        site, postgres_app, pg_owner_engine, tmp_path, damage, message):
    seed_site(site)
    path = tmp_path / "site.jsonl"
    assert cli(site.app, "export", str(path))[0] == 0
    lines = path.read_text().splitlines()
    path.write_text("\n".join(damage(lines)) + "\n")
    code, output = cli(postgres_app, "import", str(path))
    assert code == 1 and message in output, output
    with pg_owner_engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM establishments")).scalar() == 0


# --- backup / restore -----------------------------------------------------------------------------

def _tickets_in(path) -> list[int]:
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        return sorted(r[0] for r in conn.execute("SELECT number FROM tickets WHERE kind = 'STANDARD'"))
    finally:
        conn.close()


def test_backup_takes_a_consistent_copy_while_counters_keep_writing(site, tmp_path):
    from kiosk.queues import services as queues
    from kiosk.sitedata import code_heads

    demo = seed_site(site)
    stop = threading.Event()
    issued = []

    def keep_issuing():
        with site.app.app_context(), tenant_scope(demo["establishment"]["id"]):
            while not stop.is_set():
                issued.append(queues.issue_ticket(queues.get_queue(demo["queues"][0]["id"])).number)
                db.session.remove()

    writer = threading.Thread(target=keep_issuing)
    writer.start()
    try:
        while len(issued) < 5:
            stop.wait(0.01)
        code, output = cli(site.app, "backup", str(tmp_path / "nightly" / "kiosk.sqlite3"))
    finally:
        stop.set()
        writer.join(30)
    assert code == 0, output
    result = json.loads(output)
    assert result["schema"] == code_heads(site.app)
    numbers = _tickets_in(tmp_path / "nightly" / "kiosk.sqlite3")
    # A snapshot: the numbers issued up to one instant, with no gap and no torn row.
    assert numbers == list(range(1, len(numbers) + 1)) and len(numbers) >= 8
    assert not (tmp_path / "nightly" / "kiosk.sqlite3-wal").exists()
    assert len(issued) + 3 > len(numbers) - 3  # the writer went on after the copy


def test_backup_on_postgres_refuses_and_points_to_pg_dump(postgres_app, tmp_path):
    code, output = cli(postgres_app, "backup", str(tmp_path / "x.sqlite3"))
    assert code == 1 and "pg_dump" in output
    assert not (tmp_path / "x.sqlite3").exists()
    code, output = cli(postgres_app, "restore", str(tmp_path / "x.sqlite3"))
    assert code == 1 and "pg_dump" in output


def _establishments(site) -> list[str]:
    with site.owner_engine.connect() as conn:
        return sorted(r[0] for r in conn.execute(sa.text("SELECT name FROM establishments")))


def test_restore_brings_the_backup_back_and_keeps_the_replaced_database(site, tmp_path):
    from tests import factories

    demo = seed_site(site)
    backup = tmp_path / "kiosk-backup.sqlite3"
    assert cli(site.app, "backup", str(backup))[0] == 0
    with site.app.app_context():
        factories.make_tenant("Opened after the backup")
    assert "Opened after the backup" in _establishments(site)

    code, output = cli(site.app, "restore", str(backup))
    assert code == 0, output
    result = json.loads(output)
    assert _establishments(site) == ["Clinique du Plateau"]
    kept = sqlite3.connect(result["previous_database_kept_at"])
    assert "Opened after the backup" in [r[0] for r in kept.execute("SELECT name FROM establishments")]
    kept.close()
    # The restored site works: a counter calls the next ticket.
    api = ApiClient(site.app.test_client())
    api.login(demo["logins"]["agent"]["email"], "demo-password")
    called = api.post(f"/api/queues/{demo['queues'][0]['id']}/call-next", json={"counter": "3"})
    assert called.status_code == 200 and called.get_json()["status"] == "CALLED"


def test_restore_refuses_another_schema_version_and_changes_nothing(site, tmp_path):
    seed_site(site)
    backup = tmp_path / "old.sqlite3"
    assert cli(site.app, "backup", str(backup))[0] == 0
    conn = sqlite3.connect(backup)
    conn.execute("UPDATE alembic_version SET version_num = '0001'")
    conn.commit()
    conn.close()
    with site.app.app_context():
        from tests import factories

        factories.make_tenant("Still here")
    code, output = cli(site.app, "restore", str(backup))
    assert code == 1 and "schema version 0001" in output and "Nothing was changed" in output
    assert "Still here" in _establishments(site)


def test_restore_refuses_a_file_that_is_not_a_database(site, tmp_path):
    junk = tmp_path / "notes.txt"
    junk.write_text("not a database " * 100)
    code, output = cli(site.app, "restore", str(junk))
    assert code == 1 and "not a SQLite database" in output


def test_restore_refuses_while_the_site_is_served(site, tmp_path):
    import fcntl

    from kiosk.single_process import lock_path

    seed_site(site)
    backup = tmp_path / "b.sqlite3"
    assert cli(site.app, "backup", str(backup))[0] == 0
    path = lock_path(site.app)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as server_lock:  # what a serving process holds
        fcntl.flock(server_lock.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        code, output = cli(site.app, "restore", str(backup))
    path.unlink(missing_ok=True)
    assert code == 1 and "the site is running" in output


def test_export_refuses_a_table_no_model_describes(site, tmp_path):
    with site.owner_engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE stray_notes (id INTEGER PRIMARY KEY, body TEXT)"))
    try:
        code, output = cli(site.app, "export", str(tmp_path / "x.jsonl"))
        assert code == 1 and "stray_notes" in output
        assert not (tmp_path / "x.jsonl").exists()
    finally:
        with site.owner_engine.begin() as conn:
            conn.execute(sa.text("DROP TABLE stray_notes"))
