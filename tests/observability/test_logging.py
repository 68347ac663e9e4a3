"""JSON logs: one line per request with id and latency, errors with context, nothing secret."""
from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import jwt as pyjwt
import pytest
from flask import g

from tests.conftest import DEVICE_KEY
from tests.factories import PASSWORD

ROOT = Path(__file__).resolve().parents[2]


def test_each_request_logs_one_json_line_with_id_and_latency(client, logs):
    response = client.get("/api/queues", headers={"X-Request-ID": "trace-0123456789"})
    [line] = logs.requests()
    assert line["request_id"] == "trace-0123456789" == response.headers["X-Request-ID"]
    assert line["method"] == "GET" and line["route"] == "/api/queues" and line["status"] == 401
    assert isinstance(line["duration_ms"], float) and line["duration_ms"] >= 0
    assert {"time", "level", "logger", "establishment_id", "device_id"} <= set(line)


def test_requests_refused_before_any_view_still_have_a_latency(client, logs):
    client.post("/api/queues", data=b"a=1", content_type="text/plain")
    [line] = logs.requests()
    assert line["status"] == 415 and isinstance(line["duration_ms"], float)


def test_signed_request_login_and_register_leave_no_secret_in_the_logs(app, client, world, device_client, logs):
    # A login: the password and the issued JWT never appear.
    login = client.post("/auth/login", json={"email": world.a.manager_email, "password": PASSWORD})
    token = login.get_json()["access_token"]
    failed = client.post("/auth/login", json={"email": world.a.agent_email, "password": "hunter2-wrong"})
    assert failed.status_code == 401
    # A register: the device secret is in the response, never in a log line.
    auth = {"Authorization": f"Bearer {token}"}
    register = client.post("/iot/register", json={"label": "Lobby", "queue_id": world.a.queue_id}, headers=auth)
    assert register.status_code == 201, register.get_json()
    issued = register.get_json()["secret_key"]
    # A signed request: the signature and the secret never appear.
    device = device_client(world.a.device_id, world.a.device_secret)
    signed = device.post("/iot/payments", {"transaction_id": str(uuid.uuid4()), "amount": 500})
    assert signed.status_code in (200, 201, 202), signed.get_json()
    from kiosk.devices.signing import signed_headers

    signature = signed_headers(world.a.device_id, world.a.device_secret, "GET", "/x", b"")["X-Signature"]
    # Even when code logs the raw material, the formatter scrubs it.
    logging.getLogger("kiosk.test").warning(
        "debug dump Authorization: Bearer %s X-Signature: %s secret_key=%s", token, signature, issued,
        extra={"headers": {"Authorization": f"Bearer {token}", "X-Signature": signature},
               "password": PASSWORD, "secret_key": issued, "device_secret": world.a.device_secret})

    text = logs.text
    lines = logs.lines()
    assert len(logs.requests()) == 4
    for secret in (PASSWORD, "hunter2-wrong", token, token.split(".")[2], issued, world.a.device_secret,
                   signature[3:], app.config["SECRET_KEY"], DEVICE_KEY):
        assert secret not in text, f"secret leaked into logs: {secret[:12]}..."
    dump = next(line for line in lines if line["message"].startswith("debug dump"))
    assert dump["password"] == dump["secret_key"] == "[redacted]"
    assert dump["headers"] == {"Authorization": "[redacted]", "X-Signature": "[redacted]"}
    # Lines logged during a request carry its id and the latency so far.
    registered = next(line for line in lines if line["message"] == "device registered")
    assert registered["request_id"] and isinstance(registered["elapsed_ms"], float)
    signed_line = logs.requests()[-1]
    assert signed_line["device_id"] == world.a.device_id and signed_line["establishment_id"] == world.a.id


def test_unhandled_error_is_logged_critical_with_context(database_url, redis_url, logs):
    from kiosk import create_app
    from tests.conftest import make_config

    fresh = create_app(make_config(database_url, redis_url))

    @fresh.get("/__boom_for_log_test")
    def boom():
        raise RuntimeError("boom password=swordfish")

    response = fresh.test_client().get("/__boom_for_log_test", headers={"X-Request-ID": "boom-0123456789"})
    assert response.status_code == 500
    [line] = [entry for entry in logs.lines() if entry["level"] == "CRITICAL"]
    assert line["request_id"] == "boom-0123456789" and line["route"] == "/__boom_for_log_test"
    assert line["error"] == "RuntimeError" and "Traceback" in line["exc_info"]
    assert "swordfish" not in logs.text


def test_eager_task_logs_carry_the_request_id(app, logs):
    celery_app = app.extensions["celery"]

    @celery_app.task(name="tests.observability.log_in_task")
    def log_in_task():
        logging.getLogger("kiosk.test.task").info("inside task")

    with app.test_request_context("/"):
        g.request_id = "eager-0123456789"
        log_in_task.delay()
    [line] = [entry for entry in logs.lines() if entry["message"] == "inside task"]
    assert line["request_id"] == "eager-0123456789"
    assert isinstance(line["elapsed_ms"], float)  # latency so far, within the task


