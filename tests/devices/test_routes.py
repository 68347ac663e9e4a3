"""Registration (JWT and claim code), claims, and the managers' device API."""
from __future__ import annotations

import hashlib
import logging
import re
import threading
from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from kiosk.devices.services import decrypt_secret
from kiosk.devices.signing import signed_headers
from tests.factories import PASSWORD
from tests.helpers import ApiClient

DEVICE_FIELDS = {"device_id", "label", "status", "last_seen", "queue_id", "queue_name", "created_at",
                 "rotated_at", "previous_secret_valid_until"}


def _devices(owner_engine, establishment_id: str | None = None) -> list[dict]:
    query = "SELECT * FROM devices"
    params = {}
    if establishment_id:
        query += " WHERE establishment_id::text = :e"
        params = {"e": establishment_id}
    with owner_engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(sa.text(query + " ORDER BY created_at"), params)]


def _claims(owner_engine) -> list[dict]:
    with owner_engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(sa.text("SELECT * FROM device_claims"))]


def _error(response) -> str:
    return response.get_json()["error"]["code"]


def _signed_ok(client, device_id: str, secret_key: str) -> bool:
    """True when the guard accepts this secret for this device."""
    from kiosk.devices.guard import authenticate_device

    headers = signed_headers(device_id, secret_key, "GET", "/iot/payments/x")
    with client.application.test_request_context("/iot/payments/x", headers=headers):
        try:
            authenticate_device()
        except Exception:  # noqa: BLE001
            return False
    return True


# --- POST /iot/register with a manager's JWT ---------------------------------------

def test_a_manager_registers_a_device_and_gets_its_secret_once(world, api, owner_engine, client):
    api.login(world.a.manager_email, PASSWORD)
    response = api.post("/iot/register", json={"label": "Hall kiosk", "queue_id": world.a.queue_id})
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert set(body) == {"device_id", "secret_key", "establishment_id", "queue_id"}
    assert re.fullmatch(r"[0-9a-f]{64}", body["secret_key"])
    assert body["establishment_id"] == world.a.id and body["queue_id"] == world.a.queue_id
    assert response.headers["Cache-Control"] == "no-store"
    row = next(r for r in _devices(owner_engine) if r["device_id"] == body["device_id"])
    assert str(row["establishment_id"]) == world.a.id and row["label"] == "Hall kiosk"
    assert row["status"] == "ACTIVE"
    assert _signed_ok(client, body["device_id"], body["secret_key"])


def test_the_establishment_never_comes_from_the_body(world, api, owner_engine):
    api.login(world.a.manager_email, PASSWORD)
    before = len(_devices(owner_engine))
    response = api.post("/iot/register", json={"label": "x", "queue_id": world.a.queue_id,
                                               "establishment_id": world.b.id})
    assert response.status_code == 400 and _error(response) == "validation_error"
    assert "establishment_id" in response.get_json()["error"]["details"]
    assert len(_devices(owner_engine)) == before


def test_another_establishments_queue_is_not_found(world, api, owner_engine):
    api.login(world.a.manager_email, PASSWORD)
    before = (len(_devices(owner_engine)), len(_claims(owner_engine)))
    for path in ("/iot/register", "/api/devices/claims"):
        response = api.post(path, json={"label": "x", "queue_id": world.b.queue_id})
        assert response.status_code == 404 and _error(response) == "not_found", path
    assert (len(_devices(owner_engine)), len(_claims(owner_engine))) == before


@pytest.mark.parametrize("payload,field", [
    ({"queue_id": None}, "queue_id"),
    ({"label": "", "queue_id": "Q"}, "label"),
    ({"label": "   ", "queue_id": "Q"}, "label"),
    ({"label": "x" * 121, "queue_id": "Q"}, "label"),
    ({"label": "x", "queue_id": "not-a-uuid"}, "queue_id"),
    ({"label": 12, "queue_id": "Q"}, "label"),
])
def test_registration_validates_its_fields(world, api, payload, field):
    api.login(world.a.manager_email, PASSWORD)
    payload = {k: (world.a.queue_id if v == "Q" else v) for k, v in payload.items()}
    response = api.post("/iot/register", json=payload)
    assert response.status_code == 400 and _error(response) == "validation_error"
    assert field in response.get_json()["error"]["details"]


def test_an_agent_cannot_register_a_device_or_create_a_claim(world, api, owner_engine):
    api.login(world.a.agent_email, PASSWORD)
    before = (len(_devices(owner_engine)), len(_claims(owner_engine)))
    for path in ("/iot/register", "/api/devices/claims"):
        response = api.post(path, json={"label": "x", "queue_id": world.a.queue_id})
        assert response.status_code == 403 and _error(response) == "forbidden", path
    assert (len(_devices(owner_engine)), len(_claims(owner_engine))) == before


