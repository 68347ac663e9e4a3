"""What every benchmark needs around it: a throwaway Postgres database and a
Redis logical db of its own (leased with the same keys as the test suite, so a
benchmark and a test run never share one)."""
from __future__ import annotations

import os
from typing import Callable

PG_ADMIN = os.environ.get("BENCH_PG_ADMIN_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres")
REDIS_BASE = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379")


def throwaway_database(prefix: str) -> tuple[str, Callable[[], None]]:
    """Create ``<prefix>_<pid>``; returns its URL and a function that drops it."""
    import sqlalchemy as sa

    name = f"{prefix}_{os.getpid()}"
    admin = sa.create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')

    def drop() -> None:
        with admin.connect() as conn:
            conn.exec_driver_sql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s "
                                 "AND pid <> pg_backend_pid()", (name,))
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}"')
        admin.dispose()

    return PG_ADMIN.rsplit("/", 1)[0] + "/" + name, drop


def lease_redis(prefer: int | None = None) -> tuple[str, Callable[[], None]]:
    """A Redis logical db nobody else uses, flushed before and after."""
    import redis

    lease = redis.Redis.from_url(REDIS_BASE + "/0")
    order = ([prefer] if prefer else []) + [i for i in range(15, 0, -1) if i != prefer]
    for index in order:
        if lease.set(f"kiosk:test-lease:{index}", f"bench-{os.getpid()}", nx=True, ex=3600):
            url = f"{REDIS_BASE}/{index}"
            redis.Redis.from_url(url).flushdb()
            return url, lambda: (redis.Redis.from_url(url).flushdb(), lease.delete(f"kiosk:test-lease:{index}"))
    raise RuntimeError("no free Redis logical database")
