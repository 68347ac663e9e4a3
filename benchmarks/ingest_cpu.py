"""The ingest skeleton against the full ``POST /iot/payments``, in one process: CPU and round trips.

    .venv/bin/python benchmarks/ingest_cpu.py --calls 300 --rounds 3
    .venv/bin/python benchmarks/ingest_cpu.py --profile full --calls 300    # cProfile (CPU clock)

The same WSGI callable as ``benchmarks/payments_ingest.py`` (``benchmarks/
payments_app.py``: the skeleton and the full app, production settings, real
limits, the request log to a file as under gunicorn), called directly with a
prebuilt environ (no HTTP, no test client), alternately ``--calls`` requests
to each target for ``--rounds`` rounds. Per request: this process's CPU
(``time.process_time``), the CPU of the database's Postgres backends (from
/proc), and the number of SQL statements, pool checkouts (each a
``pool_pre_ping`` round trip when the engine pings) and Redis commands sent.
No Celery worker runs: the broker's queue is emptied between rounds.

What ``payments_ingest.py`` measures is the same work under gunicorn with a
worker and a client competing for the cores; this one says where the web
process's share goes. Not a test: run it by hand.
"""
from __future__ import annotations

import argparse
import io
import json
import logging
import os
import statistics
import sys
import tempfile
import time
import uuid

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from benchmarks.support import cpu_seconds, lease_redis, postgres_backends, throwaway_database  # noqa: E402

TARGETS = {"skeleton": "/bench/skeleton/payments", "full": "/iot/payments", "full-before": "/iot/payments"}


# --undo NAME: the "full-before" target runs the full app with these changes of issue 18's
# "Ingest pipeline" section undone, alternately with the others in the same run.
def _undo_broker():
    from kiosk.payments import broker

    real = broker.push_task
    broker.push_task = lambda *args, **kwargs: False  # back to apply_async
    return lambda: setattr(broker, "push_task", real)


def _undo_last_seen():
    from kiosk.devices import guard

    real = guard.authenticate_device
    guard.authenticate_device = lambda defer_last_seen=False: real(False)  # written and committed at once
    return lambda: setattr(guard, "authenticate_device", real)


def _undo_device_ttl():
    # Under payments_ingest.py's load each of the 400 kiosks reaches a worker
    # every 10-20 s, so with the old 10 s TTL every request missed: modelled
    # as a cache dropped before each request (run() does it for this undo).
    return lambda: None


UNDO = {"broker": _undo_broker, "device-ttl": _undo_device_ttl, "last-seen": _undo_last_seen}
_counts = {"sql": 0, "checkout": 0, "redis": 0}


def _count_round_trips(engines) -> None:
    import redis
    from sqlalchemy import event

    for engine in engines:
        event.listen(engine, "before_cursor_execute", lambda *a, **k: _counts.__setitem__("sql", _counts["sql"] + 1))
        event.listen(engine.pool, "checkout", lambda *a, **k: _counts.__setitem__("checkout", _counts["checkout"] + 1))
    send = redis.connection.AbstractConnection.send_packed_command

    def counted(self, command, check_health=True):
        _counts["redis"] += 1
        return send(self, command, check_health)

    redis.connection.AbstractConnection.send_packed_command = counted


