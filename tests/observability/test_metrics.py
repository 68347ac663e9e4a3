"""Prometheus /metrics: protected, per-route latency, payments, queues, displays, Celery outcomes."""
from __future__ import annotations

import os
import signal
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest
import sqlalchemy as sa
from prometheus_client.parser import text_string_to_metric_families

from kiosk.observability.metrics import record_payment
from tests.conftest import DEVICE_KEY
from tests.fault_services import free_port
from tests.security.test_retry_after import _tracking_token

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "metrics-token-for-tests-0123456789"


@pytest.fixture
def metrics_app(app):
    app.config.update(METRICS_TOKEN=TOKEN, METRICS_ALLOWED_NETWORKS="10.0.0.0/8, 192.0.2.1")
    yield app
    app.config.update(METRICS_TOKEN="", METRICS_ALLOWED_NETWORKS="")


def _scrape(client, **kwargs) -> dict:
    response = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"}, **kwargs)
    assert response.status_code == 200, response.get_data(True)[:300]
    assert response.content_type.startswith("text/plain")
    return {family.name: family for family in text_string_to_metric_families(response.get_data(True))}


def _value(families: dict, name: str, sample_name: str | None = None, **labels) -> float:
    family = families[name]
    matches = [s.value for s in family.samples
               if (sample_name is None or s.name == sample_name) and all(s.labels.get(k) == v for k, v in labels.items())]
    assert matches, (name, labels, family.samples[:5])
    return sum(matches)


@pytest.mark.parametrize("headers,environ", [
    ({}, {}),
    ({"Authorization": "Bearer wrong-token"}, {}),
    ({"Authorization": f"Basic {TOKEN}"}, {}),
    ({}, {"REMOTE_ADDR": "203.0.113.9"}),
])
def test_metrics_are_hidden_from_the_public(metrics_app, client, headers, environ):
    response = client.get("/metrics", headers=headers, environ_base=environ)
    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "not_found"
    assert b"kiosk_" not in response.data


def test_metrics_with_no_token_configured_are_refused_even_to_localhost(app, client):
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "127.0.0.1"}).status_code == 404


@pytest.mark.parametrize("address", ["10.20.30.40", "192.0.2.1"])
def test_allowed_networks_scrape_without_a_token(metrics_app, client, address):
    response = client.get("/metrics", environ_base={"REMOTE_ADDR": address})
    assert response.status_code == 200 and b"kiosk_request_duration_seconds" in response.data


def test_latency_is_per_route_template_never_per_raw_path(metrics_app, client, world):
    token = _tracking_token(metrics_app, world)
    for _ in range(3):
        assert client.get(f"/t/{token}.json").status_code == 200
    client.get("/api/no-such-thing-here")
    body = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"}).get_data(True)
    families = {f.name: f for f in text_string_to_metric_families(body)}
    count = _value(families, "kiosk_request_duration_seconds", "kiosk_request_duration_seconds_count",
                   route="/t/<token>.json", method="GET", status="200")
    assert count >= 3
    assert token not in body and "no-such-thing-here" not in body
    assert _value(families, "kiosk_request_duration_seconds", "kiosk_request_duration_seconds_count",
                  route="unmatched") >= 1


def test_state_gauges_match_the_database(metrics_app, client, world, owner_engine):
    with owner_engine.connect() as conn:
        failed = conn.execute(sa.text("SELECT count(*) FROM transactions WHERE status = 'FAILED'")).scalar()
        waiting = conn.execute(sa.text("SELECT count(*) FROM tickets WHERE status = 'WAITING'")).scalar()
    families = _scrape(client)
    assert failed >= 2 and waiting >= 2
    assert _value(families, "kiosk_transactions", status="FAILED") == failed
    assert _value(families, "kiosk_transactions", status="PENDING") == 0
    assert _value(families, "kiosk_tickets_waiting") == waiting
    assert _value(families, "kiosk_payments_pending_oldest_seconds") == 0
    assert _value(families, "kiosk_celery_queue_length") == 0
    assert _value(families, "kiosk_metrics_state_up") == 1
    assert "kiosk_displays_live" in families and "kiosk_display_connections" in families