@pytest.mark.parametrize("payload", [{"label": "x", "queue_id": "Q"}, {}, None])
def test_registration_without_any_auth_is_401(world, client, owner_engine, payload):
    before = len(_devices(owner_engine))
    if payload is None:
        response = client.post("/iot/register")
    else:
        payload = {k: (world.a.queue_id if v == "Q" else v) for k, v in payload.items()}
        response = client.post("/iot/register", json=payload)
    assert response.status_code == 401 and _error(response) == "unauthorized"
    assert len(_devices(owner_engine)) == before


def test_a_forged_jwt_is_401(world, client):
    response = client.post("/iot/register", json={"label": "x", "queue_id": world.a.queue_id},
                           headers={"Authorization": "Bearer eyJhbGciOiJIUzI1NiJ9.e30.c2lnbmF0dXJl"})
    assert response.status_code == 401 and _error(response) == "invalid_token"


# --- claim codes -------------------------------------------------------------------

def _new_claim(api, world, label="Door kiosk") -> dict:
    response = api.post("/api/devices/claims", json={"label": label, "queue_id": world.a.other_queue_id})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def test_a_claim_code_is_one_use_15_minutes_and_stored_hashed(world, api, owner_engine):
    api.login(world.a.manager_email, PASSWORD)
    claim = _new_claim(api, world)
    assert set(claim) == {"claim_code", "expires_at"}
    assert re.fullmatch(r"[A-Z2-9]{4}-[A-Z2-9]{4}-[A-Z2-9]{4}", claim["claim_code"])
    expires = datetime.fromisoformat(claim["expires_at"])
    assert timedelta(minutes=14) < expires - datetime.now(timezone.utc) <= timedelta(minutes=15)
    rows = [r for r in _claims(owner_engine) if r["label"] == "Door kiosk"]
    assert len(rows) == 1
    normalised = claim["claim_code"].replace("-", "")
    assert rows[0]["code_hash"] == hashlib.sha256(normalised.encode()).hexdigest()
    raw_row = " ".join(str(v) for v in rows[0].values())
    assert normalised not in raw_row and claim["claim_code"] not in raw_row


def test_a_kiosk_registers_with_a_claim_code_into_the_claims_establishment(world, api, client, owner_engine):
    api.login(world.a.manager_email, PASSWORD)
    claim = _new_claim(api, world)
    response = client.post("/iot/register", json={"claim_code": claim["claim_code"]})
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["establishment_id"] == world.a.id and body["queue_id"] == world.a.other_queue_id
    assert response.headers["Cache-Control"] == "no-store"
    row = next(r for r in _devices(owner_engine) if r["device_id"] == body["device_id"])
    assert row["label"] == "Door kiosk"
    claim_row = next(r for r in _claims(owner_engine) if r["label"] == "Door kiosk")
    assert claim_row["used_at"] is not None and claim_row["device_id"] == body["device_id"]
    assert _signed_ok(client, body["device_id"], body["secret_key"])


def test_a_claim_code_is_accepted_lowercase_and_without_dashes(world, api, client):
    api.login(world.a.manager_email, PASSWORD)
    code = _new_claim(api, world)["claim_code"]
    response = client.post("/iot/register", json={"claim_code": code.replace("-", " ").lower()})
    assert response.status_code == 201


def test_a_reused_claim_code_is_refused(world, api, client, owner_engine):
    api.login(world.a.manager_email, PASSWORD)
    code = _new_claim(api, world)["claim_code"]
    assert client.post("/iot/register", json={"claim_code": code}).status_code == 201
    count = len(_devices(owner_engine))
    again = client.post("/iot/register", json={"claim_code": code})
    assert again.status_code == 401 and _error(again) == "invalid_claim_code"
    assert len(_devices(owner_engine)) == count


def test_an_expired_claim_code_is_refused_like_an_unknown_one(world, api, client, owner_engine):
    api.login(world.a.manager_email, PASSWORD)
    code = _new_claim(api, world)["claim_code"]
    with owner_engine.begin() as conn:
        conn.execute(sa.text("UPDATE device_claims SET expires_at = now() - interval '1 second' "
                             "WHERE label = 'Door kiosk'"))
    count = len(_devices(owner_engine))
    expired = client.post("/iot/register", json={"claim_code": code})
    unknown = client.post("/iot/register", json={"claim_code": "ABCD-EFGH-JKMN"})
    assert expired.status_code == unknown.status_code == 401
    assert expired.get_json() == unknown.get_json()
    assert _error(expired) == "invalid_claim_code"
    assert len(_devices(owner_engine)) == count
    assert next(r for r in _claims(owner_engine) if r["label"] == "Door kiosk")["used_at"] is None


