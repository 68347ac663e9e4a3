"""Liveness and readiness, including real outages of private Redis and Postgres servers."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections import Counter
from pathlib import Path

import pytest

from kiosk.devices.signing import signed_headers
from tests.conftest import DEVICE_KEY
from tests.fault_services import PrivatePostgres, PrivateRedis, free_port

ROOT = Path(__file__).resolve().parents[2]


def test_liveness_is_instant_and_touches_nothing(app, client, monkeypatch):
    from kiosk.extensions import db, redis_client

    def forbidden(*args, **kwargs):
        raise AssertionError("/health must do no I/O")

    monkeypatch.setattr(db.session, "execute", forbidden)
    monkeypatch.setattr(redis_client, "_client", None)  # any Redis use would raise
    response = client.get("/health")
    assert response.status_code == 200 and response.get_json() == {"status": "ok"}
    assert "Retry-After" not in response.headers


def test_readiness_reports_each_dependency_with_timings(client):
    response = client.get("/health/ready")
    assert response.status_code == 200
    body = response.get_json()
    assert body["status"] == "ok"
    assert set(body["checks"]) == {"database", "redis", "broker"}
    for check in body["checks"].values():
        assert check["ok"] is True and isinstance(check["ms"], (int, float)) and check["ms"] >= 0


# --- a real app process on private servers that really stop -----------------------

class Http:
    def __init__(self, base: str):
        self.base = base

    def call(self, method: str, path: str, body: bytes | None = None, headers: dict | None = None,
             timeout: float = 10):
        request = urllib.request.Request(self.base + path, data=body, method=method, headers=headers or {})
        try:
            # Headers as the message object: names are case-insensitive (granian sends them in lower case).
            with urllib.request.urlopen(request, timeout=timeout) as response:
                return response.status, response.headers, response.read()
        except urllib.error.HTTPError as error:
            return error.code, error.headers, error.read()

    def json(self, method: str, path: str, payload=None, headers=None):
        body = json.dumps(payload).encode() if payload is not None else None
        all_headers = {"Content-Type": "application/json", **(headers or {})} if body else (headers or {})
        status, response_headers, raw = self.call(method, path, body, all_headers)
        return status, response_headers, (json.loads(raw) if raw else None)


def _env(pg: PrivatePostgres, redis: PrivateRedis, port: int) -> dict:
    return {**os.environ, "DATABASE_URL": pg.url, "REDIS_URL": redis.url, "KIOSK_ENV": "test",
            "SECRET_KEY": "test-secret-key-" + "x" * 32, "DEVICE_SECRET_KEYS": DEVICE_KEY,
            "KIOSK_CELERY_EAGER": "0", "WEB_CONCURRENCY": "1", "BIND": f"127.0.0.1:{port}",
            "RATELIMIT_ENABLED": "1"}


def _cli(env: dict, *args: str) -> dict:
    out = subprocess.run([str(ROOT / ".venv/bin/flask"), "--app", "wsgi", *args], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout[out.stdout.index("{"):]) if "{" in out.stdout else {}


def _wait(predicate, timeout: float, message: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    pytest.fail(message)


@pytest.fixture(scope="module")
def faulty_stack():
    """The Procfile's web process (serve.py: granian) on a private Postgres and a private Redis."""
    redis = PrivateRedis().start()
    pg = PrivatePostgres().init().start()
    port = free_port()
    env = _env(pg, redis, port)
    process = None
    log_path = ROOT / "test-artifacts" / f"health-web-{port}.log"
    log_path.parent.mkdir(exist_ok=True)
    try:
        subprocess.run([str(ROOT / ".venv/bin/flask"), "--app", "wsgi", "db", "upgrade", "heads"], cwd=ROOT,
                       env=env, check=True, capture_output=True, timeout=180)
        establishment = _cli(env, "create-establishment", "--name", "Fault clinic", "--timezone", "UTC",
                             "--currency", "XOF", "--vip-price", "500")
        _cli(env, "create-user", "--establishment", establishment["id"], "--email", "ops@example.test",
             "--password", "correct horse battery", "--role", "manager")
        with open(log_path, "ab") as log:
            process = subprocess.Popen([str(ROOT / ".venv/bin/python"), "serve.py"],
                                       cwd=ROOT, env=env, stdout=log, stderr=log, start_new_session=True)
        http = Http(f"http://127.0.0.1:{port}")

        def up():
            try:
                return http.call("GET", "/health", timeout=1)[0] == 200
            except OSError:
                assert process.poll() is None, f"the web process exited; see {log_path}"
                return False

        _wait(up, 60, f"the web process did not start; see {log_path}")
        status, _, body = http.json("POST", "/auth/login", {"email": "ops@example.test",
                                                             "password": "correct horse battery"})
        assert status == 200, body
        auth = {"Authorization": "Bearer " + body["access_token"]}
        status, _, queue = http.json("POST", "/api/queues", {"name": "General", "prefix": "A"}, auth)
        assert status == 201, queue
        yield {"http": http, "redis": redis, "pg": pg, "auth": auth, "queue_id": queue["id"], "log": log_path}
    finally:
        if process and process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)
        redis.stop()
        pg.destroy()


def _ready(http: Http):
    return http.json("GET", "/health/ready")