def backend_cpu(database: str) -> float:
    return cpu_seconds(postgres_backends(database))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--devices", type=int, default=50)
    parser.add_argument("--profile", choices=list(TARGETS))
    parser.add_argument("--sort", default="cumulative")
    parser.add_argument("--cold-devices", action="store_true",
                        help="drop the process's device cache before each request, as under payments_ingest.py's "
                             "load (400 kiosks, each seen by a worker less often than the cache's TTL)")
    parser.add_argument("--last-seen-every", type=int, default=0,
                        help="open the device's last_seen gate before every Nth request (payments_ingest.py's "
                             "400 kiosks at 40-100 req/s: one request in 6-15 writes it)")
    parser.add_argument("--undo", nargs="*", default=[], choices=list(UNDO),
                        help="also run 'full-before': the full app with these changes undone")
    args = parser.parse_args()

    from cryptography.fernet import Fernet
    from werkzeug.test import EnvironBuilder

    database_url, drop_database = throwaway_database("kiosk_bench_ingest_cpu")
    database = database_url.rsplit("/", 1)[1]
    redis_url, release_redis = lease_redis()
    scratch = tempfile.mkdtemp(prefix="kiosk-ingest-cpu-")
    devices_file = os.path.join(scratch, "devices.json")
    os.environ.update({"DATABASE_URL": database_url, "REDIS_URL": redis_url, "KIOSK_ENV": "production",
                       "FORCE_HTTPS": "0", "SECRET_KEY": "bench-secret-" + "x" * 32,
                       "DEVICE_SECRET_KEYS": Fernet.generate_key().decode(), "BENCH_DEVICES_FILE": devices_file,
                       "RATELIMIT_IP_DEFAULT": "10000000/minute", "DB_POOL_SIZE": "4", "DB_MAX_OVERFLOW": "4"})
    import redis

    from benchmarks.payments_ingest import seed
    from kiosk import create_app, security
    from kiosk.devices import cache as device_cache
    from kiosk.devices.signing import signed_headers

    security.IDENTITY_LIMIT = "100000000/minute"  # one process, a few devices: no 429
    try:
        seeder = create_app()
        logging.getLogger("kiosk").setLevel(logging.WARNING)
        seeded = seed(seeder, args.devices)
        with seeder.app_context():
            from kiosk.extensions import db

            db.engine.dispose()
        logging.getLogger("kiosk").setLevel(logging.NOTSET)
        with open(devices_file, "w") as handle:
            json.dump(seeded, handle)
        from benchmarks import payments_app

        log_file = open(os.path.join(scratch, "web.log"), "w")  # noqa: SIM115 - as gunicorn's log file
        for handler in logging.getLogger().handlers:
            if isinstance(handler, logging.StreamHandler):
                handler.setStream(log_file)
        with payments_app.full.app_context():
            from kiosk.extensions import db

            _count_round_trips([db.engine, payments_app.ENGINE])
        devices = list(seeded["devices"].items())
        broker = redis.Redis.from_url(redis_url)

        def environ(target: str, n: int) -> dict:
            device_id, secret = devices[n % len(devices)]
            path = TARGETS[target]
            body = json.dumps({"transaction_id": str(uuid.uuid4()), "amount": 500}, separators=(",", ":")).encode()
            headers = {**signed_headers(device_id, secret, "POST", path, body), "Content-Type": "application/json"}
            return EnvironBuilder(path=path, method="POST", data=body, headers=headers).get_environ()

        statuses = {}

        def start_response(status, headers, exc_info=None):
            statuses["last"] = status

        def run(target: str, calls: int, profiler=None) -> dict:
            environs = [environ(target, n) for n in range(calls)]
            restore = [UNDO[name]() for name in args.undo] if target == "full-before" else []
            for key in _counts:
                _counts[key] = 0
            cpu, backend_before = [], backend_cpu(database)
            for n, env in enumerate(environs):
                if args.last_seen_every and n % args.last_seen_every == 0:
                    broker.delete(f"last_seen:{env['HTTP_X_DEVICE_ID']}")
                if args.cold_devices or (target == "full-before" and "device-ttl" in args.undo):
                    device_cache.listener().drop()
                if profiler is not None:
                    profiler.enable()
                started = time.process_time()
                b"".join(payments_app.app(env, start_response))
                cpu.append(time.process_time() - started)
                if profiler is not None:
                    profiler.disable()
                if not statuses["last"].startswith("202"):
                    raise SystemExit(f"{target}: {statuses['last']}")
            backend = backend_cpu(database) - backend_before
            for undo in restore:
                undo()
            broker.delete("celery")
            return {"cpu": cpu, "backend": backend / calls, **{k: v / calls for k, v in _counts.items()}}

        targets = [t for t in TARGETS if t != "full-before" or args.undo]
        for target in targets:  # warm up: every device once (caches, last_seen gates)
            run(target, len(devices))
        if args.profile:
            import cProfile
            import pstats

            profiler = cProfile.Profile(time.process_time)
            run(args.profile, args.calls, profiler)
            out = io.StringIO()
            pstats.Stats(profiler, stream=out).sort_stats(args.sort).print_stats(60)
            print(out.getvalue())
            return
        rows = {target: [] for target in targets}
        print(f"load average before: {os.getloadavg()[0]:.1f}", file=sys.stderr)
        for _ in range(args.rounds):
            for target in targets:
                rows[target].append(run(target, args.calls))
        print(f"load average after: {os.getloadavg()[0]:.1f}", file=sys.stderr)
        print("| target | web CPU µs (mean) | p50 | Postgres backend µs | web + backend | SQL statements "
              "| pool checkouts | Redis commands |")
        print("|---|---:|---:|---:|---:|---:|---:|---:|")
        totals = {}
        for target, parts in rows.items():
            cpu = [x for p in parts for x in p["cpu"]]
            backend = statistics.fmean(p["backend"] for p in parts)
            mean = statistics.fmean(cpu)
            totals[target] = mean + backend
            print(f"| {target} | {mean * 1e6:,.0f} | {statistics.median(cpu) * 1e6:,.0f} | {backend * 1e6:,.0f} "
                  f"| {(mean + backend) * 1e6:,.0f} | {statistics.fmean(p['sql'] for p in parts):.2f} "
                  f"| {statistics.fmean(p['checkout'] for p in parts):.2f} "
                  f"| {statistics.fmean(p['redis'] for p in parts):.2f} |")
        for target in targets[1:]:
            print(f"skeleton/{target} (web + backend CPU per request) = {totals['skeleton'] / totals[target]:.2f}")
    finally:
        try:
            from benchmarks import payments_app

            payments_app.ENGINE.dispose()
            with payments_app.full.app_context():
                from kiosk.extensions import db

                db.engine.dispose()
        except Exception:  # noqa: BLE001 - the database goes anyway
            pass
        drop_database()
        release_redis()
        import shutil

        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
