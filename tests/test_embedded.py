"""The embedded default (no DATABASE_URL, no REDIS_URL) is a real, usable app."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_embedded_default_boots_migrates_seeds_and_serves_health(tmp_path):
    # A fresh copy of the project, so the instance folder starts empty.
    for item in ("kiosk", "migrations", "wsgi.py", "celery_worker.py"):
        src = os.path.join(ROOT, item)
        (shutil.copytree if os.path.isdir(src) else shutil.copy)(src, tmp_path / item)
    env = {k: v for k, v in os.environ.items()
           if k not in ("DATABASE_URL", "REDIS_URL", "SECRET_KEY", "DEVICE_SECRET_KEYS")}

    def flask(*args):
        return subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", *args], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=120)

    up = flask("db", "upgrade")
    assert up.returncode == 0, up.stderr[-2000:]
    assert "embedded SQLite" in up.stderr and "in-process Redis stand-in" in up.stderr
    assert (tmp_path / "instance" / "kiosk.sqlite3").exists()
    seeded = flask("seed-demo")
    assert seeded.returncode == 0, seeded.stderr[-2000:]
    demo = json.loads(seeded.stdout)
    assert demo["logins"]["manager"]["email"].startswith("manager@")

    script = (
        "from wsgi import app\n"
        "c = app.test_client()\n"
        "r = c.get('/health'); assert r.status_code == 200 and r.get_json() == {'status': 'ok'}, r.data\n"
        "r = c.get('/health/ready'); assert r.status_code == 200, r.data\n"
        f"r = c.post('/auth/login', json={{'email': '{demo['logins']['manager']['email']}', "
        f"'password': '{demo['logins']['manager']['password']}'}}); assert r.status_code == 200, r.data\n"
        "print('ok')\n"
    )
    run = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True,
                         timeout=120)
    assert run.returncode == 0 and run.stdout.strip().endswith("ok"), run.stderr[-2000:]
