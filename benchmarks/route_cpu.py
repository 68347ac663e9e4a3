"""Per-route CPU of the web process, split by layer.

    .venv/bin/python benchmarks/route_cpu.py --calls 300

Runs every route the load test uses (locustfiles/kiosk_load.py) ``--calls``
times in-process through the app's test client, against a throwaway Postgres
database (app role, row-level security) and a leased Redis db, with rate
limits, request logging (to /dev/null), metrics and security headers on, as
in production. For each request it measures the process CPU
(``time.process_time``) and splits it by layer with exclusive timers (a
layer's time excludes the layers it calls):

- limiter: flask-limiter's before-request hook and ``kiosk.security``'s
  limit checks (per-identity, auth-failure, login);
- auth: the device signature guard (lookup, HMAC, nonce, last_seen) or the
  staff JWT check;
- tenancy: the tenant filter on ORM queries and the RLS settings prepended to
  statements;
- logging+metrics: the request id, the JSON request line and the metrics;
- headers: Talisman's security headers (and HTTPS redirect check);
- route: the rest: the view's own work (schemas, queries, JSON) and Flask's
  dispatch; the "bare" row is that dispatch alone (a view returning a
  constant, without any of the hooks' work beyond what it triggers).

The server's Postgres and Redis CPU is not counted (other processes): this is
the web process's share, the one that saturated in docs/load-test.md.
Not a test: run it by hand; figures go to docs/performance.md.
"""
from __future__ import annotations

import argparse
import functools
import json
import logging
import os
import statistics
import sys
import time
import uuid

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from benchmarks.support import lease_redis, throwaway_database  # noqa: E402

LAYERS = ("limiter", "auth", "tenancy", "logging+metrics", "headers")

# --- exclusive layer timers ---------------------------------------------------------------------

_stack: list[list] = []          # [layer, started_at]
_spent: dict[str, float] = {}


def _enter(layer: str) -> None:
    now = time.process_time()
    if _stack:
        top = _stack[-1]
        _spent[top[0]] = _spent.get(top[0], 0.0) + now - top[1]
    _stack.append([layer, now])


def _leave() -> None:
    now = time.process_time()
    layer, started = _stack.pop()
    _spent[layer] = _spent.get(layer, 0.0) + now - started
    if _stack:
        _stack[-1][1] = now


def timed(layer: str, fn):
    if getattr(fn, "_route_cpu_layer", None):
        return fn

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        _enter(layer)
        try:
            return fn(*args, **kwargs)
        finally:
            _leave()

    wrapper._route_cpu_layer = layer
    return wrapper


def instrument(app) -> None:
    """Wrap each layer's entry points (module globals, hooks and listeners) in its timer."""
    from sqlalchemy import event
    from sqlalchemy.orm import Session

    from kiosk import security, tenancy
    from kiosk.auth import access, pages
    from kiosk.devices import guard
    from kiosk.extensions import db

    for name in ("_safe_hit", "_safe_test", "_retry_after", "hit_identity_limit", "check_auth_failures",
                 "record_auth_failure", "check_login_lockout", "record_login_failure"):
        if hasattr(security, name):
            wrapped = timed("limiter", getattr(security, name))
            setattr(security, name, wrapped)
            for module in (guard, access):
                if getattr(module, name, None) is not None:
                    setattr(module, name, wrapped)
    for module, name in ((guard, "authenticate_device"), (access, "authenticate_staff")):
        setattr(module, name, timed("auth", getattr(module, name)))
    pages.authenticate_staff = access.authenticate_staff
    with app.app_context():
        engine = db.engine
        for target, name, fn in ((engine, "before_cursor_execute", tenancy._rls_before_execute),
                                 (Session, "do_orm_execute", tenancy._filter_tenant_rows)):
            if event.contains(target, name, fn):
                event.remove(target, name, fn)
                event.listen(target, name, timed("tenancy", fn), retval=(name == "before_cursor_execute"))
    hooks = {"_start_request": "logging+metrics", "_finish_request": "logging+metrics",
             "_check_request_limit": "limiter", "_force_https": "headers", "_set_response_headers": "headers",
             "__inject_headers": "limiter", "_forget_tenant": "tenancy"}
    for registry in (app.before_request_funcs, app.after_request_funcs, app.teardown_request_funcs):
        for key, funcs in registry.items():
            for i, fn in enumerate(funcs):
                name = getattr(fn, "__name__", None) or getattr(getattr(fn, "func", None), "__name__", "")
                layer = next((layer for hook, layer in hooks.items() if name.endswith(hook)), None)
                if layer:
                    funcs[i] = timed(layer, fn)


