"""Stats benchmark: 1,000,000 transactions, 50 establishments, one year.

    .venv/bin/python benchmarks/stats_bench.py            # ~1-2 min
    .venv/bin/python benchmarks/stats_bench.py --cold 60 --warm 300 --keep-db

In a throwaway Postgres database (migrated to heads, so with the app's
indexes and row-level security) it seeds, with ``INSERT ... SELECT
generate_series``:

- 50 establishments in 10 time zones (Honolulu to Kiritimati, Paris, ...),
- 1,000,000 transactions spread evenly over the 365 days ending today, in
  arrival order as real payments arrive (90 % CONFIRMED, 7 % FAILED, 3 %
  PENDING), i.e. ~20,000 per establishment, ~55 per establishment per day,
- one VIP ticket per CONFIRMED transaction (900,000; ``--with-standard``
  adds 540,000 STANDARD tickets, which the VIP count's partial index skips),

then VACUUM ANALYZE, and times the three endpoints through the Flask test
client (JWT check, tenancy, RLS, Redis cache, JSON: everything but the
socket), each call for a random establishment:

- daily, the full year (365 days) and the last 31 days; monthly, the last 12
  months; VIP count, the full year;
- cold: the establishment's cache generation is bumped before each call
  (``kiosk.cache.invalidate``, outside the timing), so every call
  runs the SQL; Postgres buffers are warm;
- warm: every establishment primed once, then the same calls hit Redis.

It then times one beat warm-up (``stats.warm_up``) over the 50
establishments and ends with EXPLAIN (ANALYZE, BUFFERS) of the cold daily
query, run as the app's role (RLS on), and again as the table owner. The per-request rate limit is disabled (it would 429
a benchmark); request logging stays on (to /dev/null).

Not a test: run it by hand; figures go to docs/performance.md ("Stats").
"""
from __future__ import annotations

import argparse
import logging
import os
import random
import statistics
import sys
import time
import uuid
from datetime import date, timedelta

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from benchmarks.support import PG_ADMIN, REDIS_BASE, lease_redis, throwaway_database  # noqa: E402

import redis  # noqa: E402
import sqlalchemy as sa  # noqa: E402

ZONES = ["Africa/Abidjan", "Europe/Paris", "Pacific/Honolulu", "Pacific/Kiritimati", "America/New_York",
         "Asia/Tokyo", "Asia/Kolkata", "America/Sao_Paulo", "Australia/Sydney", "Africa/Dakar"]
# The year of data ends today, like the ranges a dashboard asks for (and the beat warm-up computes).
TODAY = date.today()
FIRST = TODAY - timedelta(days=364)
_MONTH0 = TODAY.year * 12 + TODAY.month - 1 - 11
MONTH_FROM = f"{_MONTH0 // 12:04d}-{_MONTH0 % 12 + 1:02d}"


# Keys are sequential (uuid from the row number, not gen_random_uuid()): random keys turn a
# bulk load into random index I/O (5 min instead of ~1 for the tickets here).
SEED_TRANSACTIONS = """
INSERT INTO transactions (transaction_id, device_id, establishment_id, amount, currency, status, failure_reason,
                          ticket_id, payload_hash, attempts, request_id, created_at, updated_at)
SELECT ('00000000-0000-4000-8000-' || lpad(to_hex(i), 12, '0'))::uuid, 'bench', e.id,
       500 + ((i / :e) % 5) * 100, e.currency,
       CASE WHEN (i / :e) % 100 < 90 THEN 'CONFIRMED' WHEN (i / :e) % 100 < 97 THEN 'FAILED' ELSE 'PENDING' END,
       NULL, NULL, md5(i::text), 1, NULL, at, at
FROM generate_series(0, :n - 1) AS i
JOIN (SELECT id, currency, (row_number() OVER (ORDER BY id)) - 1 AS k FROM establishments) e ON e.k = i % :e
CROSS JOIN LATERAL (SELECT timestamptz '{first} 00:00+00' + (i::float8 / :n) * interval '365 days'
                          + random() * interval '10 minutes' AS at) t
"""

SEED_TICKETS = """
INSERT INTO tickets (id, establishment_id, queue_id, service_day, number, code, kind, status, counter,
                     tracking_token, transaction_id, request_id, device_id, call_count, created_at,
                     called_at, served_at, finished_at)
SELECT ('00000000-0000-4000-9000-' || lpad(to_hex(t.n), 12, '0'))::uuid, t.establishment_id, q.id,
       t.created_at::date, t.n, 'V-001', t.kind, 'SERVED', '1', 'bench-' || t.n, t.transaction_id, NULL,
       'bench', 1, t.created_at, NULL, NULL, NULL
FROM (SELECT establishment_id, created_at, kind, transaction_id, row_number() OVER () AS n FROM (
        SELECT establishment_id, created_at, 'VIP' AS kind, transaction_id FROM transactions
        WHERE status = 'CONFIRMED'
        UNION ALL
        SELECT establishment_id, created_at + interval '1 minute', 'STANDARD', NULL FROM transactions
        WHERE :standard AND status = 'CONFIRMED' AND amount % 200 = 100) u) t
JOIN queues q ON q.establishment_id = t.establishment_id
"""