def _env(database_url: str, redis_url: str) -> dict:
    return {**os.environ, "DATABASE_URL": database_url, "REDIS_URL": redis_url, "KIOSK_ENV": "test",
            "SECRET_KEY": "test-secret-key-" + "x" * 32, "DEVICE_SECRET_KEYS": DEVICE_KEY,
            "KIOSK_CELERY_EAGER": "0", "PYTHONUNBUFFERED": "1"}


def _read_json_lines(process, until, timeout: float) -> list[dict]:
    """Every stderr line must be JSON; stop when ``until(line)`` or at the deadline."""
    import selectors

    lines, buffer = [], b""
    selector = selectors.DefaultSelector()
    selector.register(process.stderr, selectors.EVENT_READ)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not selector.select(timeout=0.2):
            continue
        chunk = os.read(process.stderr.fileno(), 65536)
        if not chunk:
            break
        buffer += chunk
        *complete, buffer = buffer.split(b"\n")
        for raw in complete:
            if raw.strip():
                try:
                    lines.append(json.loads(raw))
                except ValueError:
                    pytest.fail(f"non-JSON log line: {raw[:200]!r}")
                if until(lines[-1]):
                    return lines
    return lines


@pytest.mark.slow
def test_worker_and_beat_log_json_and_tasks_carry_the_publishing_request_id(app, database_url, redis_url):
    celery = [sys.executable, "-m", "celery", "-A", "celery_worker.celery_app"]
    worker = subprocess.Popen([*celery, "worker", "--pool=solo", "--loglevel=INFO", "--without-heartbeat",
                               "--without-gossip", "--without-mingle"],
                              cwd=ROOT, env=_env(database_url, redis_url), stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE)
    try:
        ready = _read_json_lines(worker, lambda line: "ready" in line.get("message", ""), 60)
        assert any("ready" in line["message"] for line in ready), ready[-5:]
        with app.test_request_context("/"):
            g.request_id = "publish-0123456789"
            app.extensions["celery"].send_task("celery.accumulate", args=(1, 2))
        done = _read_json_lines(worker, lambda line: "succeeded" in line.get("message", ""), 30)
        [succeeded] = [line for line in done if "succeeded" in line["message"]]
        assert succeeded["request_id"] == "publish-0123456789"
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(20)

    beat = subprocess.Popen([*celery, "beat", "--loglevel=INFO", f"--schedule=/tmp/kiosk-beat-test-{os.getpid()}"],
                            cwd=ROOT, env=_env(database_url, redis_url), stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    try:
        started = _read_json_lines(beat, lambda line: "Starting" in line.get("message", ""), 30)
        assert any(line["logger"].startswith("celery.beat") for line in started), started
    finally:
        beat.send_signal(signal.SIGTERM)
        beat.wait(20)


@pytest.mark.parametrize("text", [
    "request", "GET", "/iot/payments/123e4567-e89b-12d3-a456-426614174000", "dev_abcdefghijkl",
    "v1=" + "a" * 64, "Bearer abc.def.ghi", "basic dXNlcjpwYXNz", "eyJhbGciOi.eyJzdWIiOi.sig",
    "gAAAAABk" + "x" * 40, "secret_key=abc", "PASSWORD: hunter2", "access_token=xyz", "apikey=1",
    "postgresql://user:pw@host/db", "redis://averyveryverylongtoken@host", "/t/abcdefghijklmnop",
    "/ws/display/abcdefghijkl", "/display/abcdefghijkl/state.json", "claim_code=ABCD-1234",
])
def test_the_fast_path_never_changes_what_scrubbing_gives(text):
    """Strings with none of the trigger fragments skip the substitutions; the result is the same."""
    from kiosk.observability import logging as kiosk_logging

    full = text
    for step in (lambda v: kiosk_logging._SIGNATURE_VALUE.sub("v1=" + kiosk_logging.REDACTED, v),
                 lambda v: kiosk_logging._BEARER_VALUE.sub(lambda m: m.group(1) + " " + kiosk_logging.REDACTED, v),
                 lambda v: kiosk_logging._JWT_VALUE.sub(kiosk_logging.REDACTED, v),
                 lambda v: kiosk_logging._FERNET_VALUE.sub(kiosk_logging.REDACTED, v),
                 lambda v: kiosk_logging._SECRET_PAIR.sub(lambda m: m.group(1) + kiosk_logging.REDACTED, v),
                 kiosk_logging.mask_capability_urls,
                 lambda v: kiosk_logging._DSN_VALUE.sub(
                     lambda m: (m.group(1) or m.group(2)) + kiosk_logging.REDACTED + "@", v)):
        full = step(full)
    assert kiosk_logging.scrub_text(text) == full
