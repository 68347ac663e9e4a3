"""Kiosk load test: kiosks paying, staff calling, TVs holding WebSockets.

Run through scripts/loadtest (it starts the stack and seeds). Scenario by
LOAD_SCENARIO:
- baseline: 500 HTTP requests/min in total + 100 display WebSockets, 5 min;
- step: raises HTTP users and WebSockets step by step until a threshold
  breaks (p95 > 500 ms, errors > 1 %, or payment-to-CONFIRMED lag growing).

Every identity (device, user) stays under the contract's 100 requests/min
limit, as in real life: load grows by adding kiosks and staff, not by
hammering one of each.
"""
from __future__ import annotations

import itertools
import json
import logging
import os
import random
import statistics
import sys
import threading
import time
import urllib.request
import uuid

import gevent
import gevent.event
import gevent.lock
import gevent.pool
from locust import LoadTestShape, User, constant, events, task
from locust.contrib.fasthttp import FastHttpUser

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from kiosk.devices.signing import signed_headers  # noqa: E402 - the project's one signer

log = logging.getLogger("kiosk.load")

SEED = json.load(open(os.environ.get("LOAD_SEED", "reports/seed.json")))
SCENARIO = os.environ.get("LOAD_SCENARIO", "baseline")
REPORT_DIR = os.environ.get("LOAD_REPORT_DIR", "reports")

# Per-user task rates: every identity stays well under 100 requests/min. They
# are set so that, with the weights below, counters call about as many tickets
# as kiosks and staff issue (about 1.2 issued per call): a busy day, not a waiting
# list growing without end (which made every estimate slower as a run went on).
# Per 10 users: 3 kiosks issue 0.75 tickets/s, 6 agents issue 0.3 and call 0.9.
DEVICE_RPS = float(os.environ.get("LOAD_DEVICE_RPS", "0.25"))
# The firmware polls its payment every 0.5 s; the device-seen lag is quantised by it
# (verify.py reports the server-side created->confirmed lag without that step).
POLL_SECONDS = float(os.environ.get("LOAD_POLL_SECONDS", "0.5"))
STAFF_RPS = float(os.environ.get("LOAD_STAFF_RPS", "0.5"))

_devices = itertools.cycle([(e, d) for e in SEED["establishments"] for d in e["devices"]])
_agents = itertools.cycle([(e, a) for e in SEED["establishments"] for a in e["agents"]])
_managers = itertools.cycle([(e, m) for e in SEED["establishments"] for m in e["managers"]])
_displays = itertools.cycle([(e, t) for e in SEED["establishments"] for t in e["displays"]])
_lock = threading.Lock()

POSTED: list[str] = []          # every transaction id a device sent (checked after the run)
PAYMENT_LAGS: list[tuple[float, float]] = []  # (when confirmed, seconds from first post to CONFIRMED)


def poisson_throughput(rate: float):
    """A wait_time giving each user Poisson arrivals at ``rate`` tasks per second.

    Independent kiosks and staff do not act in step. Locust's
    ``constant_throughput`` keeps every user on the same period, and users
    spawned together stay in phase: measured here, the whole baseline arrived
    in bursts of 10-15 requests every 2 s, which made each request wait behind
    the others' CPU (p50 110 ms at 8 req/s). Exponential gaps between task
    starts spread arrivals as real clients do.
    """

    def wait_time(user) -> float:
        now = time.monotonic()
        # A user that fell behind (slow responses) does not catch up in a burst.
        next_start = max(getattr(user, "_next_task_start", now), now - 1 / rate) + random.expovariate(rate)
        user._next_task_start = next_start
        return max(0.0, next_start - now)

    return wait_time


def stagger(rate: float) -> None:
    """Start a user's first task at a random point of its period (Locust runs it at
    once on spawn: 60 users spawned in half a second would all fire together)."""
    gevent.sleep(random.uniform(0, 1 / rate))


def _take(cycle):
    with _lock:
        return next(cycle)