def seed(app, owner, establishments: int, transactions: int, standard: bool) -> list[str]:
    from kiosk.establishments.services import create_establishment
    from kiosk.queues.services import create_queue
    from kiosk.tenancy import tenant_scope

    ids = []
    with app.app_context():
        for n in range(establishments):
            est = create_establishment(f"Bench {n}", ZONES[n % len(ZONES)], "EUR" if n % 2 else "XOF", 500, "fr")
            with tenant_scope(est.id):
                create_queue("General", "A")
            ids.append(str(est.id))
    started = time.perf_counter()
    with owner.begin() as conn:
        # Secondary indexes are dropped for the load and rebuilt after (a sorted build is much
        # faster than a million inserts); the schema measured is exactly the migrated one.
        indexes = conn.exec_driver_sql(
            "SELECT indexname, indexdef FROM pg_indexes i WHERE tablename IN ('transactions', 'tickets') "
            "AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)").all()
        for name, _ in indexes:
            conn.exec_driver_sql(f'DROP INDEX "{name}"')
    with owner.begin() as conn:
        # Seeding only: skip FK triggers (the rows reference what was just created).
        conn.exec_driver_sql("SET LOCAL session_replication_role = replica")
        conn.execute(sa.text(SEED_TRANSACTIONS.format(first=FIRST.isoformat())), {"n": transactions, "e": establishments})
    seeded_tx = time.perf_counter() - started
    with owner.begin() as conn:
        conn.exec_driver_sql("SET LOCAL session_replication_role = replica")
        conn.execute(sa.text(SEED_TICKETS), {"standard": standard})
    with owner.begin() as conn:
        for _, definition in indexes:
            conn.exec_driver_sql(definition)
    seeded_all = time.perf_counter() - started
    with owner.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("VACUUM ANALYZE transactions")
        conn.exec_driver_sql("VACUUM ANALYZE tickets")
        counts = conn.exec_driver_sql(
            "SELECT (SELECT count(*) FROM transactions), (SELECT count(*) FROM transactions "
            "WHERE status = 'CONFIRMED'), (SELECT count(*) FROM tickets)").one()
    print(f"seeded {counts[0]:,} transactions ({counts[1]:,} CONFIRMED), {counts[2]:,} tickets, "
          f"{establishments} establishments: {seeded_tx:.1f} s + tickets and {len(indexes)} indexes "
          f"{seeded_all - seeded_tx:.1f} s "
          f"+ vacuum {time.perf_counter() - started - seeded_all:.1f} s")
    return ids


def tokens_for(app, ids: list[str]) -> dict[str, str]:
    from flask_jwt_extended import create_access_token

    with app.app_context():
        return {i: create_access_token(identity=str(uuid.uuid4()),
                                       additional_claims={"establishment_id": i, "role": "manager"})
                for i in ids}


ENDPOINTS = [
    ("daily, 365 days", f"/stats/revenue/daily?from={FIRST}&to={TODAY}", "days"),
    ("daily, 31 days", f"/stats/revenue/daily?from={TODAY - timedelta(days=30)}&to={TODAY}", "days"),
    ("monthly, 12 months", f"/stats/revenue/monthly?from={MONTH_FROM}&to={TODAY:%Y-%m}", "months"),
    ("VIP count, 365 days", f"/stats/vip/count?from={FIRST}&to={TODAY}", "days"),
]


def pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def measure(app, tokens: dict[str, str], path: str, key: str, calls: int, cold: bool) -> list[float]:
    from kiosk.cache import invalidate

    client = app.test_client()
    ids = list(tokens)
    rng = random.Random(42)
    if not cold:
        for est in ids:  # prime
            assert client.get(path, headers={"Authorization": f"Bearer {tokens[est]}"}).status_code == 200
    samples = []
    for _ in range(calls):
        est = rng.choice(ids)
        headers = {"Authorization": f"Bearer {tokens[est]}"}
        if cold:
            with app.app_context():
                invalidate(est)
        started = time.perf_counter()
        response = client.get(path, headers=headers)
        samples.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, response.get_json()
        assert response.get_json()[key]
    return samples


