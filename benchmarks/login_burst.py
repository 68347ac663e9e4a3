"""Login burst: do the other routes stall while staff sign in at opening?

    .venv/bin/python benchmarks/login_burst.py --logins 40 --bursts 3 --rounds 2

One web server (``--server``: the Procfile's granian through ``serve.py``, or gunicorn gevent; ``WEB_CONCURRENCY`` workers,
default 2) serving the real app (``wsgi:app``) on a throwaway Postgres
database and a leased Redis db (12 if free), restarted for each mode:

- ``unbounded``: ``PASSWORD_HASH_THREADS=0`` (before issue 18: gevent's shared
  pool, up to 10 hashes at once per worker);
- ``bounded``: the defaults (1 hash at once per worker, 32 waiting);
- ``bounded-nice5``, ``bounded-nice10``: the same, the hashing threads at a
  lower priority (``PASSWORD_HASH_NICE``).

In each mode, two probe processes pace one request every ``--interval``
seconds on a keep-alive connection each: a staff ``GET /stats/vip/count``
(manager JWT) and a signed ``GET /iot/payments/<unknown id>`` (the whole
signature guard, then 404). First ``--alone`` seconds without logins, then
``--bursts`` bursts of ``--logins`` staff signing in at the same instant
(distinct accounts, one connection each), ``--gap`` seconds apart. A probe
request counts as "during" if it started inside a burst (first login sent to
last answer). Modes take turns ``--rounds`` times, so the machine's
background load hits them alike; prints p50/p95 per route and mode, the
during/alone ratio of p95, and the logins' own latency.

Rate limits are off (one client IP, one probe identity far above 100/min).
Not a test: run it by hand; figures go to docs/performance.md.
"""
from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing
import os
import subprocess
import sys
import tempfile
import threading
import time
import uuid

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from benchmarks.payments_ingest import free_port, stop, wait_http  # noqa: E402
from benchmarks.support import lease_redis, throwaway_database  # noqa: E402

PASSWORD = "opening time, everyone in"
VIP_COUNT = "/stats/vip/count?from=2026-11-01&to=2026-11-30"
MODES = {
    "unbounded": {"PASSWORD_HASH_THREADS": "0"},
    "bounded": {"PASSWORD_HASH_THREADS": "1", "PASSWORD_HASH_NICE": "0"},
    "bounded-nice5": {"PASSWORD_HASH_THREADS": "1", "PASSWORD_HASH_NICE": "5"},
    "bounded-nice10": {"PASSWORD_HASH_THREADS": "1", "PASSWORD_HASH_NICE": "10"},
}


def seed(app, logins: int) -> dict:
    from flask_migrate import upgrade

    from kiosk.auth.models import User
    from kiosk.auth.services import create_user
    from kiosk.devices.services import register_device
    from kiosk.establishments.services import create_establishment
    from kiosk.extensions import db
    from kiosk.queues.services import create_queue
    from kiosk.tenancy import tenant_scope

    with app.app_context():
        upgrade(revision="heads")
        establishment = create_establishment("Bench clinic", "Africa/Abidjan", "XOF", 500)
        manager = create_user(establishment.id, "manager@bench.test", PASSWORD, "manager")
        stored = manager.password_hash  # one hash for every agent: seeding 40 would cost 40 hashes
        with tenant_scope(establishment.id):
            queue = create_queue("General", "A")
            device, secret = register_device("Kiosk", queue.id)
            for n in range(logins):
                db.session.add(User(id=uuid.uuid4(), email=f"agent{n}@bench.test", role="agent", active=True,
                                    token_version=0, password_hash=stored))
            db.session.commit()
        return {"device_id": device.device_id, "secret": secret}


SERVERS = {
    # The Procfile's web process (granian through serve.py), and the gunicorn gevent it replaced.
    "granian": [os.path.join(ROOT, ".venv/bin/python"), "serve.py", "wsgi:app"],
    "gunicorn": [os.path.join(ROOT, ".venv/bin/gunicorn"), "-c", "gunicorn.conf.py", "wsgi:app"],
}
SERVER = "granian"


def start_gunicorn(env: dict, port: int, log) -> subprocess.Popen:
    cmd = SERVERS[SERVER]
    process = subprocess.Popen(cmd, cwd=ROOT, env={**env, "BIND": f"127.0.0.1:{port}"}, stdout=log, stderr=log,
                               start_new_session=True)
    wait_http(port, process)
    return process


def _post_login(conn: http.client.HTTPConnection, email: str) -> tuple[int, dict]:
    conn.request("POST", "/auth/login", body=json.dumps({"email": email, "password": PASSWORD}),
                 headers={"Content-Type": "application/json"})
    response = conn.getresponse()
    return response.status, json.loads(response.read() or b"{}")


