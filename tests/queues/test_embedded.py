"""The queue flow on the embedded default (SQLite file, in-process Redis stand-in)."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
pytestmark = pytest.mark.slow

SCRIPT = textwrap.dedent("""
    import json, sys
    from wsgi import app
    demo = json.loads(sys.argv[1])
    c = app.test_client()
    login = demo["logins"]["agent"]
    token = c.post("/auth/login", json=login).get_json()["access_token"]
    h = {"Authorization": "Bearer " + token}
    queue = demo["queues"][0]["id"]
    first = c.post(f"/api/queues/{queue}/tickets", json={"kind": "STANDARD"}, headers=h).get_json()
    second = c.post(f"/api/queues/{queue}/tickets", headers=h).get_json()
    assert (first["code"], second["code"], second["position"]) == ("A-001", "A-002", 2), (first, second)
    detail = c.get(f"/api/queues/{queue}", headers=h).get_json()
    assert [t["code"] for t in detail["waiting"]] == ["A-001", "A-002"], detail
    called = c.post(f"/api/queues/{queue}/call-next", json={"counter": 1}, headers=h).get_json()
    assert called["code"] == "A-001" and called["status"] == "CALLED", called
    path = "/t/" + second["tracking_url"].rsplit("/t/", 1)[1]
    assert c.get(path + ".json").get_json()["ticket"]["position"] == 1
    assert c.get(path).status_code == 200 and c.get(path + "/qr.svg").status_code == 200
    served = c.post(f"/api/tickets/{called['ticket_id']}/serve", headers=h)
    assert served.status_code == 200, served.data
    again = c.post(f"/api/tickets/{called['ticket_id']}/serve", headers=h)
    assert again.status_code == 409 and again.get_json()["error"]["code"] == "invalid_transition"
    assert c.post(f"/api/queues/{queue}/call-next", json={"counter": 1}, headers=h).status_code == 200
    assert c.post(f"/api/queues/{queue}/call-next", json={"counter": 1}, headers=h).status_code == 204
    print("ok")
""")


def test_queue_flow_on_sqlite_without_redis(tmp_path):
    for item in ("kiosk", "migrations", "wsgi.py", "celery_worker.py", "frontend"):
        src = os.path.join(ROOT, item)
        if os.path.exists(src):
            (shutil.copytree if os.path.isdir(src) else shutil.copy)(src, tmp_path / item)
    env = {k: v for k, v in os.environ.items()
           if k not in ("DATABASE_URL", "REDIS_URL", "SECRET_KEY", "DEVICE_SECRET_KEYS")}
    env["RATELIMIT_ENABLED"] = "0"

    def run(*args):
        return subprocess.run([sys.executable, *args], cwd=tmp_path, env=env, capture_output=True, text=True,
                              timeout=120)

    assert run("-m", "flask", "--app", "wsgi", "db", "upgrade").returncode == 0
    seeded = run("-m", "flask", "--app", "wsgi", "seed-demo")
    assert seeded.returncode == 0, seeded.stderr[-2000:]
    demo = json.loads(seeded.stdout)
    flow = run("-c", SCRIPT, json.dumps(demo))
    assert flow.returncode == 0 and flow.stdout.strip().endswith("ok"), flow.stderr[-3000:]
