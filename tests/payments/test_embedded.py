"""The payment flow on the embedded default: SQLite file, in-process Redis stand-in, in-process tasks."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
pytestmark = pytest.mark.slow

SCRIPT = textwrap.dedent("""
    import uuid
    from flask_migrate import upgrade
    from kiosk import create_app
    from tests import factories
    from tests.helpers import DeviceClient

    app = create_app()
    assert app.config["EMBEDDED_REDIS"] and app.config["CELERY"]["task_always_eager"]
    with app.app_context():
        upgrade(revision="heads")
        a = factories.make_tenant("A")
        b = factories.make_tenant("B")
    kiosk = DeviceClient(app.test_client(), a.device_id, a.device_secret)
    other = DeviceClient(app.test_client(), b.device_id, b.device_secret)
    tid = str(uuid.uuid4())
    first = kiosk.post("/iot/payments", {"transaction_id": tid, "amount": 500})
    assert first.status_code == 202 and first.get_json()["status"] == "CONFIRMED", first.get_json()
    again = kiosk.post("/iot/payments", {"transaction_id": tid, "amount": 500})
    assert again.status_code == 200 and again.get_json()["ticket"]["code"] == "VA-001", again.get_json()
    assert kiosk.post("/iot/payments", {"transaction_id": tid, "amount": 900}).status_code == 422
    assert other.post("/iot/payments", {"transaction_id": tid, "amount": 500}).status_code == 422
    low = kiosk.post("/iot/payments", {"transaction_id": str(uuid.uuid4()), "amount": 100})
    assert low.status_code == 202 and low.get_json()["status"] == "FAILED"
    rid = str(uuid.uuid4())
    ticket = kiosk.post("/iot/tickets", {"request_id": rid})
    assert ticket.status_code == 201, ticket.get_json()
    assert kiosk.post("/iot/tickets", {"request_id": rid}).get_json()["ticket_id"] == ticket.get_json()["ticket_id"]
    status = kiosk.get(f"/iot/payments/{tid}").get_json()
    assert status["status"] == "CONFIRMED" and status["ticket"]["eta_minutes"] is not None, status
    print("ok")
""")


def test_payment_flow_on_sqlite_without_redis(tmp_path):
    env = {k: v for k, v in os.environ.items()
           if k not in ("DATABASE_URL", "REDIS_URL", "SECRET_KEY", "DEVICE_SECRET_KEYS", "KIOSK_CELERY_EAGER")}
    env["DATABASE_URL"] = f"sqlite:///{tmp_path / 'kiosk.sqlite3'}"
    env["RATELIMIT_ENABLED"] = "0"
    result = subprocess.run([sys.executable, "-c", SCRIPT], cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip().endswith("ok")
