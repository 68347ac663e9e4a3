"""Payments benchmark: ingest throughput ratios and payment-to-CONFIRMED latency.

    .venv/bin/python benchmarks/payments_ingest.py --duration 20

One run, one web server (``serve.py``, granian, as the Procfile's ``web``;
``--server gunicorn`` for gunicorn gevent, ``gunicorn.conf.py``)
serving ``benchmarks/payments_app.py``: a bare Flask endpoint, the minimal
ingest skeleton and the full app; one real Celery worker (the Procfile's
``worker``, concurrency 2); a throwaway Postgres database and a leased Redis
logical db (13 if free). Real rate limits stay on: the per-device limit is
100/min, so the load spreads over ``--devices`` kiosks, and the loose per-IP
ceiling is raised (the load generator is one IP).

1. Throughput: the same signing client (``--procs`` processes x
   ``--threads`` keep-alive connections, every request signed with a fresh
   nonce and a fresh transaction_id) loads each target for ``--duration``
   seconds in total, in ``--rounds`` slices taken in turns (bare, skeleton,
   full, bare, ...) so background load drifts hit all three alike; prints
   req/s and the ratios full/skeleton and full/bare. The worker keeps running (as in production): between
   targets the broker queue is purged, so each target starts with the worker
   equally busy.
   Also prints the server CPU per request (web workers + the bench
   database's Postgres backends, from /proc), which does not depend on
   what else the machine is doing.
2. Latency: ``--rate`` payments/s (default 10) to the full app for
   ``--latency-seconds``; latency = ``updated_at - created_at`` of each
   CONFIRMED row (stamped by the ingest before its INSERT, then by the
   worker just before its commit). One phase per waiting-list size
   (``--latency-waiting``, default 30 and 600: the throughput phase leaves
   550-760 VIP tickets waiting, and every queue event recomputes the whole
   list) and per way of publishing the payments' queue events
   (``--latency-modes``: ``inline``, one recomputation per payment in the
   payment worker, as before issue 18's coalescing, via QUEUE_EVENTS_INLINE=1;
   ``coalesced``, at most one per queue per 100 ms in a task of its own). The
   list is held at its size during the phase (a thread cancels the oldest
   tickets beyond it every 0.5 s, as counters calling at the arrival rate
   would). The worker is restarted for each phase under
   ``benchmarks/latency_probe.py``, which stamps when it received and ran each
   task: the breakdown shows ingest -> worker received (ingest commit, Celery
   publish, broker), received -> started (waiting for a free pool process),
   started -> CONFIRMED stamp (the task's own work), and the runs of the
   queue-event task.

Not a test: run it by hand; figures go to docs/performance.md.
"""
from __future__ import annotations

import argparse
import http.client
import json
import logging
import multiprocessing
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from benchmarks.support import (REDIS_BASE, cpu_seconds, lease_redis, postgres_backends,  # noqa: E402
                                process_tree, throwaway_database)

TARGETS = {"bare": "/bench/bare", "skeleton": "/bench/skeleton/payments", "full": "/iot/payments"}


# --- environment ------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def seed(app, devices: int) -> dict:
    from flask_migrate import upgrade

    from kiosk.establishments.services import create_establishment
    from kiosk.devices.services import register_device
    from kiosk.queues.services import create_queue
    from kiosk.tenancy import tenant_scope

    with app.app_context():
        upgrade(revision="heads")
        establishment = create_establishment("Bench clinic", "Africa/Abidjan", "XOF", 500)
        secrets = {}
        with tenant_scope(establishment.id):
            queue = create_queue("General", "A")
            for n in range(devices):
                device, secret = register_device(f"Kiosk {n}", queue.id)
                secrets[device.device_id] = secret
        return {"establishment_id": str(establishment.id), "devices": secrets}