def explain(app, owner, est_id: str) -> str:
    from zoneinfo import ZoneInfo

    from kiosk.establishments.models import Establishment
    from kiosk.extensions import db
    from kiosk.payments.models import Transaction
    from kiosk.stats import services
    from kiosk.tenancy import tenant_scope

    with app.app_context(), tenant_scope(est_id):
        est = db.session.get(Establishment, uuid.UUID(est_id))
        zone = ZoneInfo(est.timezone)
        start = services._utc_midnight(FIRST, zone)
        end = services._utc_midnight(TODAY + timedelta(days=1), zone)
        statement = services._grouped_statement(
            Transaction, [sa.func.coalesce(sa.func.sum(Transaction.amount), 0), sa.func.count()],
            [Transaction.status == "CONFIRMED"], est.timezone, start, end, "day")
        compiled = statement.compile(dialect=db.engine.dialect, compile_kwargs={"literal_binds": True})
        rows = db.session.execute(sa.text(f"EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) {compiled}")).all()
        db.session.rollback()
    with owner.connect() as conn:  # the same query with RLS bypassed (table owner), for the cost of the policy
        bare = conn.exec_driver_sql(f"EXPLAIN (ANALYZE, COSTS OFF) {compiled}".replace("%", "%%")).all()
    return (str(compiled) + "\n\n" + "\n".join(r[0] for r in rows)
            + "\n\nSame query without row-level security (table owner):\n" + "\n".join(r[0] for r in bare))


def service_hit_ms(app, est_id: str, calls: int = 300) -> tuple[float, float]:
    """p50/p95 of a cache hit through the service alone (no HTTP, no JWT): the cache's own cost."""
    from kiosk.stats import services
    from kiosk.tenancy import tenant_scope

    samples = []
    with app.app_context(), tenant_scope(est_id):
        services.revenue_daily(FIRST, TODAY, as_json=True)
        for _ in range(calls):
            started = time.perf_counter()
            services.revenue_daily(FIRST, TODAY, as_json=True)
            samples.append((time.perf_counter() - started) * 1000)
    return pct(samples, .5), pct(samples, .95)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--transactions", type=int, default=1_000_000)
    parser.add_argument("--establishments", type=int, default=50)
    parser.add_argument("--cold", type=int, default=100, help="cold calls per endpoint")
    parser.add_argument("--warm", type=int, default=400, help="warm calls per endpoint")
    parser.add_argument("--with-standard", action="store_true",
                        help="also ~540,000 STANDARD tickets (the VIP query reads a VIP-only index; slower seed)")
    parser.add_argument("--keep-db", action="store_true", help="do not drop the database at the end")
    args = parser.parse_args()

    from tests.conftest import make_config

    from flask_migrate import upgrade

    from kiosk import create_app

    database_url, drop_database = throwaway_database("kiosk_bench_stats")
    redis_url, release_redis = lease_redis()
    begun = time.perf_counter()
    print(f"load average before: {os.getloadavg()[0]:.1f} (1 min) on {os.cpu_count()} CPUs")
    try:
        app = create_app(make_config(database_url, redis_url, RATELIMIT_ENABLED=False))
        for handler in logging.getLogger().handlers:
            if isinstance(handler, logging.StreamHandler):
                handler.setStream(open(os.devnull, "w"))  # noqa: SIM115 - lives as long as the run
        with app.app_context():
            upgrade(revision="heads")
        owner = sa.create_engine(database_url)
        ids = seed(app, owner, args.establishments, args.transactions, args.with_standard)
        tokens = tokens_for(app, ids)

        print(f"\n{'endpoint':<22} {'cold p50':>9} {'cold p95':>9} {'warm p50':>9} {'warm p95':>9} "
              f"{'p95 ratio':>10}   (ms, {args.cold} cold / {args.warm} warm calls)")
        for label, path, key in ENDPOINTS:
            cold = measure(app, tokens, path, key, args.cold, cold=True)
            warm = measure(app, tokens, path, key, args.warm, cold=False)
            print(f"{label:<22} {pct(cold, .5):9.2f} {pct(cold, .95):9.2f} {pct(warm, .5):9.2f} "
                  f"{pct(warm, .95):9.2f} {pct(cold, .95) / pct(warm, .95):9.1f}x", flush=True)
        from kiosk.stats.tasks import warm_up

        started = time.perf_counter()
        warmed = warm_up.apply().result
        print(f"\nbeat warm-up of every establishment's dashboard defaults: {warmed}, "
              f"{time.perf_counter() - started:.1f} s")
        hit50, hit95 = service_hit_ms(app, ids[0])
        print(f"\ncache hit through the service alone (daily, 365 days; no HTTP/JWT): p50 {hit50:.2f} ms, "
              f"p95 {hit95:.2f} ms")
        print(f"load average during the run: {os.getloadavg()[0]:.1f} (1 min) on {os.cpu_count()} CPUs")
        print("\nEXPLAIN of the cold daily query (365 days, one establishment, app role with RLS):\n")
        print(explain(app, owner, ids[1]))
        owner.dispose()
        with app.app_context():
            from kiosk.extensions import db

            db.session.remove()
            db.engine.dispose()
    finally:
        release_redis()
        if args.keep_db:
            print(f"kept {database_url}")
        else:
            drop_database()
    print(f"\ntotal run {time.perf_counter() - begun:.0f} s")


if __name__ == "__main__":
    main()