# --- staff logins ------------------------------------------------------------------

# Staff log in once a day, not once per Locust user: every seeded agent and
# manager logs in during the warm-up (scrypt costs ~60 ms of CPU each, and
# 450 logins in one step would measure a login storm, not the steady load).
# A user spawned later for an email not logged in yet logs in itself.
WARMUP_SECONDS = float(os.environ.get("LOAD_WARMUP_SECONDS", "30"))
_tokens: dict[str, str] = {}
_token_locks: dict[str, gevent.lock.Semaphore] = {}
_host = {"url": ""}
_logins_done = gevent.event.Event()


def _login(email: str) -> str:
    body = json.dumps({"email": email, "password": SEED["password"]}).encode()
    request = urllib.request.Request(_host["url"] + "/auth/login", data=body,
                                     headers={"Content-Type": "application/json"})
    started = time.time()
    exception = None
    token = ""
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            token = json.load(response)["access_token"]
    except Exception as exc:  # noqa: BLE001 - reported as a failed request
        exception = exc
    events.request.fire(request_type="POST", name="/auth/login", response_time=(time.time() - started) * 1000,
                        response_length=0, exception=exception, context={})
    return token


def staff_token(email: str) -> str:
    lock = _token_locks.setdefault(email, gevent.lock.Semaphore())
    with lock:
        if not _tokens.get(email):
            _tokens[email] = _login(email)
        return _tokens[email]


@events.test_start.add_listener
def _log_everyone_in(environment, **_kwargs):
    _host["url"] = environment.host
    emails = [email for e in SEED["establishments"] for email in e["managers"] + e["agents"]]
    pool = gevent.pool.Pool(8)

    def log_in_all() -> None:
        pool.map(staff_token, emails)
        _logins_done.set()

    gevent.spawn(log_in_all)


class DeviceUser(FastHttpUser):
    """A kiosk: a coin goes in, it posts the payment (retrying like the
    firmware: same transaction_id, fresh nonce), then polls for the ticket."""

    weight = 3
    wait_time = poisson_throughput(DEVICE_RPS)

    def on_start(self):
        self.establishment, device = _take(_devices)
        self.device_id, self.secret = device["device_id"], device["secret_key"]
        stagger(DEVICE_RPS)

    def _signed(self, method: str, path: str, body: bytes = b"", name: str | None = None):
        headers = signed_headers(self.device_id, self.secret, method, path, body)
        if body:
            headers["Content-Type"] = "application/json"
        return self.client.request(method, path, data=body or None, headers=headers, name=name or path,
                                   catch_response=True)

    @task(3)
    def pay(self):
        transaction_id = str(uuid.uuid4())
        body = json.dumps({"transaction_id": transaction_id, "amount": self.establishment["vip_price"]}).encode()
        started = time.time()
        for attempt in range(6):
            with self._signed("POST", "/iot/payments", body) as response:
                if attempt == 0:
                    # Recorded once the POST has left: a user stopped before
                    # sending (end of run) posted nothing. From here on, the
                    # audit expects the payment to end CONFIRMED or FAILED.
                    POSTED.append(transaction_id)
                if response.status_code in (200, 202):
                    response.success()
                    break
                if response.status_code in (429, 503) or response.status_code >= 500 or response.status_code == 0:
                    response.failure(f"retryable {response.status_code}")
                    gevent.sleep(min(8, 0.5 * 2 ** attempt) * random.uniform(0.5, 1.0))
                    continue
                response.failure(f"refused {response.status_code}")
                return
        self._wait_confirmed(transaction_id, started)

    def _wait_confirmed(self, transaction_id: str, started: float) -> None:
        path = f"/iot/payments/{transaction_id}"
        for _ in range(40):
            with self._signed("GET", path, name="/iot/payments/[id]") as response:
                status = (response.json() or {}).get("status") if response.status_code == 200 else None
                if response.status_code == 200:
                    response.success()
                else:
                    response.failure(f"status {response.status_code}")
            if status in ("CONFIRMED", "FAILED"):
                lag = time.time() - started
                PAYMENT_LAGS.append((time.time(), lag))
                events.request.fire(request_type="PAYMENT", name="post_to_" + status.lower(),
                                    response_time=lag * 1000, response_length=0, exception=None, context={})
                return
            gevent.sleep(POLL_SECONDS)
        events.request.fire(request_type="PAYMENT", name="post_to_confirmed", response_time=(time.time() - started)
                            * 1000, response_length=0, exception=RuntimeError("not final after polling"),
                            context={})

    @task(1)
    def free_ticket(self):
        body = json.dumps({"request_id": str(uuid.uuid4())}).encode()
        with self._signed("POST", "/iot/tickets", body) as response:
            if response.status_code in (200, 201):
                response.success()
            else:
                response.failure(f"status {response.status_code}")


