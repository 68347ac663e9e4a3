"""HTTP tier: gunicorn's worker classes (gevent, gthread, sync) and granian, on the load test's mix.

    .venv/bin/python benchmarks/http_tier.py --duration 40

Starts every variant at once, each on its own port, all serving the real app
(``wsgi:app``, production settings, two worker processes each, one per
core of this 2-core machine) against one throwaway Postgres
database and a leased Redis db. The same closed-loop client (``--procs``
processes x ``--threads`` keep-alive connections) then loads each variant
for ``--duration`` seconds in total, in ``--rounds`` slices taken in turns, so
that the machine's background load hits every variant alike. Each connection
walks the load test's HTTP mix (locustfiles/kiosk_load.py, WebSockets aside:
they have their own process): a kiosk's signed payment and status polls,
a phone's tracking poll, a TV's state poll, a counter's queue view and
dashboard, a manager's stats. Writes are kept out of the mix (payments stay
PENDING: no Celery worker runs) so every slice sees the same data.

Prints, per variant: req/s, p50/p95/p99 latency, non-2xx, and the server CPU
per request (the variant's processes plus its Postgres backends, from /proc),
and each variant's req/s as a ratio of gunicorn gevent's (the Procfile's
``web`` until granian replaced it: ``serve.py``, the ``granian`` variant).
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

from benchmarks.payments_ingest import free_port, pct, stop, wait_http  # noqa: E402
from benchmarks.support import (cpu_seconds, lease_redis, postgres_backends, process_tree,  # noqa: E402
                                throwaway_database)

VENV = os.path.join(ROOT, ".venv/bin")

# name -> (command, extra env). Two worker processes each: one per core.
VARIANTS = {
    "gunicorn-gevent": ([f"{VENV}/gunicorn", "-c", "gunicorn.conf.py", "benchmarks.tier_app:app"],
                        {"GUNICORN_WORKER_CLASS": "gevent", "WEB_CONCURRENCY": "2"}),
    "gunicorn-gthread": ([f"{VENV}/gunicorn", "-c", "gunicorn.conf.py", "--threads", "8", "benchmarks.tier_app:app"],
                         {"GUNICORN_WORKER_CLASS": "gthread", "WEB_CONCURRENCY": "2"}),
    "gunicorn-sync": ([f"{VENV}/gunicorn", "-c", "gunicorn.conf.py", "benchmarks.tier_app:app"],
                      {"GUNICORN_WORKER_CLASS": "sync", "WEB_CONCURRENCY": "2"}),
    # The Procfile's web process: its launcher, its defaults (2 workers, 8 threads).
    "granian": ([f"{VENV}/python", "serve.py", "benchmarks.tier_app:app"],
                {"WEB_CONCURRENCY": "2", "WEB_THREADS": "8"}),
}

# The load test's HTTP mix, by weight (kiosk_load.py: devices poll their
# payment until it settles, phones and TVs poll, counters look at their queue).
MIX = (["payment_status"] * 4 + ["post_payment"] * 1 + ["tracking"] * 3 + ["display_state"] * 1
       + ["get_queue"] * 2 + ["dashboard_queues"] * 1 + ["vip"] * 1)


def seed(database_url: str, redis_url: str, env: dict) -> dict:
    from benchmarks.route_cpu import seed as seed_routes
    from kiosk import create_app

    os.environ.update({k: env[k] for k in ("DATABASE_URL", "REDIS_URL", "KIOSK_ENV", "FORCE_HTTPS", "SECRET_KEY",
                                           "DEVICE_SECRET_KEYS")})
    app = create_app()
    seeded = seed_routes(app)
    with app.app_context():
        from kiosk.extensions import db

        db.engine.dispose()
    return seeded


def start(name: str, env: dict, port: int, database_url: str, log) -> subprocess.Popen:
    command, extra = VARIANTS[name]
    command = [part.replace("{port}", str(port)) for part in command]
    process = subprocess.Popen(
        command, cwd=ROOT, stdout=log, stderr=log, start_new_session=True,
        env={**env, **extra, "BIND": f"127.0.0.1:{port}",
             "DATABASE_URL": f"{database_url}?application_name=bench-{name}",
             "PROMETHEUS_MULTIPROC_DIR": tempfile.mkdtemp(prefix=f"kiosk-prom-{name}-")})
    wait_http(port, process)
    return process


# --- the client -------------------------------------------------------------------------------------

class Mix:
    """One keep-alive connection walking the mix."""

    def __init__(self, port: int, seeded: dict, tokens: dict, offset: int):
        from kiosk.devices.signing import signed_headers

        self.port, self.s, self.tokens, self.n = port, seeded, tokens, offset
        self.signed_headers = signed_headers
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        self.payment = seeded["payment"]
        today = time.strftime("%Y-%m-%d")
        self.month = (today[:8] + "01", today)

    def _signed(self, method: str, path: str, body: bytes = b"") -> tuple[str, str, bytes, dict]:
        headers = self.signed_headers(self.s["device"], self.s["secret"], method, path, body)
        if body:
            headers["Content-Type"] = "application/json"
        return method, path, body, headers

    def next_request(self) -> tuple[str, str, bytes, dict]:
        kind = MIX[self.n % len(MIX)]
        self.n += 1
        staff = {"Authorization": "Bearer " + self.tokens["agent"]}
        if kind == "payment_status":
            return self._signed("GET", f"/iot/payments/{self.payment}")
        if kind == "post_payment":
            body = json.dumps({"transaction_id": str(uuid.uuid4()), "amount": 500}).encode()
            return self._signed("POST", "/iot/payments", body)
        if kind == "tracking":
            return "GET", f"/t/{self.s['tracked']}.json", b"", {}
        if kind == "display_state":
            return "GET", f"/display/{self.s['display']}/state.json", b"", {}
        if kind == "get_queue":
            return "GET", f"/api/queues/{self.s['queue']}", b"", staff
        if kind == "dashboard_queues":
            return "GET", "/dashboard/queues", b"", staff
        manager = {"Authorization": "Bearer " + self.tokens["manager"]}
        return "GET", f"/stats/vip/count?from={self.month[0]}&to={self.month[1]}", b"", manager

    def send(self) -> int:
        method, path, body, headers = self.next_request()
        try:
            self.conn.request(method, path, body=body or None, headers=headers)
            response = self.conn.getresponse()
            response.read()
            if response.getheader("Connection", "").lower() == "close":
                self.conn.close()
            return response.status
        except (OSError, http.client.HTTPException):
            self.conn.close()
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
            return 0


def _client_proc(port: int, seeded: dict, tokens: dict, threads: int, seconds: float, warmup: float, proc: int,
                 queue) -> None:
    start_at = time.time() + warmup
    stop_at = start_at + seconds
    results = []

    def run(slot: int) -> None:
        mix = Mix(port, seeded, tokens, offset=(proc * threads + slot) * 5)
        statuses: dict[int, int] = {}
        latencies = []
        while time.time() < stop_at:
            sent = time.perf_counter()
            status = mix.send()
            if time.time() >= start_at:
                statuses[status] = statuses.get(status, 0) + 1
                latencies.append(time.perf_counter() - sent)
        results.append((statuses, latencies))

    workers = [threading.Thread(target=run, args=(i,)) for i in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    statuses: dict[int, int] = {}
    for part, _ in results:
        for code, count in part.items():
            statuses[code] = statuses.get(code, 0) + count
    queue.put((statuses, [x for _, lat in results for x in lat]))


def server_cpu_seconds(process: subprocess.Popen, database: str, name: str) -> float:
    return cpu_seconds(process_tree(process.pid) + postgres_backends(database, f"bench-{name}"))


def load(name: str, process: subprocess.Popen, port: int, seeded: dict, tokens: dict, args, database: str) -> dict:
    cpu_before = server_cpu_seconds(process, database, name)
    queue: multiprocessing.Queue = multiprocessing.Queue()
    seconds = args.duration / args.rounds
    children = [multiprocessing.Process(target=_client_proc, args=(port, seeded, tokens, args.threads, seconds,
                                                                   args.warmup, i, queue))
                for i in range(args.procs)]
    for child in children:
        child.start()
    parts = [queue.get() for _ in children]
    for child in children:
        child.join()
    statuses: dict[int, int] = {}
    for part, _ in parts:
        for code, count in part.items():
            statuses[code] = statuses.get(code, 0) + count
    return {"statuses": statuses, "latencies": [x for _, lat in parts for x in lat],
            "cpu_s": server_cpu_seconds(process, database, name) - cpu_before}


def login(port: int, email: str) -> str:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("POST", "/auth/login", body=json.dumps({"email": email, "password": "bench-password-1"}),
                 headers={"Content-Type": "application/json"})
    response = conn.getresponse()
    body = json.loads(response.read())
    assert response.status == 200, body
    return body["access_token"]


def post_one_payment(port: int, seeded: dict) -> str:
    from kiosk.devices.signing import signed_headers

    tid = str(uuid.uuid4())
    body = json.dumps({"transaction_id": tid, "amount": 500}).encode()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = {**signed_headers(seeded["device"], seeded["secret"], "POST", "/iot/payments", body),
               "Content-Type": "application/json"}
    conn.request("POST", "/iot/payments", body=body, headers=headers)
    response = conn.getresponse()
    response.read()
    assert response.status == 202, response.status
    return tid


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=float, default=40, help="seconds of load per variant, in all")
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--warmup", type=float, default=1)
    parser.add_argument("--procs", type=int, default=2)
    parser.add_argument("--threads", type=int, default=12)
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    parser.add_argument("--keep-logs", action="store_true")
    args = parser.parse_args()

    from cryptography.fernet import Fernet

    database_url, drop_database = throwaway_database("kiosk_bench_tier")
    database = database_url.rsplit("/", 1)[1]
    redis_url, release_redis = lease_redis()
    logs = tempfile.mkdtemp(prefix="kiosk-bench-tier-")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SENTRY_", "KIOSK_", "GUNICORN_"))}
    env.update({"DATABASE_URL": database_url, "REDIS_URL": redis_url, "KIOSK_ENV": "production",
                "FORCE_HTTPS": "0", "SECRET_KEY": "bench-secret-" + "x" * 32,
                "DEVICE_SECRET_KEYS": Fernet.generate_key().decode(),
                # One client IP and one kiosk: lift the ceilings nobody reaches in production
                # from one address (the limits' code still runs).
                "RATELIMIT_IP_DEFAULT": "10000000/minute", "RATELIMIT_DEFAULT": "10000000/minute",
                "DB_POOL_SIZE": "8", "DB_MAX_OVERFLOW": "8"})
    servers: dict[str, tuple[subprocess.Popen, int]] = {}
    try:
        seeded = seed(database_url, redis_url, env)
        for name in args.variants:
            port = free_port()
            servers[name] = (start(name, env, port, database_url, open(os.path.join(logs, f"{name}.log"), "ab")),
                             port)
        first_port = next(iter(servers.values()))[1]
        tokens = {"agent": login(first_port, "agent@bench.test"), "manager": login(first_port, "manager@bench.test")}
        seeded["payment"] = post_one_payment(first_port, seeded)
        slices: dict[str, list[dict]] = {name: [] for name in servers}
        for _ in range(args.rounds):
            for name, (process, port) in servers.items():
                slices[name].append(load(name, process, port, seeded, tokens, args, database))
        rows = []
        for name, parts in slices.items():
            statuses: dict[int, int] = {}
            for part in parts:
                for code, count in part["statuses"].items():
                    statuses[code] = statuses.get(code, 0) + count
            latencies = sorted(x for part in parts for x in part["latencies"])
            requests = sum(statuses.values())
            ok = sum(count for code, count in statuses.items() if 200 <= code < 300)
            rows.append({"variant": name, "req_per_s": round(ok / args.duration, 1),
                         "p50_ms": round(pct(latencies, 50) * 1000, 1), "p95_ms": round(pct(latencies, 95) * 1000, 1),
                         "p99_ms": round(pct(latencies, 99) * 1000, 1), "non_2xx": requests - ok,
                         "statuses": statuses,
                         "cpu_ms_per_req": round(sum(p["cpu_s"] for p in parts) * 1000 / max(requests, 1), 2)})
        for row in rows:
            print(json.dumps(row), flush=True)
        reference = next((r["req_per_s"] for r in rows if r["variant"] == "gunicorn-gevent"), None)
        print()
        print(f"mix of {len(MIX)} requests, client {args.procs}x{args.threads} keep-alive connections, "
              f"{args.duration:.0f} s per variant in {args.rounds} slices; load average {os.getloadavg()[0]:.1f}")
        print("| variant | req/s | vs gunicorn-gevent | p50 ms | p95 ms | p99 ms | non-2xx | server CPU ms/req |")
        print("|---|---:|---:|---:|---:|---:|---:|---:|")
        for r in rows:
            ratio = f"{r['req_per_s'] / reference:.2f}" if reference else "-"
            print(f"| {r['variant']} | {r['req_per_s']} | {ratio} | {r['p50_ms']} | {r['p95_ms']} | {r['p99_ms']} "
                  f"| {r['non_2xx']} | {r['cpu_ms_per_req']} |")
        if args.keep_logs:
            print(f"logs in {logs}")
    finally:
        for process, _port in servers.values():
            stop(process)
        drop_database()
        release_redis()
        if not args.keep_logs:
            import shutil

            shutil.rmtree(logs, ignore_errors=True)


if __name__ == "__main__":
    main()
