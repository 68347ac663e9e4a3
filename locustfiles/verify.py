"""After a load run: was any payment lost or duplicated?

Every transaction id a simulated kiosk posted must exist and end CONFIRMED
or FAILED (waiting up to --drain seconds for the worker and the sweeper),
with exactly one ticket per CONFIRMED payment and none for FAILED ones.
Exit 1 on any violation. Reads as the table owner (no RLS), since it audits
every establishment at once.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
import uuid

import sqlalchemy as sa

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from kiosk.config import normalise_database_url  # noqa: E402


def _load_posted(conn, posted: list[str]) -> None:
    if conn.dialect.name == "sqlite":
        # The embedded default (scripts/loadtest with LOAD_BACKEND=embedded): UUIDs are 32 hex digits.
        conn.exec_driver_sql("CREATE TEMP TABLE posted (id CHAR(32) PRIMARY KEY)")
        conn.execute(sa.text("INSERT OR IGNORE INTO posted (id) VALUES (:id)"),
                     [{"id": uuid.UUID(p).hex} for p in posted])
        return
    conn.exec_driver_sql("CREATE TEMP TABLE posted (id uuid PRIMARY KEY)")
    if posted:
        conn.execute(sa.text("INSERT INTO posted (id) SELECT unnest(CAST(:ids AS uuid[])) ON CONFLICT DO NOTHING"),
                     {"ids": posted})


def _confirm_lag(conn) -> tuple:
    if conn.dialect.name == "sqlite":
        ms = sorted(r[0] for r in conn.exec_driver_sql(
            "SELECT (julianday(updated_at) - julianday(created_at)) * 86400000 FROM transactions "
            "WHERE status = 'CONFIRMED'"))
        pick = lambda q: ms[min(len(ms) - 1, int(q * len(ms)))] if ms else 0  # noqa: E731
        return pick(0.5), pick(0.99)
    return conn.exec_driver_sql(
        "SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY ms), percentile_cont(0.99) WITHIN GROUP (ORDER BY ms) "
        "FROM (SELECT extract(epoch FROM updated_at - created_at) * 1000 AS ms FROM transactions "
        "WHERE status = 'CONFIRMED') l").one()


def audit(engine, posted: list[str]) -> dict:
    with engine.connect() as conn:
        _load_posted(conn, posted)
        q = lambda sql: conn.exec_driver_sql(sql).scalar()  # noqa: E731
        result = {
            "posted": q("SELECT count(*) FROM posted"),
            "missing": q("SELECT count(*) FROM posted p LEFT JOIN transactions t ON t.transaction_id = p.id "
                         "WHERE t.transaction_id IS NULL"),
            "pending": q("SELECT count(*) FROM transactions WHERE status = 'PENDING'"),
            "confirmed": q("SELECT count(*) FROM transactions WHERE status = 'CONFIRMED'"),
            "failed": q("SELECT count(*) FROM transactions WHERE status = 'FAILED'"),
            "confirmed_without_one_ticket": q(
                "SELECT count(*) FROM transactions t WHERE t.status = 'CONFIRMED' AND "
                "(SELECT count(*) FROM tickets k WHERE k.transaction_id = t.transaction_id) <> 1"),
            "tickets_for_unconfirmed": q(
                "SELECT count(*) FROM tickets k JOIN transactions t ON t.transaction_id = k.transaction_id "
                "WHERE t.status <> 'CONFIRMED'"),
            "duplicate_daily_numbers": q(
                "SELECT count(*) FROM (SELECT 1 FROM tickets GROUP BY queue_id, service_day, kind, number "
                "HAVING count(*) > 1) d"),
        }
        # Server-side ingest-to-CONFIRMED lag, free of the device's polling step.
        lag = _confirm_lag(conn)
        result["server_confirm_lag_ms"] = {"p50": round(lag[0] or 0, 1), "p99": round(lag[1] or 0, 1)}
        conn.rollback()
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--posted", required=True)
    parser.add_argument("--drain", type=int, default=180, help="seconds to wait for PENDING to reach zero")
    args = parser.parse_args()
    posted = [line.strip() for line in open(args.posted) if line.strip()] if os.path.exists(args.posted) else []
    engine = sa.create_engine(normalise_database_url(os.environ["DATABASE_URL"]))
    deadline = time.time() + args.drain
    while True:
        result = audit(engine, posted)
        if result["pending"] == 0 or time.time() > deadline:
            break
        time.sleep(5)
    ok = (result["missing"] == 0 and result["pending"] == 0 and result["confirmed_without_one_ticket"] == 0
          and result["tickets_for_unconfirmed"] == 0 and result["duplicate_daily_numbers"] == 0)
    result["ok"] = ok
    print(json.dumps(result, indent=1))
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
