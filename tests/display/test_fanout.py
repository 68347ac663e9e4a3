"""Fan-out across processes, on gunicorn's gevent worker (the production server).

An event published by another process (as a Celery worker does) reaches a
screen; one Redis subscriber per web process whatever the number of screens;
screens recover by themselves after a Redis restart; the embedded default
(in-process Redis stand-in) fans out too.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import urllib.request

import pytest
import redis

from tests.conftest import DEVICE_KEY
from tests.display.conftest import ROOT, connect, receive
from tests.fault_services import PrivateRedis, free_port

pytestmark = pytest.mark.slow

PUBLISHER = """
import json, sys
from kiosk import create_app
from kiosk.display.bus import publish
app = create_app()
with app.app_context():
    publish(sys.argv[1], json.loads(sys.argv[2]))
"""


def publish_from_another_process(database_url: str, redis_url: str, establishment_id: str, payload: dict):
    env = {**os.environ, "DATABASE_URL": database_url, "REDIS_URL": redis_url, "KIOSK_ENV": "test",
           "SECRET_KEY": "test-secret-key-" + "x" * 32, "DEVICE_SECRET_KEYS": DEVICE_KEY}
    done = subprocess.run([sys.executable, "-c", PUBLISHER, establishment_id, json.dumps(payload)], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]


def test_an_event_from_another_process_reaches_screens_on_every_web_process(world, gunicorn_server,
                                                                            database_url, redis_url):
    first, second = gunicorn_server(), gunicorn_server()
    screens = [connect(first.address, world.a.display_token), connect(second.address, world.a.display_token)]
    try:
        seqs = [receive(ws)["seq"] for ws in screens]
        call = {"type": "called", "ticket": {"ticket_id": "t1", "code": "A-042", "kind": "STANDARD",
                                             "counter": "3", "queue_id": world.a.queue_id}}
        publish_from_another_process(database_url, redis_url, world.a.id, call)
        for ws, seq in zip(screens, seqs):
            event = receive(ws)
            assert event["type"] == "called" and event["ticket"]["code"] == "A-042"
            assert event["seq"] == seq + 1
            assert time.time() - event["sent_at"] < 5
    finally:
        for ws in screens:
            ws.close()


def test_one_subscriber_per_process_and_recovery_after_a_redis_restart(world, gunicorn_server, database_url):
    private = PrivateRedis().start()
    try:
        server = gunicorn_server(redis=private.url)
        screens = [connect(server.address, world.a.display_token) for _ in range(5)]
        screens.append(connect(server.address, world.b.display_token))
        for ws in screens:
            receive(ws)
        admin = redis.Redis.from_url(private.url)
        assert admin.execute_command("PUBSUB", "NUMPAT") == 1  # six screens, one subscriber

        private.restart()  # the seq counter and every subscription are gone
        for ws in screens:  # the hub resubscribes and resyncs every screen by itself
            resync = receive(ws, timeout=15)
            assert resync["type"] == "snapshot" and not resync.get("refresh")
        assert redis.Redis.from_url(private.url).execute_command("PUBSUB", "NUMPAT") == 1

        publish_from_another_process(database_url, private.url, world.a.id,
                                     {"type": "queue", "queue_id": world.a.queue_id, "waiting": 7})
        for ws in screens[:5]:
            event = receive(ws, skip=("ping", "snapshot"))
            assert event["type"] == "queue" and event["waiting"] == 7 and event["seq"] == 1
        for ws in screens:
            ws.close()
    finally:
        private.stop()


def test_the_embedded_default_fans_out_through_the_in_process_stand_in(tmp_path):
    for item in ("kiosk", "migrations", "wsgi.py", "frontend"):
        src = os.path.join(ROOT, item)
        (shutil.copytree if os.path.isdir(src) else shutil.copy)(src, tmp_path / item)
    env = {k: v for k, v in os.environ.items()
           if k not in ("DATABASE_URL", "REDIS_URL", "SECRET_KEY", "DEVICE_SECRET_KEYS")}
    flask = [sys.executable, "-m", "flask", "--app", "wsgi"]
    assert subprocess.run([*flask, "db", "upgrade"], cwd=tmp_path, env=env, capture_output=True,
                          timeout=120).returncode == 0
    port = free_port()
    demo = json.loads(subprocess.run([*flask, "seed-demo", "--base-url", f"http://127.0.0.1:{port}"], cwd=tmp_path,
                                     env=env, capture_output=True, text=True, timeout=120).stdout)
    server = subprocess.Popen([*flask, "run", "--port", str(port), "--no-reload"], cwd=tmp_path, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        base = f"http://127.0.0.1:{port}"
        _wait_for(base + "/health")
        token = demo["display"]["url"].rsplit("/", 1)[1]
        ws = connect(f"127.0.0.1:{port}", token)
        snapshot = receive(ws)
        assert snapshot["establishment"]["name"] == demo["establishment"]["name"]
        # Anything that publishes will do: a manager adds a second display and revokes it.
        bearer = _post(base + "/auth/login", demo["logins"]["manager"])["access_token"]
        spare = _post(base + "/api/displays", {"label": "spare"}, bearer)
        _post(base + f"/api/displays/{spare['id']}/revoke", {}, bearer)
        event = receive(ws)
        assert event == {"type": "display_revoked", "seq": snapshot["seq"] + 1}
        ws.close()
    finally:
        os.killpg(server.pid, 9)
        server.wait(10)


def _wait_for(url: str) -> None:
    deadline = time.time() + 30
    while True:
        try:
            urllib.request.urlopen(url, timeout=1)
            return
        except Exception:  # noqa: BLE001
            assert time.time() < deadline, url
            time.sleep(0.1)


def _post(url: str, body: dict, bearer: str | None = None) -> dict:
    headers = {"Content-Type": "application/json"}
    if bearer:
        headers["Authorization"] = "Bearer " + bearer
    request = urllib.request.Request(url, json.dumps(body).encode(), headers, method="POST")
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())