def test_stuck_pending_payment_shows_its_age(metrics_app, client, world, owner_engine):
    with owner_engine.begin() as conn:
        conn.execute(sa.text(
            "INSERT INTO transactions (transaction_id, device_id, establishment_id, amount, currency, status, "
            "payload_hash, attempts, created_at, updated_at) VALUES (gen_random_uuid(), :d, :e, 500, 'XOF', "
            "'PENDING', :h, 0, now() - interval '20 minutes', now())"),
            {"d": world.a.device_id, "e": world.a.id, "h": "0" * 64})
    families = _scrape(client)
    assert _value(families, "kiosk_transactions", status="PENDING") == 1
    assert 19 * 60 < _value(families, "kiosk_payments_pending_oldest_seconds") < 30 * 60


def test_payment_and_task_hooks_are_counted(metrics_app, client):
    celery_app = metrics_app.extensions["celery"]

    @celery_app.task(name="tests.metrics.ok")
    def ok():
        return 1

    @celery_app.task(name="tests.metrics.broken")
    def broken():
        raise ValueError("boom")

    before = _scrape(client)

    def current(families, **labels):
        try:
            return _value(families, "kiosk_celery_tasks", "kiosk_celery_tasks_total", **labels)
        except (AssertionError, KeyError):
            return 0

    ok.delay()
    broken.delay()
    record_payment("CONFIRMED")
    after = _scrape(client)
    assert current(after, task="tests.metrics.ok", outcome="success") == current(
        before, task="tests.metrics.ok", outcome="success") + 1
    assert current(after, task="tests.metrics.broken", outcome="failure") == current(
        before, task="tests.metrics.broken", outcome="failure") + 1
    assert _value(after, "kiosk_payments", "kiosk_payments_total", status="CONFIRMED") >= 1


def test_a_database_outage_does_not_break_the_scrape(metrics_app, client, monkeypatch):
    from kiosk.observability import metrics

    def down(self):
        raise sa.exc.OperationalError("SELECT 1", {}, Exception("down"))

    monkeypatch.setattr(metrics.StateCollector, "_database_families", down)
    families = _scrape(client)
    assert _value(families, "kiosk_metrics_state_up") == 0
    assert "kiosk_request_duration_seconds" in families


@pytest.mark.slow
def test_web_workers_are_summed_in_one_scrape(database_url, redis_url, tmp_path):
    """The Procfile's web process (serve.py: granian, two worker processes) counts every request once."""
    stale = tmp_path / "histogram_999999.db"  # a previous run's samples: cleaned at start, never summed
    stale.write_bytes(b"stale")
    port = free_port()
    env = {**os.environ, "DATABASE_URL": database_url, "REDIS_URL": redis_url, "KIOSK_ENV": "test",
           "SECRET_KEY": "test-secret-key-" + "x" * 32, "DEVICE_SECRET_KEYS": DEVICE_KEY,
           "WEB_CONCURRENCY": "2", "WEB_THREADS": "2", "BIND": f"127.0.0.1:{port}",
           "METRICS_TOKEN": TOKEN, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path), "RATELIMIT_ENABLED": "0"}
    process = subprocess.Popen([str(ROOT / ".venv/bin/python"), "serve.py"],
                               cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    served = 0

    def get_health() -> None:
        nonlocal served
        urllib.request.urlopen(base + "/health", timeout=5).read()
        served += 1

    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                get_health()
                break
            except OSError:
                assert time.monotonic() < deadline and process.poll() is None, "the web process did not start"
                time.sleep(0.1)
        assert not stale.exists()
        # Concurrent requests until both workers have served some: each worker's
        # file (histogram_<pid>.db) holds the label of every route it timed.
        from concurrent.futures import ThreadPoolExecutor

        def workers_that_served() -> int:
            return sum(b'"/health"' in path.read_bytes() for path in tmp_path.glob("histogram_*.db"))

        deadline = time.monotonic() + 60
        with ThreadPoolExecutor(8) as pool:
            while workers_that_served() < 2:
                assert time.monotonic() < deadline, "only one worker ever answered"
                list(pool.map(lambda _: get_health(), range(16)))
        request = urllib.request.Request(base + "/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
        body = urllib.request.urlopen(request, timeout=10).read().decode()
        families = {f.name: f for f in text_string_to_metric_families(body)}
        total = _value(families, "kiosk_request_duration_seconds", "kiosk_request_duration_seconds_count",
                       route="/health")
        assert total == served  # every request counted once, whichever worker served it
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(30)