# --- the load test's routes ---------------------------------------------------------------------

def seed(app):
    from flask_migrate import upgrade

    from kiosk.auth import services as auth_services
    from kiosk.devices.services import register_device
    from kiosk.display.services import create_display
    from kiosk.establishments.services import create_establishment
    from kiosk.queues.services import create_queue, issue_ticket
    from kiosk.tenancy import tenant_scope

    with app.app_context():
        upgrade(revision="heads")
        est = create_establishment("Bench clinic", "Africa/Abidjan", "XOF", 500, "fr")
        auth_services.create_user(est.id, "agent@bench.test", "bench-password-1", "agent")
        auth_services.create_user(est.id, "manager@bench.test", "bench-password-1", "manager")
        with tenant_scope(est.id):
            queue = create_queue("Consultations", "A")
            device, secret = register_device("Kiosk 1", queue.id)
            display = create_display("TV 1").token
            # A realistic waiting list for call-next and the estimates.
            for _ in range(30):
                issue_ticket(queue, "STANDARD")
            tracked = issue_ticket(queue, "STANDARD").tracking_token
        return {"queue": str(queue.id), "establishment": str(est.id), "device": device.device_id, "secret": secret, "display": display,
                "tracked": tracked}


class _Answer:
    def __init__(self, status_code: int, text: str):
        self.status_code, self._text = status_code, text

    def get_data(self, as_text=False):
        return self._text


