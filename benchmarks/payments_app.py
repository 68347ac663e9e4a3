"""WSGI entry point for benchmarks/payments_ingest.py: three things behind one gunicorn.

    gunicorn -c gunicorn.conf.py benchmarks.payments_app:app

- ``POST /bench/bare``               a bare Flask endpoint (returns a constant);
- ``POST /bench/skeleton/payments``  the minimal ingest skeleton: HMAC check
  (scheme v1, secret held in memory), Redis nonce ``SET NX EX``, one INSERT +
  COMMIT, one Celery enqueue (``send_task``) -- none of the app's layers (no
  validation schema, tenancy/RLS, device lookup, rate limits, request logs,
  security headers, i18n);
- everything else: the full Kiosk app (``create_app()``), e.g. ``POST /iot/payments``.

Every request goes through the same prefix test, so the dispatch costs the same
for all three. Reads DATABASE_URL, REDIS_URL and BENCH_DEVICES_FILE (JSON
``{"devices": {device_id: secret}, "establishment_id": ...}``).
"""
from __future__ import annotations

import hashlib
import hmac
import json
import os
from datetime import datetime, timezone

import redis
import sqlalchemy as sa
from celery import Celery
from flask import Flask, jsonify, request

from kiosk import create_app
from kiosk.config import normalise_database_url
from kiosk.devices import signing

full = create_app()

light = Flask("bench-light")
_devices = json.loads(open(os.environ["BENCH_DEVICES_FILE"]).read())
SECRETS: dict[str, str] = _devices["devices"]
ESTABLISHMENT_ID = _devices["establishment_id"]
# The skeleton connects as the login role (the table owner): no RLS, no SET ROLE.
ENGINE = sa.create_engine(normalise_database_url(os.environ["DATABASE_URL"]), pool_size=10, max_overflow=20)
REDIS = redis.Redis.from_url(os.environ["REDIS_URL"], socket_timeout=1.0)
BROKER = Celery("bench-skeleton", broker=os.environ["REDIS_URL"], set_as_current=False)
INSERT = sa.text(
    "INSERT INTO transactions (transaction_id, establishment_id, device_id, amount, currency, status, "
    "payload_hash, attempts, created_at, updated_at) VALUES (:tid, :est, :dev, :amount, 'XOF', 'PENDING', "
    ":hash, 0, :now, :now)"
)


@light.post("/bench/bare")
def bare():
    return jsonify(ok=True)


@light.post("/bench/skeleton/payments")
def skeleton():
    headers = request.headers
    device_id = headers.get("X-Device-Id", "")
    timestamp = headers.get("X-Timestamp", "")
    nonce = headers.get("X-Nonce", "")
    body = request.get_data()
    secret = SECRETS.get(device_id)
    if secret is None:
        return jsonify(error="invalid_signature"), 401
    expected = signing.sign(secret, "POST", request.path, device_id, timestamp, nonce, body)
    if not hmac.compare_digest(expected, headers.get("X-Signature", "")):
        return jsonify(error="invalid_signature"), 401
    if not REDIS.set(f"bench-nonce:{device_id}:{nonce}", 1, nx=True, ex=600):
        return jsonify(error="replayed_request"), 401
    data = json.loads(body)
    now = datetime.now(timezone.utc)
    with ENGINE.begin() as conn:
        conn.execute(INSERT, {"tid": data["transaction_id"], "est": ESTABLISHMENT_ID, "dev": device_id,
                              "amount": data["amount"], "hash": hashlib.sha256(body).hexdigest(), "now": now})
    BROKER.send_task("payments.process_transaction", args=[data["transaction_id"]])
    return jsonify(transaction_id=data["transaction_id"], status="PENDING"), 202


def app(environ, start_response):
    if environ.get("PATH_INFO", "").startswith("/bench/"):
        return light(environ, start_response)
    return full(environ, start_response)