@pytest.mark.parametrize("payload", [{"claim_code": ""}, {"claim_code": 123}, {"claim_code": "x" * 65},
                                     {"claim_code": "ABCD-EFGH-JKMN", "label": "x"}])
def test_a_malformed_claim_body_is_a_validation_error(client, payload):
    response = client.post("/iot/register", json=payload)
    assert response.status_code == 400 and _error(response) == "validation_error"


def test_two_concurrent_registrations_with_one_code_make_one_device(backend, backend_world):
    app, world, owner_engine = backend.app, backend_world, backend.owner_engine
    api = ApiClient(app.test_client())
    api.login(world.a.manager_email, PASSWORD)
    code = _new_claim(api, world)["claim_code"]
    racers = 6
    barrier = threading.Barrier(racers)
    statuses: list[int] = []
    lock = threading.Lock()

    def register():
        client = app.test_client()
        barrier.wait(timeout=10)
        status = client.post("/iot/register", json={"claim_code": code}).status_code
        with lock:
            statuses.append(status)

    threads = [threading.Thread(target=register) for _ in range(racers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(statuses) == [201] + [401] * (racers - 1)
    devices = [r for r in _devices(owner_engine) if r["label"] == "Door kiosk"]
    assert len(devices) == 1
    claim_row = next(r for r in _claims(owner_engine) if r["label"] == "Door kiosk")
    assert claim_row["device_id"] == devices[0]["device_id"]


def test_bad_claim_codes_count_against_the_per_ip_limit(world, api, app):
    api.login(world.a.manager_email, PASSWORD)
    good = _new_claim(api, world)["claim_code"]
    attacker = app.test_client()
    env = {"REMOTE_ADDR": "10.7.7.7"}
    for i in range(30):
        response = attacker.post("/iot/register", json={"claim_code": f"WRNG-CODE-{i:04d}"}, environ_base=env)
        assert response.status_code == 401
    blocked = attacker.post("/iot/register", json={"claim_code": good}, environ_base=env)
    assert blocked.status_code == 429 and _error(blocked) == "rate_limited"
    assert int(blocked.headers["Retry-After"]) > 0
    # The code was not spent by the blocked attempt: another address can still use it.
    assert app.test_client().post("/iot/register", json={"claim_code": good}).status_code == 201


# --- management API ----------------------------------------------------------------

def test_managers_and_agents_list_only_their_devices_without_secrets(world, api):
    for email in (world.a.manager_email, world.a.agent_email):
        api.login(email, PASSWORD)
        response = api.get("/api/devices")
        assert response.status_code == 200
        devices = response.get_json()["devices"]
        assert [d["device_id"] for d in devices] == [world.a.device_id]
        assert set(devices[0]) == DEVICE_FIELDS
        assert devices[0]["queue_name"] == "General" and devices[0]["status"] == "ACTIVE"
        assert world.a.device_secret not in response.get_data(as_text=True)


def test_device_detail_and_other_tenants_404(world, api):
    api.login(world.a.manager_email, PASSWORD)
    response = api.get(f"/api/devices/{world.a.device_id}")
    assert response.status_code == 200 and set(response.get_json()) == DEVICE_FIELDS
    for method, path in [("GET", ""), ("POST", "/disable"), ("POST", "/enable"), ("POST", "/rotate-secret")]:
        for device_id in (world.b.device_id, "dev_nothere"):
            response = api.request(method, f"/api/devices/{device_id}{path}")
            assert response.status_code == 404 and _error(response) == "not_found", (method, path)


def test_agents_cannot_change_devices(world, api, owner_engine):
    api.login(world.a.agent_email, PASSWORD)
    for action in ("disable", "enable", "rotate-secret"):
        response = api.post(f"/api/devices/{world.a.device_id}/{action}")
        assert response.status_code == 403 and _error(response) == "forbidden"
    row = next(r for r in _devices(owner_engine) if r["device_id"] == world.a.device_id)
    assert row["status"] == "ACTIVE" and row["rotated_at"] is None


def test_the_device_api_needs_a_login(world, client):
    for method, path in [("GET", "/api/devices"), ("GET", f"/api/devices/{world.a.device_id}"),
                         ("POST", f"/api/devices/{world.a.device_id}/disable"), ("POST", "/api/devices/claims")]:
        response = client.open(path, method=method)
        assert response.status_code == 401 and _error(response) == "unauthorized", path


def test_disable_enable_and_rotate_answer_with_the_device(world, api, client):
    api.login(world.a.manager_email, PASSWORD)
    disabled = api.post(f"/api/devices/{world.a.device_id}/disable")
    assert disabled.status_code == 200 and disabled.get_json()["status"] == "DISABLED"
    assert api.post(f"/api/devices/{world.a.device_id}/disable").get_json()["status"] == "DISABLED"  # idempotent
    assert api.get("/api/devices").get_json()["devices"][0]["status"] == "DISABLED"
    enabled = api.post(f"/api/devices/{world.a.device_id}/enable")
    assert enabled.status_code == 200 and enabled.get_json()["status"] == "ACTIVE"

    rotated = api.post(f"/api/devices/{world.a.device_id}/rotate-secret")
    assert rotated.status_code == 200
    assert set(rotated.get_json()) == {"device_id", "secret_key"}
    assert rotated.headers["Cache-Control"] == "no-store"
    detail = api.get(f"/api/devices/{world.a.device_id}").get_json()
    rotated_at = datetime.fromisoformat(detail["rotated_at"])
    until = datetime.fromisoformat(detail["previous_secret_valid_until"])
    assert until - rotated_at == timedelta(hours=24)
    assert abs((rotated_at - datetime.now(timezone.utc)).total_seconds()) < 30


# --- the raw secret never leaks ----------------------------------------------------

def test_the_raw_secret_never_appears_outside_its_one_time_reveal(app, world, api, client, owner_engine, caplog):
    """DB columns, log records (raw and formatted), and every non-reveal response."""
    caplog.set_level(logging.DEBUG)
    api.login(world.a.manager_email, PASSWORD)
    secrets_seen: list[str] = [world.a.device_secret]
    bodies: list[str] = []

    registered = api.post("/iot/register", json={"label": "Leak check", "queue_id": world.a.queue_id}).get_json()
    secrets_seen.append(registered["secret_key"])
    code = api.post("/api/devices/claims", json={"label": "Leak claim", "queue_id": world.a.queue_id}
                    ).get_json()["claim_code"]
    claimed = client.post("/iot/register", json={"claim_code": code}).get_json()
    secrets_seen.append(claimed["secret_key"])
    rotated = api.post(f"/api/devices/{world.a.device_id}/rotate-secret").get_json()
    secrets_seen.append(rotated["secret_key"])

    for device_id in (world.a.device_id, registered["device_id"], claimed["device_id"]):
        for method, path in [("GET", f"/api/devices/{device_id}"), ("POST", f"/api/devices/{device_id}/disable"),
                             ("POST", f"/api/devices/{device_id}/enable")]:
            bodies.append(api.request(method, path).get_data(as_text=True))
    bodies.append(api.get("/api/devices").get_data(as_text=True))
    assert _signed_ok(client, world.a.device_id, rotated["secret_key"])
    assert _signed_ok(client, world.a.device_id, world.a.device_secret)  # previous, in grace
    assert not _signed_ok(client, world.a.device_id, "0" * 64)

    # Database: only Fernet tokens, which decrypt to the secret (so it is encrypted, not lost).
    with owner_engine.connect() as conn:
        dump = "\n".join(conn.execute(sa.text(
            "SELECT devices::text FROM devices UNION ALL SELECT device_claims::text FROM device_claims")).scalars())
        row = conn.execute(sa.text("SELECT secret_encrypted, previous_secret_encrypted FROM devices "
                                   "WHERE device_id = :d"), {"d": world.a.device_id}).one()
    with app.app_context():
        assert decrypt_secret(row.secret_encrypted) == rotated["secret_key"]
        assert decrypt_secret(row.previous_secret_encrypted) == world.a.device_secret

    from kiosk.observability.logging import ScrubbingJsonFormatter

    formatter = ScrubbingJsonFormatter("%(message)s")
    logged = "\n".join([r.getMessage() + " " + repr(r.__dict__) for r in caplog.records]
                       + [formatter.format(r) for r in caplog.records])
    assert any("device registered" in r.getMessage() for r in caplog.records)  # we did capture the app's logs
    for secret in secrets_seen:
        assert secret not in dump
        assert secret not in logged
        for body in bodies:
            assert secret not in body
    assert code not in logged and code.replace("-", "") not in dump


def test_listing_reads_queue_names_in_one_query(world, api, app):
    """One query for the queue names, not one per device."""
    from kiosk.devices.services import register_device
    from kiosk.extensions import db
    from kiosk.tenancy import tenant_scope

    with app.app_context(), tenant_scope(world.a.id):
        for i in range(20):
            register_device(f"Kiosk {i}", world.a.other_queue_id if i % 2 else world.a.queue_id)
        engine = db.engine
    api.login(world.a.manager_email, PASSWORD)
    statements: list[str] = []

    def spy(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    sa.event.listen(engine, "before_cursor_execute", spy)
    try:
        response = api.get("/api/devices")
    finally:
        sa.event.remove(engine, "before_cursor_execute", spy)
    devices = response.get_json()["devices"]
    assert len(devices) == 21
    assert {d["queue_name"] for d in devices} == {"General", "Pharmacy"}
    assert len([s for s in statements if "FROM queues" in s]) == 1