# --- probes (own processes: the burst's client threads do not touch their timing) -------------

def _probe(port: int, kind: str, credentials: dict, interval: float, stopping, out: multiprocessing.Queue) -> None:
    from kiosk.devices.signing import signed_headers

    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    samples = []
    next_at = time.time()
    while not stopping.is_set():
        if kind == "staff":
            path, headers = VIP_COUNT, {"Authorization": "Bearer " + credentials["token"]}
        else:
            path = f"/iot/payments/{uuid.uuid4()}"
            headers = signed_headers(credentials["device_id"], credentials["secret"], "GET", path)
        started = time.time()
        try:
            conn.request("GET", path, headers=headers)
            response = conn.getresponse()
            response.read()
            status = response.status
        except OSError:
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            status = 0
        samples.append((started, (time.time() - started) * 1000, status))
        next_at += interval
        time.sleep(max(0.0, next_at - time.time()))
    out.put((kind, samples))


def _burst(port: int, emails: list[str]) -> tuple[float, float, list[tuple[float, int]]]:
    conns = [http.client.HTTPConnection("127.0.0.1", port, timeout=120) for _ in emails]
    for conn in conns:
        conn.connect()
    barrier = threading.Barrier(len(emails) + 1)
    results: list[tuple[float, int]] = []
    lock = threading.Lock()

    def one(conn, email):
        barrier.wait()
        started = time.time()
        try:
            status, _ = _post_login(conn, email)
        except OSError:
            status = 0
        with lock:
            results.append(((time.time() - started) * 1000, status))

    threads = [threading.Thread(target=one, args=(c, e)) for c, e in zip(conns, emails)]
    for thread in threads:
        thread.start()
    barrier.wait()
    started = time.time()
    for thread in threads:
        thread.join()
    ended = time.time()
    for conn in conns:
        conn.close()
    return started, ended, results


def _pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def run_mode(mode: str, env: dict, port: int, log, creds: dict, args) -> dict:
    gunicorn = start_gunicorn({**env, **MODES[mode]}, port, log)
    try:
        # Warm every worker (imports, pools, caches) before measuring.
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        for _ in range(20):
            conn.request("GET", VIP_COUNT, headers={"Authorization": "Bearer " + creds["token"]})
            conn.getresponse().read()
        conn.close()
        _burst(port, [f"agent{n}@bench.test" for n in range(4)])
        stopping = multiprocessing.Event()
        out: multiprocessing.Queue = multiprocessing.Queue()
        probes = [multiprocessing.Process(target=_probe, args=(port, kind, creds, args.interval, stopping, out))
                  for kind in ("staff", "signed")]
        for probe in probes:
            probe.start()
        time.sleep(args.alone + 0.5)
        alone_until = time.time()
        windows, logins = [], []
        for _ in range(args.bursts):
            started, ended, results = _burst(port, [f"agent{i}@bench.test" for i in range(args.logins)])
            windows.append((started, ended))
            logins.extend(results)
            time.sleep(args.gap)
        stopping.set()
        samples = dict(out.get(timeout=60) for _ in probes)
        for probe in probes:
            probe.join(5)
    finally:
        stop(gunicorn)
    result = {"mode": mode, "alone_from": alone_until - args.alone, "routes": {}}
    for kind, taken in samples.items():
        alone = [ms for t, ms, _ in taken if alone_until - args.alone <= t < alone_until]
        during = [ms for t, ms, _ in taken if any(a <= t <= b for a, b in windows)]
        errors = {}
        for _, _, status in taken:
            if status not in (200, 404):
                errors[status] = errors.get(status, 0) + 1
        result["routes"][kind] = {"alone": alone, "during": during, "errors": errors}
    result["logins"] = logins
    result["burst_seconds"] = [round(b - a, 2) for a, b in windows]
    return result


def _probe_token(app) -> str:
    import sqlalchemy as sa

    from kiosk.auth.models import User
    from kiosk.auth.services import issue_token
    from kiosk.extensions import db
    from kiosk.tenancy import system_scope

    with app.app_context(), system_scope():
        manager = db.session.scalars(sa.select(User).where(User.email == "manager@bench.test")).one()
        return issue_token(manager, manager.establishment)["access_token"]


