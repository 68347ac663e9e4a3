"""The embedded SQLite path of the cash boxes: same API answers, same CSV. Runs in a
subprocess (an SQLite app in this process would replace the session's Redis client)."""
from __future__ import annotations

import json
import os
import subprocess
import sys

from cryptography.fernet import Fernet

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

SCRIPT = r'''
import json, sys, uuid
from datetime import datetime, timedelta, timezone
from flask_migrate import upgrade
from kiosk import create_app
from kiosk.extensions import db
from kiosk.payments.models import Transaction
from kiosk.tenancy import tenant_scope
from tests import factories

app = create_app({"DATABASE_URL": sys.argv[1], "SECRET_KEY": "s" * 40, "DEVICE_SECRET_KEYS": sys.argv[2],
                  "KIOSK_ENV": "test", "TESTING": True})
assert app.config["EMBEDDED_REDIS"]
with app.app_context():
    upgrade(revision="heads")
    t = factories.make_tenant(timezone="Europe/Paris", currency="EUR")
    with tenant_scope(t.id):
        for amount, status in ((300, "CONFIRMED"), (150, "FAILED"), (300, "PENDING")):
            db.session.add(Transaction(transaction_id=uuid.uuid4(), device_id=t.device_id, amount=amount,
                                       currency="EUR", status=status, payload_hash="0" * 64))
        db.session.commit()

client = app.test_client()
token = client.post("/auth/login", json={"email": t.manager_email, "password": factories.PASSWORD}).get_json()
auth = {"Authorization": "Bearer " + token["access_token"]}
out = {}
box = client.get(f"/api/devices/{t.device_id}/cash", headers=auth).get_json()
out["box"] = box["expected"]
made = client.post(f"/api/devices/{t.device_id}/collections", headers=auth,
                   json={"counted": 700, "last_collection_id": box["last_collection_id"]})
out["made"] = [made.status_code, made.get_json()["difference"]]
again = client.post(f"/api/devices/{t.device_id}/collections", headers=auth,
                    json={"counted": 700, "last_collection_id": box["last_collection_id"]})
out["again"] = [again.status_code, again.get_json()["error"]["code"]]
out["after"] = client.get(f"/api/devices/{t.device_id}/cash", headers=auth).get_json()["expected"]
out["history"] = [c["number"] for c in client.get(f"/api/devices/{t.device_id}/collections",
                                                    headers=auth).get_json()["collections"]]
today = datetime.now(timezone.utc).date()
revenue = client.get(f"/stats/revenue/devices?from={today - timedelta(days=1)}&to={today}", headers=auth)
out["revenue"] = revenue.get_json()["total"]
print(json.dumps(out))
'''


def test_the_embedded_sqlite_app_keeps_the_cash_box_rules(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env["PYTHONPATH"] = ROOT
    run = subprocess.run([sys.executable, "-c", SCRIPT, f"sqlite:///{tmp_path / 'cash.sqlite3'}",
                          Fernet.generate_key().decode()], cwd=ROOT, env=env, capture_output=True, text=True,
                         timeout=120)
    assert run.returncode == 0, run.stderr[-3000:]
    out = json.loads(run.stdout.strip().splitlines()[-1])
    assert out == {"box": 750, "made": [201, -50], "again": [409, "collection_conflict"], "after": 0,
                   "history": [2, 1], "revenue": 300}