class StaffUser(FastHttpUser):
    """An agent at a counter: call next, serve, issue a ticket at the desk, look at the queue."""

    weight = 6
    wait_time = poisson_throughput(STAFF_RPS)

    def on_start(self):
        self.establishment, email = _take(_agents)
        self.counter = str(random.randint(1, 9))
        self.current = None
        self.headers = {"Authorization": f"Bearer {staff_token(email)}"}
        stagger(STAFF_RPS)

    @property
    def queue_id(self) -> str:
        return random.choice(self.establishment["queues"])

    @task(6)
    def call_next_and_serve(self):
        if self.current:
            self.client.post(f"/api/tickets/{self.current}/serve", headers=self.headers,
                             name="/api/tickets/[id]/serve")
            self.current = None
            return
        response = self.client.post(f"/api/queues/{self.queue_id}/call-next", json={"counter": self.counter},
                                    headers=self.headers, name="/api/queues/[id]/call-next")
        if response.status_code == 200:
            self.current = response.json()["ticket_id"]

    @task(1)
    def issue_standard(self):
        self.client.post(f"/api/queues/{self.queue_id}/tickets", json={"kind": "STANDARD"}, headers=self.headers,
                         name="/api/queues/[id]/tickets")

    @task(2)
    def look_at_queue(self):
        self.client.get(f"/api/queues/{self.queue_id}", headers=self.headers, name="/api/queues/[id]")

    @task(1)
    def dashboard_queues(self):
        self.client.get("/dashboard/queues", headers=self.headers, name="/dashboard/queues")


class ManagerUser(FastHttpUser):
    """A manager watching revenue: the dashboard page and the figures it loads."""

    weight = 1
    wait_time = poisson_throughput(STAFF_RPS / 2)

    def on_start(self):
        self.establishment, email = _take(_managers)
        self.headers = {"Authorization": f"Bearer {staff_token(email)}"}
        stagger(STAFF_RPS / 2)

    @task(1)
    def dashboard(self):
        self.client.get("/dashboard", headers=self.headers, name="/dashboard")

    @task(2)
    def revenue(self):
        today = time.strftime("%Y-%m-%d")
        month_start = time.strftime("%Y-%m-01")
        self.client.get(f"/stats/revenue/daily?from={month_start}&to={today}", headers=self.headers,
                        name="/stats/revenue/daily")
        self.client.get(f"/stats/vip/count?from={month_start}&to={today}", headers=self.headers,
                        name="/stats/vip/count")


