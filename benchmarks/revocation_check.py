"""The revocation check alone: the process's copy against the Redis GET it replaced.

    .venv/bin/python benchmarks/revocation_check.py --calls 2000 --rounds 5

A throwaway Postgres database and a leased Redis db; one user. In turns
(``--rounds`` times), ``--calls`` checks through ``current_version`` (served
by the process's copy once its listener is subscribed) and ``--calls``
through ``_shared_version`` (the path of issue 16: one Redis GET). Prints
the CPU (``time.process_time``) and wall time per call of each, and ratios.
Not a test: run it by hand; figures go to docs/performance.md.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from benchmarks.support import lease_redis, throwaway_database  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    from cryptography.fernet import Fernet

    database_url, drop_database = throwaway_database("kiosk_bench_revocation")
    redis_url, release_redis = lease_redis(11)
    os.environ.update({"DATABASE_URL": database_url, "REDIS_URL": redis_url, "KIOSK_ENV": "production",
                       "FORCE_HTTPS": "0", "SECRET_KEY": "bench-secret-" + "x" * 32,
                       "DEVICE_SECRET_KEYS": Fernet.generate_key().decode()})
    from flask_migrate import upgrade

    from kiosk import create_app
    from kiosk.auth import revocation
    from kiosk.auth.services import create_user
    from kiosk.establishments.services import create_establishment

    app = create_app()
    try:
        with app.app_context():
            upgrade(revision="heads")
            establishment = create_establishment("Bench clinic", "Africa/Abidjan", "XOF", 500)
            user_id = str(create_user(establishment.id, "m@bench.test", "a password here", "manager").id)
            revocation.current_version(user_id)  # starts the listener
            assert revocation.local_cache().wait_until_listening(10)
            revocation.current_version(user_id)
            paths = {"process copy": lambda: revocation.current_version(user_id),
                     "Redis GET (before)": lambda: revocation._shared_version(user_id)}
            cpu: dict[str, list[float]] = {name: [] for name in paths}
            wall: dict[str, list[float]] = {name: [] for name in paths}
            for _ in range(args.rounds):
                for name, check in paths.items():
                    started_cpu, started = time.process_time(), time.perf_counter()
                    for _ in range(args.calls):
                        check()
                    cpu[name].append((time.process_time() - started_cpu) / args.calls * 1e6)
                    wall[name].append((time.perf_counter() - started) / args.calls * 1e6)
        print(f"load average {os.getloadavg()[0]:.1f}; {args.rounds} rounds x {args.calls} calls each")
        print("| path | CPU µs/call (median of rounds) | wall µs/call |")
        print("|---|---:|---:|")
        for name in paths:
            print(f"| {name} | {statistics.median(cpu[name]):.1f} | {statistics.median(wall[name]):.1f} |")
        before, after = "Redis GET (before)", "process copy"
        print(f"CPU before/after = {statistics.median(cpu[before]) / statistics.median(cpu[after]):.0f}x; "
              f"wall before/after = {statistics.median(wall[before]) / statistics.median(wall[after]):.0f}x")
    finally:
        with app.app_context():
            from kiosk.extensions import db

            db.engine.dispose()
        drop_database()
        release_redis()


if __name__ == "__main__":
    main()
