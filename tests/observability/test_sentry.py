"""Sentry against a local fake DSN endpoint: the event arrives, tagged, with no secret in it."""
from __future__ import annotations

import gzip
import json
import threading
import time
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.conftest import make_config


def _boom():
    secret_key = "local-secret-value-123"  # noqa: F841 - must not travel as a frame variable
    raise RuntimeError("failed with password=swordfish token=abc123def456")


class FakeSentry:
    """A tiny threaded HTTP server that keeps every envelope it is sent."""

    def __init__(self) -> None:
        self.envelopes: list[bytes] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server API
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                encoding = (self.headers.get("Content-Encoding") or "").lower()
                if encoding == "gzip":
                    body = gzip.decompress(body)
                elif encoding == "deflate":
                    body = zlib.decompress(body)
                elif encoding == "br":
                    import brotli

                    body = brotli.decompress(body)
                outer.envelopes.append(body)
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def dsn(self) -> str:
        return f"http://publickey@127.0.0.1:{self.server.server_port}/1"

    def events(self) -> list[dict]:
        found = []
        for envelope in self.envelopes:
            lines = envelope.split(b"\n")
            for header, payload in zip(lines[1::2], lines[2::2]):
                if json.loads(header).get("type") == "event":
                    found.append(json.loads(payload))
        return found

    def close(self) -> None:
        self.server.shutdown()


@pytest.fixture
def fake_sentry():
    server = FakeSentry()
    yield server
    import sentry_sdk

    sentry_sdk.init(dsn=None)  # later tests of this session send nothing anywhere
    server.close()


def test_errors_reach_sentry_tagged_and_scrubbed(fake_sentry, database_url, redis_url, world):
    import sentry_sdk

    from kiosk import create_app

    app = create_app(make_config(database_url, redis_url, SENTRY_DSN=fake_sentry.dsn, RELEASE="kiosk@1.2.3",
                                 KIOSK_ENV="staging"))

    app.post("/api/__boom_for_sentry_test")(_boom)
    signature = "v1=" + "ab" * 32
    client = app.test_client()
    client.set_cookie("access_token_cookie", "cookie-jwt-value")
    response = client.post("/api/__boom_for_sentry_test?token=query-token-value",
                           json={"password": "body-password", "secret_key": "body-secret", "amount": 5},
                           headers={"Authorization": "Bearer header-jwt-value", "X-Signature": signature,
                                    "X-Device-Id": "dev_abc", "X-Request-ID": "sentry-0123456789"})
    assert response.status_code == 500

    client_options = sentry_sdk.get_client().options
    assert client_options["send_default_pii"] is False
    integrations = {type(i).__name__ for i in sentry_sdk.get_client().integrations.values()}
    assert {"FlaskIntegration", "CeleryIntegration"} <= integrations
    sentry_sdk.flush(timeout=5)
    deadline = time.monotonic() + 5
    while not fake_sentry.events() and time.monotonic() < deadline:
        time.sleep(0.05)
    events = fake_sentry.events()
    assert events, "no event reached the fake Sentry"
    event = events[-1]
    assert event["release"] == "kiosk@1.2.3" and event["environment"] == "staging"
    assert event["exception"]["values"][-1]["type"] == "RuntimeError"
    raw = json.dumps(events)
    for secret in ("swordfish", "abc123def456", "local-secret-value-123", "body-password", "body-secret",
                   "header-jwt-value", "cookie-jwt-value", "ab" * 32, "query-token-value",
                   "test-secret-key-", "publickey@"):
        assert secret not in raw, f"leaked to Sentry: {secret}"
    headers = {k.lower(): v for k, v in event["request"]["headers"].items()}
    assert headers.get("x-signature", "[redacted]") in ("[redacted]", "[Filtered]")


@pytest.mark.slow
def test_worker_task_failures_reach_sentry_scrubbed(fake_sentry, app, database_url, redis_url):
    """A real Celery worker (CeleryIntegration): the failing task's event arrives, its secret kwargs do not."""
    import os
    import signal
    import subprocess
    import sys
    from pathlib import Path

    from tests.conftest import DEVICE_KEY

    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "DATABASE_URL": database_url, "REDIS_URL": redis_url, "KIOSK_ENV": "test",
           "SECRET_KEY": "test-secret-key-" + "x" * 32, "DEVICE_SECRET_KEYS": DEVICE_KEY,
           "KIOSK_CELERY_EAGER": "0", "SENTRY_DSN": fake_sentry.dsn, "KIOSK_RELEASE": "kiosk@9.9.9"}
    worker = subprocess.Popen([sys.executable, "-m", "celery", "-A", "celery_worker.celery_app", "worker",
                               "--pool=solo", "--loglevel=INFO", "--without-heartbeat", "--without-gossip",
                               "--without-mingle"], cwd=root, env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        # accumulate(*args, index=...) fails on a string index; the kwargs ride along in the event.
        app.extensions["celery"].send_task("celery.accumulate", args=(1, 2),
                                           kwargs={"index": "boom", "password": "task-password-value",
                                                   "secret_key": "task-secret-value"})
        deadline = time.monotonic() + 60
        while not fake_sentry.events() and time.monotonic() < deadline:
            assert worker.poll() is None, "worker exited"
            time.sleep(0.2)
    finally:
        os.killpg(worker.pid, signal.SIGTERM)
        worker.wait(20)
    events = fake_sentry.events()
    assert events, "no event from the worker reached the fake Sentry"
    event = events[-1]
    assert event["release"] == "kiosk@9.9.9" and event["exception"]["values"][-1]["type"] == "TypeError"
    assert event["extra"]["celery-job"]["task_name"] == "celery.accumulate"
    raw = json.dumps(events)
    assert "task-password-value" not in raw and "task-secret-value" not in raw