class DisplayUser(User):
    """A TV: holds the WebSocket, answers pings, measures call-to-screen latency."""

    weight = 0  # spawned by the shape's user_classes, never by weight
    # recv() blocks until the next frame: any pause here would let frames queue
    # in the socket and show up as fake call-to-screen latency.
    wait_time = constant(0)

    def on_start(self):
        import websocket

        _est, token = _take(_displays)
        # The display process when the stack runs one (scripts/loadtest), as the proxy routes /ws/.
        url = os.environ.get("LOAD_DISPLAY_URL", self.host).replace("http", "ws", 1) + f"/ws/display/{token}"
        started = time.time()
        try:
            self.ws = websocket.create_connection(url, timeout=30)
            events.request.fire(request_type="WS", name="connect", response_time=(time.time() - started) * 1000,
                                response_length=0, exception=None, context={})
        except Exception as exc:  # noqa: BLE001
            self.ws = None
            events.request.fire(request_type="WS", name="connect", response_time=0, response_length=0,
                                exception=exc, context={})

    @task
    def listen(self):
        if self.ws is None:
            gevent.sleep(5)
            return
        try:
            raw = self.ws.recv()
        except Exception as exc:  # noqa: BLE001
            events.request.fire(request_type="WS", name="receive", response_time=0, response_length=0,
                                exception=exc, context={})
            self.ws = None
            return
        message = json.loads(raw)
        kind = message.get("type")
        if kind == "ping":
            self.ws.send(json.dumps({"type": "pong", "t": message.get("t")}))
        elif kind == "called" and message.get("sent_at"):
            events.request.fire(request_type="WS", name="call_to_screen",
                                response_time=(time.time() - message["sent_at"]) * 1000,
                                response_length=len(raw), exception=None, context={})
        events.request.fire(request_type="WS", name="message:" + str(kind), response_time=0,
                            response_length=len(raw), exception=None, context={})

    def on_stop(self):
        if self.ws is not None:
            self.ws.close()


# --- shapes -------------------------------------------------------------------

DISPLAYS = int(os.environ.get("LOAD_DISPLAYS", "100" if SCENARIO == "baseline" else "1000"))
DisplayUser.fixed_count = DISPLAYS


def http_users_for(requests_per_second: float) -> int:
    """HTTP users needed for a target rate (each user runs at a mean task rate)."""
    weights = {DeviceUser: DeviceUser.weight, StaffUser: StaffUser.weight, ManagerUser: ManagerUser.weight}
    # A device task is one POST plus ~2 status polls (a free ticket is one request);
    # a manager task is the dashboard page (1 request) or the revenue figures (2).
    rates = {DeviceUser: DEVICE_RPS * 2.5, StaffUser: STAFF_RPS, ManagerUser: STAFF_RPS / 2 * 5 / 3}
    per_user = sum(weights[c] * rates[c] for c in weights) / sum(weights.values())
    return max(1, round(requests_per_second / per_user))


# Finer steps where this machine breaks (docs/load-test.md), up to the 100x target.
DEFAULT_STEPS = "25,50,75,100,125,150,200,300,450,600,833"