class Routes:
    def __init__(self, app, seeded: dict):
        self.app = app
        from kiosk.devices.signing import signed_headers

        from flask.testing import FlaskClient

        class HttpsClient(FlaskClient):
            # Production forces HTTPS: requests arrive over TLS.
            def open(self, *args, **kwargs):
                kwargs.setdefault("base_url", "https://localhost")
                return super().open(*args, **kwargs)

        app.test_client_class = HttpsClient
        self.client = app.test_client()
        self.s = seeded
        self.signed_headers = signed_headers
        self.agent = self._login("agent@bench.test")
        self.manager = self._login("manager@bench.test")
        self.payment = None
        self.current = None
        today = time.strftime("%Y-%m-%d")
        self.month = (today[:8] + "01", today)

    def _login(self, email: str) -> dict:
        response = self.client.post("/auth/login", json={"email": email, "password": "bench-password-1"})
        assert response.status_code == 200, response.get_data(as_text=True)
        return {"Authorization": "Bearer " + response.get_json()["access_token"]}

    def _signed(self, method: str, path: str, body: dict | None = None):
        raw = json.dumps(body).encode() if body is not None else b""
        headers = self.signed_headers(self.s["device"], self.s["secret"], method, path, raw)
        if body is not None:
            headers["Content-Type"] = "application/json"
        return self.client.open(path, method=method, data=raw or None, headers=headers)

    # Each returns the response; the runner checks its status.
    def post_payment(self):
        tid = str(uuid.uuid4())
        response = self._signed("POST", "/iot/payments", {"transaction_id": tid, "amount": 500, "currency": "XOF"})
        self.payment = tid
        return response

    def get_payment(self):
        return self._signed("GET", f"/iot/payments/{self.payment}")

    def free_ticket(self):
        return self._signed("POST", "/iot/tickets", {"request_id": str(uuid.uuid4())})

    def issue(self):
        return self.client.post(f"/api/queues/{self.s['queue']}/tickets", json={"kind": "STANDARD"},
                                headers=self.agent)

    def call_next(self):
        response = self.client.post(f"/api/queues/{self.s['queue']}/call-next", json={"counter": "3"},
                                    headers=self.agent)
        if response.status_code == 200:
            self.current = response.get_json()["ticket_id"]
        return response

    def serve(self):
        return self.client.post(f"/api/tickets/{self.current}/serve", headers=self.agent)

    def get_queue(self):
        return self.client.get(f"/api/queues/{self.s['queue']}", headers=self.agent)

    def dashboard_queues(self):
        return self.client.get("/dashboard/queues", headers=self.agent)

    def dashboard(self):
        return self.client.get("/dashboard", headers=self.manager)

    def revenue(self):
        return self.client.get(f"/stats/revenue/daily?from={self.month[0]}&to={self.month[1]}",
                               headers=self.manager)

    def vip(self):
        return self.client.get(f"/stats/vip/count?from={self.month[0]}&to={self.month[1]}", headers=self.manager)

    def tracking(self):
        return self.client.get(f"/t/{self.s['tracked']}.json")

    def display_state(self):
        return self.client.get(f"/display/{self.s['display']}/state.json")

    def trim(self):
        """Keep the waiting list at the seed's 30 (untimed): issuing routes would grow it call after call,
        and every estimate with it; the table compares routes at one realistic list length."""
        import sqlalchemy as sa

        from kiosk import cache
        from kiosk.extensions import db

        from kiosk.tenancy import system_scope

        with self.app.app_context(), system_scope():
            db.session.execute(sa.text(
                "UPDATE tickets SET status = 'CANCELLED' WHERE queue_id = CAST(:q AS uuid) AND status = 'WAITING' "
                "AND id NOT IN (SELECT id FROM tickets WHERE queue_id = CAST(:q AS uuid) AND status = 'WAITING' "
                "ORDER BY created_at LIMIT 30)"), {"q": self.s["queue"]})
            db.session.commit()
            cache.invalidate(self.s["establishment"])

    def issue_then_call(self):
        self.issue()
        return self.call_next()

    def post_then_trim(self):
        self.trim()
        return self.post_payment()

    def process_payment(self):
        """The Celery task's work for the payment just posted (in-process, no broker)."""
        from kiosk.payments import processing

        with self.app.app_context():
            status = processing.process_transaction(self.payment)
        return _Answer(200 if status == "CONFIRMED" else 500, status)

    def bare(self):
        return self.client.get("/bench/route-cpu/bare")

    def login(self):
        return self.client.post("/auth/login", json={"email": "agent@bench.test", "password": "bench-password-1"})


ROUTES = [
    ("POST /iot/payments", "post_payment", 202),
    ("GET /iot/payments/<id>", "get_payment", 200),
    ("POST /iot/tickets", "free_ticket", 201),
    ("POST /api/queues/<id>/tickets", "issue", 201),
    ("POST /api/queues/<id>/call-next", "call_next", 200),  # each after an untimed issue: the list stays at ~30
    ("POST /api/tickets/<id>/serve", "serve", 200),  # each after an untimed call-next
    ("GET /api/queues/<id>", "get_queue", 200),
    ("GET /dashboard/queues", "dashboard_queues", 200),
    ("GET /dashboard", "dashboard", 200),
    ("GET /stats/revenue/daily", "revenue", 200),
    ("GET /stats/vip/count", "vip", 200),
    ("GET /t/<token>.json", "tracking", 200),
    ("GET /display/<token>/state.json", "display_state", 200),
    ("bare (Flask + hooks, constant view)", "bare", 200),
    ("worker: process_transaction (one payment)", "process_payment", 200),
]


PROFILER = None  # --profile: a cProfile.Profile enabled around the timed calls only
PREPARE = {"call_next": "issue", "serve": "issue_then_call", "process_payment": "post_then_trim",
           "post_payment": "trim", "issue": "trim", "free_ticket": "trim"}