def report(results: dict[str, list[dict]], args) -> None:
    print(f"\n{SERVER} x{os.environ.get('WEB_CONCURRENCY', 2)}; "
          f"{args.rounds} rounds x {args.bursts} bursts of {args.logins} logins; probes every "
          f"{args.interval * 1000:.0f} ms")
    print("| mode | route | p50 alone | p95 alone | p50 during | p95 during | p95 during/alone | n during | errors |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    summary = {}
    for mode, runs in results.items():
        for kind, label in (("staff", "GET /stats/vip/count"), ("signed", "GET /iot/payments/<id>")):
            alone = [ms for run in runs for ms in run["routes"][kind]["alone"]]
            during = [ms for run in runs for ms in run["routes"][kind]["during"]]
            errors = {}
            for run in runs:
                for status, count in run["routes"][kind]["errors"].items():
                    errors[status] = errors.get(status, 0) + count
            ratio = _pct(during, 0.95) / _pct(alone, 0.95)
            summary[(mode, kind)] = _pct(during, 0.95)
            print(f"| {mode} | {label} | {_pct(alone, 0.5):.1f} | {_pct(alone, 0.95):.1f} | {_pct(during, 0.5):.1f} "
                  f"| {_pct(during, 0.95):.1f} | {ratio:.1f} | {len(during)} | {errors or 0} |")
    print()
    print("| mode | logins | p50 ms | p95 ms | max ms | 429 | other non-200 | burst seconds |")
    print("|---|---:|---:|---:|---:|---:|---:|---|")
    for mode, runs in results.items():
        logins = [x for run in runs for x in run["logins"]]
        ms = [m for m, _ in logins]
        busy = sum(1 for _, status in logins if status == 429)
        other = sum(1 for _, status in logins if status not in (200, 429))
        seconds = [s for run in runs for s in run["burst_seconds"]]
        print(f"| {mode} | {len(logins)} | {_pct(ms, 0.5):.0f} | {_pct(ms, 0.95):.0f} | {max(ms):.0f} | {busy} "
              f"| {other} | {', '.join(f'{s:.1f}' for s in seconds)} |")
    if "unbounded" in results:
        for mode in results:
            if mode == "unbounded":
                continue
            for kind in ("staff", "signed"):
                print(f"{kind}: p95 during bursts, unbounded/{mode} = "
                      f"{summary[('unbounded', kind)] / summary[(mode, kind)]:.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--logins", type=int, default=40)
    parser.add_argument("--server", default="granian", choices=list(SERVERS),
                        help="the web server: the Procfile's (granian, serve.py) or gunicorn gevent")
    parser.add_argument("--bursts", type=int, default=3)
    parser.add_argument("--gap", type=float, default=1.5, help="seconds between bursts")
    parser.add_argument("--alone", type=float, default=4, help="seconds measured before the first burst")
    parser.add_argument("--interval", type=float, default=0.02, help="seconds between a probe's requests")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--modes", nargs="+", default=["unbounded", "bounded", "bounded-nice10"], choices=list(MODES))
    args = parser.parse_args()
    global SERVER
    SERVER = args.server

    from cryptography.fernet import Fernet

    database_url, drop_database = throwaway_database("kiosk_bench_login")
    redis_url, release_redis = lease_redis(12)
    logs = tempfile.mkdtemp(prefix="kiosk-bench-login-")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SENTRY_", "KIOSK_", "PASSWORD_HASH_"))}
    env.update({"DATABASE_URL": database_url, "REDIS_URL": redis_url, "KIOSK_ENV": "production",
                "FORCE_HTTPS": "0", "SECRET_KEY": "bench-secret-" + "x" * 32,
                "DEVICE_SECRET_KEYS": Fernet.generate_key().decode(), "RATELIMIT_ENABLED": "0",
                # Postgres's connections are shared with other sessions on this machine.
                "DB_POOL_SIZE": env.get("DB_POOL_SIZE", "8"), "DB_MAX_OVERFLOW": env.get("DB_MAX_OVERFLOW", "8")})
    os.environ.update({k: env[k] for k in ("DATABASE_URL", "REDIS_URL", "KIOSK_ENV", "FORCE_HTTPS", "SECRET_KEY",
                                           "DEVICE_SECRET_KEYS", "RATELIMIT_ENABLED")})
    from kiosk import create_app

    app = create_app()
    try:
        creds = seed(app, args.logins)
        creds["token"] = _probe_token(app)
        port = free_port()
        log = open(os.path.join(logs, "web.log"), "ab")
        results: dict[str, list[dict]] = {mode: [] for mode in args.modes}
        for n in range(args.rounds):
            for mode in args.modes:
                print(f"round {n + 1}: {mode} (load average {os.getloadavg()[0]:.1f})", flush=True)
                results[mode].append(run_mode(mode, env, port, log, creds, args))
        report(results, args)
    finally:
        with app.app_context():
            from kiosk.extensions import db

            db.engine.dispose()
        drop_database()
        release_redis()
        import shutil

        shutil.rmtree(logs, ignore_errors=True)


if __name__ == "__main__":
    main()