def wait_http(port: int, process: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if process.poll() is not None:
            raise RuntimeError("gunicorn exited")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/health")
            if conn.getresponse().status == 200:
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("gunicorn did not start")


SERVERS = {
    # The Procfile's web process (granian through serve.py), and the gunicorn gevent it replaced.
    "granian": [os.path.join(ROOT, ".venv/bin/python"), "serve.py", "benchmarks.payments_app:app"],
    "gunicorn": [os.path.join(ROOT, ".venv/bin/gunicorn"), "-c", "gunicorn.conf.py", "benchmarks.payments_app:app"],
}


def start_gunicorn(env: dict, port: int, log, server: str = "granian") -> subprocess.Popen:
    cmd = SERVERS[server]
    process = subprocess.Popen(cmd, cwd=ROOT, env={**env, "BIND": f"127.0.0.1:{port}"}, stdout=log, stderr=log,
                               start_new_session=True)
    wait_http(port, process)
    return process


def start_worker(env: dict, log, app_module: str = "celery_worker.celery_app") -> subprocess.Popen:
    cmd = [os.path.join(ROOT, ".venv/bin/celery"), "-A", app_module, "worker", "--loglevel=WARNING",
           f"--concurrency={env.get('WORKER_CONCURRENCY', '2')}", "-O", "fair"]
    return subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=log, start_new_session=True)


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(5)


# --- the client -------------------------------------------------------------------------------

