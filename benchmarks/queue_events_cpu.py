"""CPU of one payment in the worker, with its queue event inline or coalesced (issue 18).

    .venv/bin/python benchmarks/queue_events_cpu.py --payments 40

In-process, against a throwaway Postgres database and a leased Redis db
(production settings; Celery's publish of the coalesced task is stubbed, so
the broker's own cost is left out of both). For each waiting-list size:
``process_transaction`` with QUEUE_EVENTS_INLINE on (the payment recomputes
its queue's calling order and ETAs, as before) and off (it marks the queue and
schedules one run), then the run itself (``publish_scheduled_waiting_list``).
CPU time of this process (``time.process_time``: Postgres's and Redis's own
CPU are not in it), median, so the figures do not depend on what else the
machine runs. How many payments one run serves depends on their arrival:
benchmarks/payments_ingest.py's latency phases count it.
"""
from __future__ import annotations

import argparse
import logging
import os
import statistics
import sys
import time
import uuid
from datetime import datetime, timezone

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from benchmarks.support import lease_redis, throwaway_database  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--payments", type=int, default=40, help="per size and mode")
    parser.add_argument("--waiting", type=int, nargs="+", default=[30, 600])
    args = parser.parse_args()

    from cryptography.fernet import Fernet

    database_url, drop = throwaway_database("kiosk_bench_qevents")
    redis_url, release = lease_redis()
    os.environ.update({"DATABASE_URL": database_url, "REDIS_URL": redis_url, "KIOSK_ENV": "production",
                       "FORCE_HTTPS": "0", "SECRET_KEY": "bench-secret-" + "x" * 32,
                       "DEVICE_SECRET_KEYS": Fernet.generate_key().decode()})
    import redis
    import sqlalchemy as sa

    from benchmarks.payments_ingest import seed, set_waiting, trim_waiting
    from kiosk import create_app
    from kiosk.extensions import db
    from kiosk.payments import processing
    from kiosk.payments.models import Transaction
    from kiosk.queues import services
    from kiosk.queues.models import Queue
    from kiosk.tenancy import system_scope, tenant_scope

    app = create_app()
    logging.getLogger("kiosk").setLevel(logging.WARNING)
    marks = redis.Redis.from_url(redis_url)
    try:
        seeded = seed(app, 2)
        establishment_id, device_id = seeded["establishment_id"], next(iter(seeded["devices"]))
        app.extensions["celery"].tasks[services.PUBLISH_TASK].apply_async = lambda *a, **k: None
        with app.app_context(), system_scope():
            queue_id = str(db.session.execute(sa.select(Queue.id)).scalar_one())

        def pending() -> uuid.UUID:
            tid, now = uuid.uuid4(), datetime.now(timezone.utc)
            with app.app_context(), tenant_scope(establishment_id):
                db.session.add(Transaction(transaction_id=tid, device_id=device_id, amount=500, currency="XOF",
                                           status="PENDING", payload_hash="0" * 64, attempts=0, created_at=now,
                                           updated_at=now))
                db.session.commit()
            return tid

        def timed(function) -> float:
            start = time.process_time()
            with app.app_context():
                function()
            return (time.process_time() - start) * 1000

        print("| waiting | payment, queue event inline | payment, coalesced | one coalesced run |")
        print("|---:|---:|---:|---:|")
        for size in args.waiting:
            set_waiting(app, database_url, size)
            cpu = {}
            for mode in ("inline", "coalesced"):
                app.config["QUEUE_EVENTS_INLINE"] = mode == "inline"
                samples = []
                for _ in range(args.payments):
                    tid = pending()
                    marks.delete(services._scheduled_key(queue_id))  # each payment the first of its window
                    samples.append(timed(lambda: processing.process_transaction(tid)))
                    trim_waiting(database_url, size)
                cpu[mode] = statistics.median(samples)
            runs = [timed(lambda: services.publish_scheduled_waiting_list(establishment_id, queue_id))
                    for _ in range(args.payments)]
            cpu["run"] = statistics.median(runs)
            print(f"| {size} | {cpu['inline']:.1f} ms | {cpu['coalesced']:.1f} ms | {cpu['run']:.1f} ms |",
                  flush=True)
    finally:
        with app.app_context():
            db.engine.dispose()
        drop()
        release()


if __name__ == "__main__":
    main()