def measure(routes: Routes, method: str, expected: int, calls: int) -> dict:
    totals, layers = [], {layer: [] for layer in LAYERS}
    fn = getattr(routes, method)
    prepare = PREPARE.get(method)
    for _ in range(calls):
        if prepare:
            getattr(routes, prepare)()
        _spent.clear()
        if PROFILER is not None:
            PROFILER.enable()
        started = time.process_time()
        response = fn()
        total = time.process_time() - started
        if PROFILER is not None:
            PROFILER.disable()
        if response.status_code != expected:
            raise SystemExit(f"{method}: {response.status_code} {response.get_data(as_text=True)[:300]}")
        totals.append(total)
        for layer in LAYERS:
            layers[layer].append(_spent.get(layer, 0.0))
    mean = statistics.fmean(totals)
    row = {"total": mean, "p50": statistics.median(totals)}
    for layer in LAYERS:
        row[layer] = statistics.fmean(layers[layer])
    row["route"] = mean - sum(row[layer] for layer in LAYERS)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--login-calls", type=int, default=10)
    parser.add_argument("--only", nargs="*", help="route methods to run (default: all)")
    parser.add_argument("--sort", default="cumulative", help="pstats order for --profile (tottime, ...)")
    parser.add_argument("--profile", help="a route method: print its cProfile (CPU clock) instead of the table")
    args = parser.parse_args()

    from tests.conftest import make_config

    from kiosk import create_app
    from kiosk import security

    # The real limits stay on, but one client would hit the per-identity
    # 100/min: the same script runs with a ceiling nobody reaches.
    security.IDENTITY_LIMIT = "100000000/minute"
    database_url, drop_database = throwaway_database("kiosk_bench_routes")
    redis_url, release_redis = lease_redis()
    try:
        app = create_app(make_config(database_url, redis_url, KIOSK_ENV="production", TESTING=False,
                                     CELERY_TASK_ALWAYS_EAGER=False, RATELIMIT_DEFAULT="100000000/minute",
                                     SESSION_COOKIE_SECURE=False))
        for handler in logging.getLogger().handlers:
            if isinstance(handler, logging.StreamHandler):
                handler.setStream(open(os.devnull, "w"))  # noqa: SIM115 - lives as long as the run
        app.add_url_rule("/bench/route-cpu/bare", "route_cpu_bare", lambda: {"ok": True})
        seeded = seed(app)
        routes = Routes(app, seeded)
        instrument(app)
        wanted = set(args.only or [m for _l, m, _e in ROUTES] + ["login"])
        # Warm every route once (imports, compiled statements, caches).
        for _label, method, _expected in ROUTES:
            if method in wanted:
                measure(routes, method, _expected, 3)
        if args.profile:
            import cProfile
            import pstats

            global PROFILER
            PROFILER = cProfile.Profile(time.process_time)
            measure(routes, args.profile, dict((m, e) for _l, m, e in ROUTES).get(args.profile, 200), args.calls)
            pstats.Stats(PROFILER).sort_stats(args.sort).print_stats(45)
            return
        rows = []
        print(f"load average before: {os.getloadavg()[0]:.1f}", file=sys.stderr)
        for label, method, expected in ROUTES:
            if method in wanted:
                rows.append((label, measure(routes, method, expected, args.calls)))
        if "login" in wanted:
            rows.append(("POST /auth/login", measure(routes, "login", 200, args.login_calls)))
        print(f"load average after: {os.getloadavg()[0]:.1f}", file=sys.stderr)
        header = ["route", "total", "p50", *LAYERS, "route's own"]
        print("| " + " | ".join(header) + " |")
        print("|---|" + "---:|" * (len(header) - 1))
        for label, row in rows:
            cells = [row["total"], row["p50"], *(row[layer] for layer in LAYERS), row["route"]]
            print(f"| {label} | " + " | ".join(f"{value * 1e6:,.0f}" for value in cells) + " |")
        with app.app_context():
            from kiosk.extensions import db

            db.session.remove()
            db.engine.dispose()
    finally:
        release_redis()
        drop_database()


if __name__ == "__main__":
    main()