def _client_proc(port: int, path: str, devices: list[tuple[str, str]], threads: int, duration: float,
                 warmup: float, queue: multiprocessing.Queue) -> None:
    from kiosk.devices.signing import signed_headers

    start_at = time.time() + warmup
    stop_at = start_at + duration
    results = []

    def run(slot: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        ok = bad = sent_all = 0
        statuses: dict[int, int] = {}
        latencies = []
        n = slot
        while True:
            now = time.time()
            if now >= stop_at:
                break
            device_id, secret = devices[n % len(devices)]
            n += threads
            body = json.dumps({"transaction_id": str(uuid.uuid4()), "amount": 500}, separators=(",", ":")).encode()
            headers = signed_headers(device_id, secret, "POST", path, body)
            headers["Content-Type"] = "application/json"
            sent = time.perf_counter()
            try:
                conn.request("POST", path, body=body, headers=headers)
                response = conn.getresponse()
                response.read()
                status = response.status
            except OSError:
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                status = 0
            sent_all += 1
            if now >= start_at:  # count only after the warm-up
                statuses[status] = statuses.get(status, 0) + 1
                if status in (200, 201, 202):
                    ok += 1
                    latencies.append(time.perf_counter() - sent)
                else:
                    bad += 1
        results.append((ok, bad, statuses, latencies, sent_all))

    workers = [threading.Thread(target=run, args=(i,)) for i in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    ok = sum(r[0] for r in results)
    bad = sum(r[1] for r in results)
    statuses: dict[int, int] = {}
    for r in results:
        for k, v in r[2].items():
            statuses[k] = statuses.get(k, 0) + v
    latencies = [x for r in results for x in r[3]]
    queue.put((ok, bad, statuses, latencies, sum(r[4] for r in results)))


def server_cpu_seconds(gunicorn: subprocess.Popen, database: str) -> float:
    """CPU time used so far by the web workers and their Postgres backends (not the Celery worker's).

    Load-independent (unlike req/s on a shared machine): CPU per request is
    what bounds throughput once the cores are the limit. Redis is shared with
    other sessions, so its CPU is left out (the skeleton and the full app both
    use it; the full app more).
    """
    return cpu_seconds(process_tree(gunicorn.pid, include_self=False) + postgres_backends(database, "bench-web"))


def load(port: int, target: str, devices: list[tuple[str, str]], procs: int, threads: int, duration: float,
         warmup: float, gunicorn: subprocess.Popen | None = None, database: str = "") -> dict:
    cpu_before = server_cpu_seconds(gunicorn, database) if gunicorn else 0.0
    queue: multiprocessing.Queue = multiprocessing.Queue()
    # Each client process gets its own slice of devices (rate limits are per device).
    slices = [devices[i::procs] for i in range(procs)]
    children = [multiprocessing.Process(target=_client_proc,
                                        args=(port, TARGETS[target], slices[i], threads, duration, warmup, queue))
                for i in range(procs)]
    for child in children:
        child.start()
    parts = [queue.get() for _ in children]
    for child in children:
        child.join()
    ok = sum(p[0] for p in parts)
    statuses: dict[int, int] = {}
    for p in parts:
        for k, v in p[2].items():
            statuses[k] = statuses.get(k, 0) + v
    latencies = [x for p in parts for x in p[3]]
    cpu = server_cpu_seconds(gunicorn, database) - cpu_before if gunicorn else 0.0
    return {"target": target, "req_per_s": round(ok / duration, 1), "ok": ok, "errors": sum(p[1] for p in parts),
            "statuses": statuses, "latencies": latencies, "all_requests": sum(p[4] for p in parts),
            "server_cpu_s": cpu}


def merge(target: str, parts: list[dict], duration: float) -> dict:
    ok = sum(p["ok"] for p in parts)
    statuses: dict[int, int] = {}
    for p in parts:
        for k, v in p["statuses"].items():
            statuses[k] = statuses.get(k, 0) + v
    latencies = sorted(x for p in parts for x in p["latencies"])
    requests = sum(p["all_requests"] for p in parts)
    cpu_ms = sum(p["server_cpu_s"] for p in parts) * 1000 / requests if requests else None
    return {"target": target, "req_per_s": round(ok / duration, 1), "ok": ok,
            "server_cpu_ms_per_req": round(cpu_ms, 2) if cpu_ms else None,
            "errors": sum(p["errors"] for p in parts), "statuses": statuses,
            "slices_req_per_s": [p["req_per_s"] for p in parts],
            "p50_ms": round(pct(latencies, 50) * 1000, 1) if latencies else None,
            "p99_ms": round(pct(latencies, 99) * 1000, 1) if latencies else None}


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


# --- latency ------------------------------------------------------------------------------------

def set_waiting(app, database_url: str, size: int) -> int:
    """Cancel the oldest waiting tickets beyond ``size``, or issue STANDARD ones up to it; the count."""
    import sqlalchemy as sa

    from kiosk.extensions import db
    from kiosk.queues.models import Queue
    from kiosk.queues.services import issue_ticket
    from kiosk.tenancy import system_scope, tenant_scope

    trim_waiting(database_url, size)
    with app.app_context():
        with system_scope():
            queue = db.session.execute(sa.select(Queue)).scalars().first()
            waiting = db.session.execute(sa.text("SELECT count(*) FROM tickets WHERE status = 'WAITING'")).scalar()
        with tenant_scope(queue.establishment_id):
            for _ in range(size - waiting):
                issue_ticket(queue, "STANDARD", commit=False, publish_waiting=False)
            db.session.commit()
    return max(size, waiting)


def trim_waiting(database_url: str, size: int, engine=None) -> None:
    import sqlalchemy as sa

    own = engine is None
    engine = engine or sa.create_engine(database_url)
    with engine.begin() as conn:
        conn.execute(sa.text(
            "UPDATE tickets SET status = 'CANCELLED', finished_at = now() WHERE id IN ("
            "SELECT id FROM tickets WHERE status = 'WAITING' ORDER BY created_at DESC OFFSET :size)"),
            {"size": size})
    if own:
        engine.dispose()


def hold_waiting(database_url: str, size: int) -> tuple[threading.Event, threading.Thread]:
    """Keep the waiting list at ``size`` (counters calling at the arrival rate) until the event is set."""
    import sqlalchemy as sa

    done = threading.Event()

    def run() -> None:
        engine = sa.create_engine(database_url)
        while not done.wait(0.5):
            trim_waiting(database_url, size, engine)
        engine.dispose()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return done, thread


def post_payments(port: int, devices: list[tuple[str, str]], rate: float, seconds: float) -> tuple[list, dict]:
    from kiosk.devices.signing import signed_headers

    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    ids, statuses = [], {}
    interval = 1.0 / rate
    next_at = time.perf_counter()
    for n in range(int(rate * seconds)):
        delay = next_at - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        next_at += interval
        device_id, secret = devices[n % len(devices)]
        tid = str(uuid.uuid4())
        body = json.dumps({"transaction_id": tid, "amount": 500}, separators=(",", ":")).encode()
        headers = {**signed_headers(device_id, secret, "POST", "/iot/payments", body),
                   "Content-Type": "application/json"}
        conn.request("POST", "/iot/payments", body=body, headers=headers)
        response = conn.getresponse()
        response.read()
        statuses[response.status] = statuses.get(response.status, 0) + 1
        ids.append(tid)
    return ids, statuses


def _ms(values: list[float]) -> dict:
    if not values:
        return {"p50": None, "p99": None}
    return {"p50": round(pct(values, 50) * 1000, 1), "p99": round(pct(values, 99) * 1000, 1)}


def task_stamps(redis_url: str) -> list[dict]:
    """What benchmarks/latency_probe.py recorded, and forget it."""
    import redis

    client = redis.Redis.from_url(redis_url)
    keys = list(client.scan_iter("bench:task:*", count=1000))
    stamps = []
    for key in keys:
        fields = {k.decode(): v.decode() for k, v in client.hgetall(key).items()}
        for name in ("received", "start", "end"):
            if name in fields:
                fields[name] = float(fields[name])
        stamps.append(fields)
    if keys:
        client.delete(*keys)
    return stamps


def warm_worker(app, redis_url: str, tasks: int = 6, timeout: float = 90) -> None:
    """Wait until the fresh worker has run a few tasks (payments unknown to it: a no-op each), so
    neither its start-up nor its pool processes' first task lands in the measured phase."""
    celery = app.extensions["celery"]
    for _ in range(tasks):
        celery.send_task("payments.process_transaction", args=[str(uuid.uuid4())])
    deadline = time.time() + timeout
    done: list[dict] = []
    while time.time() < deadline:
        done += [s for s in task_stamps(redis_url) if "end" in s]
        if len(done) >= tasks:
            return
        time.sleep(0.2)
    raise RuntimeError("the worker did not start")


def latency_run(port: int, devices: list[tuple[str, str]], rate: float, seconds: float, database_url: str,
                redis_url: str) -> dict:
    import sqlalchemy as sa

    ids, statuses = post_payments(port, devices, rate, seconds)
    engine = sa.create_engine(database_url)
    query = sa.text("SELECT transaction_id::text AS tid, status, EXTRACT(EPOCH FROM created_at) AS created, "
                    "EXTRACT(EPOCH FROM updated_at) AS updated FROM transactions "
                    "WHERE transaction_id = ANY(CAST(:ids AS uuid[]))")
    deadline = time.time() + 60
    while True:
        with engine.connect() as db:
            found = db.execute(query, {"ids": ids}).all()
        if all(row.status != "PENDING" for row in found) and len(found) == len(ids) or time.time() > deadline:
            break
        time.sleep(0.5)
    engine.dispose()
    time.sleep(1)  # the last queue-event runs
    rows = {row.tid: row for row in found if row.status == "CONFIRMED"}
    confirmed = sorted((float(row.updated) - float(row.created)) * 1000 for row in rows.values())
    stamps = task_stamps(redis_url)
    payments = {s["arg"]: s for s in stamps if s.get("name") == "payments.process_transaction" and "arg" in s}
    segments: dict[str, list[float]] = {"ingest->received": [], "received->started": [], "started->confirmed": [],
                                        "confirmed->task end": []}
    for tid, row in rows.items():
        stamp = payments.get(tid)
        if not stamp or not {"received", "start", "end"} <= stamp.keys():
            continue
        created, updated = float(row.created), float(row.updated)
        segments["ingest->received"].append(stamp["received"] - created)
        segments["received->started"].append(stamp["start"] - stamp["received"])
        segments["started->confirmed"].append(updated - stamp["start"])
        segments["confirmed->task end"].append(stamp["end"] - updated)
    publishes = [s for s in stamps if s.get("name") == "queues.publish_waiting_list" and "end" in s]
    outcomes: dict[str, int] = {}
    for s in publishes:
        outcomes[s.get("result", "?")] = outcomes.get(s.get("result", "?"), 0) + 1
    return {"payments": len(ids), "confirmed": len(confirmed), "http_statuses": statuses,
            "other": {s: sum(1 for r in found if r.status == s) for s in ("PENDING", "FAILED")},
            "p50_ms": round(pct(confirmed, 50), 1) if confirmed else None,
            "p99_ms": round(pct(confirmed, 99), 1) if confirmed else None,
            "max_ms": round(confirmed[-1], 1) if confirmed else None,
            "mean_ms": round(statistics.mean(confirmed), 1) if confirmed else None,
            "breakdown_ms": {name: _ms(values) for name, values in segments.items()},
            "queue_event_runs": outcomes,
            "queue_event_run_ms": _ms([s["end"] - s["start"] for s in publishes
                                       if s.get("result") == "published"])}


def purge_broker(redis_url: str) -> None:
    import redis

    redis.Redis.from_url(redis_url).delete("celery", "queue-events")


# --- main ------------------------------------------------------------------------------------------

def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=float, default=20)
    parser.add_argument("--warmup", type=float, default=1, help="seconds not counted at the start of each slice")
    parser.add_argument("--rounds", type=int, default=4, help="slices per target, taken in turns")
    parser.add_argument("--procs", type=int, default=2)
    parser.add_argument("--threads", type=int, default=12)
    parser.add_argument("--devices", type=int, default=400)
    parser.add_argument("--rate", type=float, default=10)
    parser.add_argument("--latency-seconds", type=float, default=20)
    parser.add_argument("--latency-waiting", type=int, nargs="+", default=[30, 600],
                        help="waiting-list sizes held during the latency phases")
    parser.add_argument("--latency-modes", nargs="+", default=["inline", "coalesced"],
                        choices=["inline", "coalesced"], help="how payments publish their queue event")
    parser.add_argument("--targets", nargs="+", default=["bare", "skeleton", "full"], choices=list(TARGETS))
    parser.add_argument("--server", default="granian", choices=list(SERVERS),
                        help="the web server: the Procfile's (granian, serve.py) or gunicorn gevent")
    parser.add_argument("--keep-logs", action="store_true")
    args = parser.parse_args()

    from cryptography.fernet import Fernet

    database_url, drop_database = throwaway_database("kiosk_bench_pay")
    database_name = database_url.rsplit("/", 1)[1]
    redis_url, release_redis = lease_redis(13)
    logs = tempfile.mkdtemp(prefix="kiosk-bench-pay-")
    devices_file = os.path.join(logs, "devices.json")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SENTRY_", "KIOSK_"))}
    env.update({"DATABASE_URL": database_url, "REDIS_URL": redis_url, "KIOSK_ENV": "production",
                "FORCE_HTTPS": "0", "SECRET_KEY": "bench-secret-" + "x" * 32,
                "DEVICE_SECRET_KEYS": Fernet.generate_key().decode(), "BENCH_DEVICES_FILE": devices_file,
                # One client IP: lift the loose per-IP ceiling; the per-device 100/min stays on.
                "RATELIMIT_IP_DEFAULT": "10000000/minute"})
    os.environ.update({k: env[k] for k in ("DATABASE_URL", "REDIS_URL", "KIOSK_ENV", "FORCE_HTTPS", "SECRET_KEY",
                                           "DEVICE_SECRET_KEYS")})
    from kiosk import create_app

    app = create_app()
    logging.getLogger("kiosk").setLevel(logging.WARNING)  # seeding 400 devices logs 400 lines
    gunicorn = worker = None
    try:
        seeded = seed(app, args.devices)
        with open(devices_file, "w") as handle:
            json.dump(seeded, handle)
        os.chmod(devices_file, 0o600)
        devices = list(seeded["devices"].items())
        port = free_port()
        web_log = open(os.path.join(logs, "web.log"), "ab")
        worker_log = open(os.path.join(logs, "worker.log"), "ab")
        # application_name tells the web's Postgres backends from the worker's (CPU accounting).
        gunicorn = start_gunicorn({**env, "DATABASE_URL": database_url + "?application_name=bench-web"}, port,
                                  web_log, args.server)
        worker = start_worker({**env, "DATABASE_URL": database_url + "?application_name=bench-worker"}, worker_log)
        time.sleep(3)
        # Targets take turns (--rounds slices each), so a change in the machine's
        # background load during the run hits all three alike.
        slices: dict[str, list[dict]] = {target: [] for target in args.targets}
        for _ in range(args.rounds):
            for target in args.targets:
                purge_broker(redis_url)
                slices[target].append(load(port, target, devices, args.procs, args.threads,
                                           args.duration / args.rounds, args.warmup, gunicorn, database_name))
        results = [merge(target, parts, args.duration) for target, parts in slices.items()]
        for result in results:
            print(json.dumps(result), flush=True)
        latencies = []
        for size in args.latency_waiting:
            for mode in args.latency_modes:
                # A fresh worker per phase: nothing of the previous one's backlog, the probe's stamps on.
                stop(worker)
                purge_broker(redis_url)
                task_stamps(redis_url)
                waiting = set_waiting(app, database_url, size)
                worker = start_worker({**env, "DATABASE_URL": database_url + "?application_name=bench-worker",
                                       "QUEUE_EVENTS_INLINE": "1" if mode == "inline" else "0"}, worker_log,
                                      "benchmarks.latency_probe.celery_app")
                warm_worker(app, redis_url)
                holder, thread = hold_waiting(database_url, size)
                try:
                    latency = latency_run(port, devices, args.rate, args.latency_seconds, database_url, redis_url)
                finally:
                    holder.set()
                    thread.join()
                latency = {"waiting": size, "waiting_at_start": waiting, "mode": mode, **latency}
                print(json.dumps({"latency": latency}), flush=True)
                latencies.append(latency)
        rate = {r["target"]: r["req_per_s"] for r in results}
        print()
        print(f"{args.server} x{env.get('WEB_CONCURRENCY', 2)}, celery worker c=2, "
              f"client {args.procs}x{args.threads} connections, {args.duration:.0f} s per target")
        print("| target | req/s | p50 ms | p99 ms | non-2xx | server CPU ms/req |")
        print("|---|---:|---:|---:|---:|---:|")
        for r in results:
            print(f"| {r['target']} | {r['req_per_s']} | {r['p50_ms']} | {r['p99_ms']} | {r['errors']} "
                  f"| {r['server_cpu_ms_per_req']} |")
        cpu = {r["target"]: r["server_cpu_ms_per_req"] for r in results}
        if "full" in rate and "skeleton" in rate:
            print(f"full/skeleton = {rate['full'] / rate['skeleton']:.2f} (req/s); "
                  f"{cpu['skeleton'] / cpu['full']:.2f} (server CPU per request, skeleton/full)")
        if "full" in rate and "bare" in rate:
            print(f"full/bare = {rate['full'] / rate['bare']:.2f}")
        print()
        print(f"payment-to-CONFIRMED at {args.rate:g}/s, {args.latency_seconds:g} s per phase "
              f"(breakdown p50 / p99, ms; queue-event runs: published/deferred, p50 / p99 ms each)")
        print("| waiting | queue events | confirmed | p50 ms | p99 ms | max ms | ingest->received "
              "| received->started | started->CONFIRMED | queue-event runs | run ms |")
        print("|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        for r in latencies:
            b = r["breakdown_ms"]
            cell = {name: f"{v['p50']} / {v['p99']}" for name, v in b.items()}
            runs = r["queue_event_runs"]
            print(f"| {r['waiting']} | {r['mode']} | {r['confirmed']}/{r['payments']} | {r['p50_ms']} | {r['p99_ms']} "
                  f"| {r['max_ms']} | {cell['ingest->received']} | {cell['received->started']} "
                  f"| {cell['started->confirmed']} | {runs.get('published', 0)}/{runs.get('deferred', 0)} "
                  f"| {r['queue_event_run_ms']['p50']} / {r['queue_event_run_ms']['p99']} |")
        if args.keep_logs:
            print(f"logs in {logs}")
    finally:
        for process in (worker, gunicorn):
            if process is not None:
                stop(process)
        with app.app_context():
            from kiosk.extensions import db

            db.engine.dispose()
        drop_database()
        release_redis()
        if os.path.exists(devices_file):
            os.unlink(devices_file)
        if not args.keep_logs:
            import shutil

            shutil.rmtree(logs, ignore_errors=True)


if __name__ == "__main__":
    main()
