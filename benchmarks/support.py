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


def cpu_seconds(pids) -> float:
    """User + system CPU used so far by these processes (those gone are skipped)."""
    import psutil

    total = 0.0
    for pid in pids:
        try:
            times = psutil.Process(pid).cpu_times()
            total += times.user + times.system
        except psutil.Error:
            pass
    return total


def process_tree(pid: int, include_self: bool = True) -> list[int]:
    """A server's pid and its workers' (recursively); [] if it is gone."""
    import psutil

    try:
        children = [child.pid for child in psutil.Process(pid).children(recursive=True)]
    except psutil.Error:
        return []
    return ([pid] if include_self else []) + children


def postgres_backends(database: str, application_name: str | None = None) -> list[int]:
    """Pids of the Postgres backends serving ``database`` (optionally one application's), not this query's own."""
    import sqlalchemy as sa

    query = "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()"
    params: tuple = (database,)
    if application_name is not None:
        query += " AND application_name = %s"
        params += (application_name,)
    engine = sa.create_engine(PG_ADMIN)
    with engine.connect() as conn:
        pids = [row[0] for row in conn.exec_driver_sql(query, params)]
    engine.dispose()
    return pids