@pytest.mark.slow
def test_stopping_redis_makes_ready_503_and_the_app_recovers_by_itself(faulty_stack):
    http, redis, auth = faulty_stack["http"], faulty_stack["redis"], faulty_stack["auth"]
    status, _, device = http.json("POST", "/iot/register", {"label": "Door", "queue_id": faulty_stack["queue_id"]},
                                  auth)
    assert status == 201, device
    assert _ready(http)[0] == 200

    redis.stop()
    try:
        status, headers, body = _ready(http)
        assert status == 503 and int(headers["Retry-After"]) > 0
        assert body["checks"]["redis"]["ok"] is False and body["checks"]["broker"]["ok"] is False
        assert body["checks"]["database"]["ok"] is True
        assert all("ms" in check for check in body["checks"].values())
        assert http.call("GET", "/health")[0] == 200  # liveness does no I/O

        # Staff reads still work (limits fail open); a signed payment fails closed on the nonce
        # store: 503 with Retry-After, never 500, and nothing written.
        status, headers, _ = http.json("GET", "/api/queues", headers=auth)
        assert status in (200, 503) and (status == 200 or "Retry-After" in headers)
        payment = json.dumps({"transaction_id": str(uuid.uuid4()), "amount": 500}).encode()
        signed = signed_headers(device["device_id"], device["secret_key"], "POST", "/iot/payments", payment)
        status, headers, raw = http.call("POST", "/iot/payments", payment,
                                         {**signed, "Content-Type": "application/json"})
        assert status == 503, raw
        assert int(headers["Retry-After"]) > 0 and json.loads(raw)["error"]["code"] == "service_unavailable"
    finally:
        redis.start()

    _wait(lambda: _ready(http)[0] == 200, 20, "ready did not recover after Redis came back")
    payment = json.dumps({"transaction_id": str(uuid.uuid4()), "amount": 500}).encode()
    signed = signed_headers(device["device_id"], device["secret_key"], "POST", "/iot/payments", payment)
    status, _, raw = http.call("POST", "/iot/payments", payment, {**signed, "Content-Type": "application/json"})
    assert status in (200, 202), raw


@pytest.mark.slow
def test_stopping_postgres_under_load_answers_503_never_500_and_recovers(faulty_stack):
    http, pg, auth = faulty_stack["http"], faulty_stack["pg"], faulty_stack["auth"]
    seen: Counter = Counter()
    bad: list = []
    stop = threading.Event()

    def hammer(path: str, headers: dict) -> None:
        while not stop.is_set():
            try:
                status, response_headers, raw = http.call("GET", path, headers=headers, timeout=10)
            except OSError as exc:  # a dropped connection is as bad as a 500
                bad.append((path, repr(exc)))
                continue
            seen[(path, status)] += 1
            if status >= 500 and status != 503:
                bad.append((path, status, raw[:200]))
            if status == 503 and "Retry-After" not in response_headers:
                bad.append((path, "503 without Retry-After"))

    threads = [threading.Thread(target=hammer, args=(path, auth), daemon=True)
               for path in ("/api/queues", "/api/queues", "/health/ready")]
    for thread in threads:
        thread.start()
    try:
        _wait(lambda: seen[("/api/queues", 200)] > 5, 10, "no traffic before the outage")
        pg.stop("immediate")
        _wait(lambda: seen[("/api/queues", 503)] > 3 and seen[("/health/ready", 503)] > 0, 15,
              f"no 503 while Postgres was down: {dict(seen)}")
        before_restart = seen[("/api/queues", 200)]
        pg.start()
        _wait(lambda: seen[("/api/queues", 200)] > before_restart + 5, 30,
              f"the app did not recover after Postgres came back: {dict(seen)}")
        _wait(lambda: _ready(http)[0] == 200, 15, "ready did not recover")
    finally:
        stop.set()
        for thread in threads:
            thread.join(15)
    assert not bad, bad[:10]


@pytest.mark.slow
def test_the_web_process_logs_only_json_lines(faulty_stack):
    """The server's own lines (granian's) and the app's, through outages included: one JSON object per line."""
    faulty_stack["http"].call("GET", "/api/queues", headers={"X-Request-ID": "json-lines-0123456789"})
    lines = _wait(lambda: [line for line in faulty_stack["log"].read_text().splitlines() if line.strip()]
                  if "json-lines-0123456789" in faulty_stack["log"].read_text() else None, 10, "no request line")
    parsed = []
    for line in lines:
        try:
            parsed.append(json.loads(line))
        except ValueError:
            pytest.fail(f"non-JSON line from the web process: {line[:200]}")
    assert any(entry.get("logger", "").startswith("_granian") and "Spawning worker" in entry.get("message", "")
               for entry in parsed)  # the server's lines are there, in JSON
    assert any(entry.get("request_id") == "json-lines-0123456789" and "duration_ms" in entry for entry in parsed)


def test_a_hanging_database_makes_ready_503_within_seconds(app, redis_url):
    """A Postgres that accepts the TCP connection but never answers (host frozen)."""
    import socket

    from kiosk import create_app
    from tests.conftest import make_config

    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(16)  # the kernel completes handshakes; nobody ever answers
    try:
        url = f"postgresql+psycopg2://postgres@127.0.0.1:{silent.getsockname()[1]}/kiosk"
        hung = create_app(make_config(url, redis_url))
        started = time.monotonic()
        response = hung.test_client().get("/health/ready")
        elapsed = time.monotonic() - started
    finally:
        silent.close()
        app.extensions["celery"].set_default()  # shared tasks go back to the session app
    assert response.status_code == 503 and response.headers["Retry-After"]
    body = response.get_json()
    assert body["checks"]["database"]["ok"] is False and body["checks"]["redis"]["ok"] is True
    assert elapsed < 8, f"readiness hung {elapsed:.1f}s on a silent database"