class KioskShape(LoadTestShape):
    """A warm-up (screens connect, staff log in), then the scenario.

    baseline: 500 requests/min for LOAD_DURATION s; step: LOAD_STEPS_RPS,
    LOAD_STEP_SECONDS each. Thresholds are checked from the end of the warm-up.
    """

    def tick(self):
        run_time = self.get_run_time()
        if not THRESHOLDS.armed:
            if run_time < WARMUP_SECONDS or not _logins_done.is_set():
                return (DISPLAYS, 100)
            self.warmed_up_at = run_time
        run_time -= self.warmed_up_at
        THRESHOLDS.armed = True
        if SCENARIO == "baseline":
            if run_time > int(os.environ.get("LOAD_DURATION", "300")):
                return None
            return (http_users_for(500 / 60) + DISPLAYS, 50)
        steps = [float(x) for x in os.environ.get("LOAD_STEPS_RPS", DEFAULT_STEPS).split(",")]
        step = int(run_time // int(os.environ.get("LOAD_STEP_SECONDS", "45")))
        if step >= len(steps) or THRESHOLDS.breached:
            return None
        THRESHOLDS.current_step_rps = steps[step]
        return (http_users_for(steps[step]) + DISPLAYS, 100)


# --- thresholds -----------------------------------------------------------------

# Custom event types: WebSocket frames and payment lags are not HTTP requests.
NOT_HTTP = ("WS", "PAYMENT")


class Thresholds:
    """Checked every 5 s on the last 10 s window; a breach ends the run non-zero."""

    p95_ms = float(os.environ.get("LOAD_P95_MS", "500"))
    error_ratio = float(os.environ.get("LOAD_ERROR_RATIO", "0.01"))

    def __init__(self) -> None:
        self.breached: str | None = None
        self.armed = False
        self.current_step_rps = 0.0
        self.lag_medians: list[float] = []
        self.log: list[dict] = []

    def check(self, environment) -> None:
        stats = environment.runner.stats
        http = [e for e in stats.entries.values() if e.method not in NOT_HTTP]
        requests = sum(e.num_requests for e in http)
        failures = sum(e.num_failures for e in http)
        p95 = HTTP_WINDOW.p95()
        recent = [lag for when, lag in PAYMENT_LAGS if when > time.time() - 15]
        lag = statistics.median(recent) if recent else 0.0
        self.lag_medians.append(lag)
        row = {"t": round(environment.runner.stats.total.last_request_timestamp or 0), "step_rps":
               self.current_step_rps, "users": environment.runner.user_count, "current_rps":
               round(stats.total.current_rps, 1), "p95_ms": p95, "failures": failures, "requests": requests,
               "payment_lag_median_s": round(lag, 3)}
        self.log.append(row)
        if requests > 200 and p95 > self.p95_ms:
            self.breached = f"p95 {p95} ms > {self.p95_ms} ms at {self.current_step_rps} req/s target"
        elif requests > 200 and failures / requests > self.error_ratio:
            self.breached = f"error rate {failures / requests:.2%} > {self.error_ratio:.0%}"
        elif len(self.lag_medians) >= 6 and lag > 2.0 and all(
                b > a for a, b in zip(self.lag_medians[-6:], self.lag_medians[-5:])):
            self.breached = f"payment-to-CONFIRMED lag keeps growing ({lag:.1f} s)"
        if self.breached:
            log.error("threshold breached: %s", self.breached)


THRESHOLDS = Thresholds()


class HttpWindow:
    """Response times of HTTP requests only over the last 10 s: WebSocket frames and
    payment lags are not request latencies and must not trip the p95 threshold."""

    def __init__(self, seconds: float = 10.0) -> None:
        self.seconds = seconds
        self.samples: list[tuple[float, float]] = []

    def add(self, response_time: float) -> None:
        self.samples.append((time.time(), response_time))

    def p95(self) -> float:
        cutoff = time.time() - self.seconds
        self.samples = [s for s in self.samples if s[0] >= cutoff]
        times = sorted(rt for _, rt in self.samples)
        return times[int(0.95 * (len(times) - 1))] if times else 0.0


HTTP_WINDOW = HttpWindow()


@events.request.add_listener
def _collect_http(request_type, response_time, **_kwargs):
    if request_type not in NOT_HTTP and THRESHOLDS.armed:  # the warm-up is not judged
        HTTP_WINDOW.add(response_time)


@events.init.add_listener
def _start_monitor(environment, **_kwargs):
    def loop():
        while True:
            gevent.sleep(5)
            if THRESHOLDS.armed and environment.runner is not None and environment.runner.user_count:
                THRESHOLDS.check(environment)

    gevent.spawn(loop)


@events.quitting.add_listener
def _report(environment, **_kwargs):
    os.makedirs(REPORT_DIR, exist_ok=True)
    with open(os.path.join(REPORT_DIR, f"{SCENARIO}_posted_transactions.txt"), "w") as f:
        f.write("\n".join(POSTED))
    with open(os.path.join(REPORT_DIR, f"{SCENARIO}_thresholds.json"), "w") as f:
        json.dump({"breached": THRESHOLDS.breached, "windows": THRESHOLDS.log}, f, indent=1)
    if THRESHOLDS.breached:
        environment.process_exit_code = 1
