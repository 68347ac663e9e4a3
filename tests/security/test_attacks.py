"""Attacks against the running app: each answered with the contract's status and error code,
and nothing written (every table's row count unchanged)."""
from __future__ import annotations

import re
import time
import uuid
from datetime import datetime, timedelta, timezone
from urllib.parse import quote, urlsplit

import jwt as pyjwt
import pytest
import sqlalchemy as sa

from tests.factories import PASSWORD


# --- helpers --------------------------------------------------------------------------

def table_counts(engine) -> dict[str, int]:
    with engine.connect() as conn:
        tables = [r[0] for r in conn.exec_driver_sql(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'alembic_version'")]
        return {t: conn.exec_driver_sql(f'SELECT count(*) FROM "{t}"').scalar() for t in tables}


@pytest.fixture
def unchanged(owner_engine, world):
    """Snapshot every table, run the attack, then prove nothing was written."""
    before = table_counts(owner_engine)
    yield
    assert table_counts(owner_engine) == before


def assert_error(response, status: int, code: str | tuple) -> dict:
    assert response.status_code == status, (response.status_code, response.get_data(True)[:300])
    body = response.get_json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "details"}
    codes = code if isinstance(code, tuple) else (code,)
    assert body["error"]["code"] in codes, body
    assert "Traceback" not in response.get_data(True)
    return body["error"]


def real_claims(app, client, email: str) -> dict:
    token = client.post("/auth/login", json={"email": email, "password": PASSWORD}).get_json()["access_token"]
    return pyjwt.decode(token, app.config["JWT_SECRET_KEY"], algorithms=["HS256"])


# --- JWT ------------------------------------------------------------------------------

def _forged(app, claims: dict, kind: str) -> str | None:
    now = datetime.now(timezone.utc)
    if kind == "missing":
        return None
    if kind == "garbage":
        return "not.a.jwt"
    if kind == "other_key":
        return pyjwt.encode(claims, "attacker-key-" + "z" * 40, algorithm="HS256")
    if kind == "expired":
        expired = {**claims, "iat": now - timedelta(hours=10), "nbf": now - timedelta(hours=10),
                   "exp": now - timedelta(minutes=1)}
        return pyjwt.encode(expired, app.config["JWT_SECRET_KEY"], algorithm="HS256")
    if kind == "alg_none":
        return pyjwt.encode(claims, None, algorithm="none")
    if kind == "alg_none_stripped":  # header says none, a signature is left off entirely
        header, payload, _ = pyjwt.encode(claims, app.config["JWT_SECRET_KEY"], algorithm="HS256").split(".")
        import base64
        import json

        none = base64.urlsafe_b64encode(json.dumps({"alg": "none", "typ": "JWT"}).encode()).rstrip(b"=").decode()
        return f"{none}.{payload}."
    if kind == "tampered_role":  # an agent's token with role changed, signature kept
        header, _, signature = pyjwt.encode(claims, app.config["JWT_SECRET_KEY"], algorithm="HS256").split(".")
        import base64
        import json

        body = {**claims, "role": "manager"}
        payload = base64.urlsafe_b64encode(json.dumps(body, default=str).encode()).rstrip(b"=").decode()
        return f"{header}.{payload}.{signature}"
    raise AssertionError(kind)


JWT_CASES = {
    "missing": "unauthorized",
    "garbage": "invalid_token",
    "other_key": "invalid_token",
    "expired": "token_expired",
    "alg_none": "invalid_token",
    "alg_none_stripped": "invalid_token",
    "tampered_role": "invalid_token",
}


@pytest.mark.parametrize("kind", sorted(JWT_CASES))
def test_bad_jwts_are_refused_and_write_nothing(app, client, world, owner_engine, kind):
    claims = real_claims(app, client, world.a.agent_email)
    token = _forged(app, claims, kind)
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    before = table_counts(owner_engine)
    writes = [
        client.post("/api/queues", json={"name": "Evil", "prefix": "E"}, headers=headers),
        client.post(f"/api/queues/{world.a.queue_id}/tickets", json={"kind": "STANDARD"}, headers=headers),
        client.post(f"/api/queues/{world.a.queue_id}/call-next", json={"counter": "1"}, headers=headers),
        client.post("/iot/register", json={"label": "Evil", "queue_id": world.a.queue_id}, headers=headers),
        client.post("/api/displays", json={"label": "Evil"}, headers=headers),
    ]
    reads = [client.get("/api/queues", headers=headers),
             client.get("/stats/revenue/daily?from=2026-01-01&to=2026-01-31", headers=headers)]
    for response in writes + reads:
        assert_error(response, 401, JWT_CASES[kind])
    assert table_counts(owner_engine) == before


# --- CSRF -----------------------------------------------------------------------------

CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')


def test_api_with_the_dashboard_cookie_needs_the_csrf_header(app, client, world, owner_engine):
    token = client.post("/auth/login", json={"email": world.a.manager_email, "password": PASSWORD}).get_json()[
        "access_token"]
    client.set_cookie("access_token_cookie", token)
    before = table_counts(owner_engine)
    for headers in ({}, {"X-CSRF-TOKEN": "forged"}):
        response = client.post("/api/queues", json={"name": "Cross-site", "prefix": "X"}, headers=headers)
        assert_error(response, 401, "csrf_failed")
    assert table_counts(owner_engine) == before
    # The same request with the cookie's CSRF value goes through (the check is not vacuous).
    csrf = pyjwt.decode(token, app.config["JWT_SECRET_KEY"], algorithms=["HS256"])["csrf"]
    assert client.post("/api/queues", json={"name": "Same-site", "prefix": "S"},
                       headers={"X-CSRF-TOKEN": csrf}).status_code == 201


def test_login_form_without_its_csrf_token_signs_nobody_in(client, world, unchanged):
    client.get("/login")
    for form in ({}, {"csrf_token": "forged-value"}):
        response = client.post("/login", data={"email": world.a.manager_email, "password": PASSWORD, **form})
        assert response.status_code == 400
        assert not any(c.startswith("access_token_cookie=") for c in response.headers.getlist("Set-Cookie"))


def test_logout_form_without_csrf_keeps_the_session(client, world):
    page = client.get("/login")
    token = CSRF_FIELD.search(page.get_data(True)).group(1)
    signed_in = client.post("/login", data={"email": world.a.manager_email, "password": PASSWORD,
                                            "csrf_token": token})
    assert signed_in.status_code in (302, 303)
    for form in ({}, {"csrf_token": "forged-value"}):
        response = client.post("/logout", data=form)
        assert response.status_code == 400
        assert not any("access_token_cookie=;" in c for c in response.headers.getlist("Set-Cookie"))


# --- SQL injection --------------------------------------------------------------------

SQLI = [
    "' OR '1'='1",
    "1' OR 1=1 --",
    "1; DROP TABLE users; --",
    "' UNION SELECT password_hash FROM users --",
    "2026-01-01' OR '1'='1",
    "1' AND pg_sleep(2) --",
    "%00' OR 1=1",
    "a\x00b",
]


def _stats_paths(value: str) -> list[str]:
    v = quote(value, safe="")
    return [f"/stats/revenue/daily?from={v}&to=2026-01-31", f"/stats/revenue/daily?from=2026-01-01&to={v}",
            f"/stats/revenue/monthly?from={v}&to=2026-03", f"/stats/revenue/monthly?from=2026-01&to={v}",
            f"/stats/vip/count?from={v}&to=2026-01-31", f"/stats/vip/count?from=2026-01-01&to={v}"]


@pytest.mark.parametrize("value", SQLI)
def test_sql_injection_in_stats_filters_is_a_validation_error(api, world, unchanged, value):
    api.login(world.a.manager_email)
    for path in _stats_paths(value):
        started = time.monotonic()
        response = api.get(path)
        assert_error(response, 400, "validation_error")
        assert time.monotonic() - started < 1.5, "the injected pg_sleep ran"


@pytest.mark.parametrize("value", SQLI)
def test_sql_injection_in_ids_is_not_found(api, world, device_client, unchanged, value):
    api.login(world.a.manager_email)
    v = quote(value, safe="")
    for method, path in [("GET", f"/api/queues/{v}"), ("GET", f"/api/tickets/{v}"),
                         ("GET", f"/api/devices/{v}"), ("GET", f"/api/displays/{v}"),
                         ("POST", f"/api/tickets/{v}/serve"), ("POST", f"/api/tickets/{v}/cancel"),
                         ("POST", f"/api/devices/{v}/disable"), ("POST", f"/api/displays/{v}/revoke")]:
        response = api.request(method, path)
        assert_error(response, 404, "not_found")
    for path in (f"/t/{v}.json", f"/display/{v}/state.json"):
        assert_error(api.client.get(path), 404, "not_found")
    if "%" in value or "\x00" in value:
        return  # the server verifies signatures over the decoded path: escapes cannot be signed as sent
    signed = device_client(world.a.device_id, world.a.device_secret).get(f"/iot/payments/{value}")
    assert signed.status_code in (400, 404), signed.get_data(True)[:200]
    assert_error(signed, signed.status_code, ("not_found", "validation_error"))


@pytest.mark.parametrize("value", SQLI)
def test_sql_injection_in_bodies_is_a_validation_error(client, api, world, device_client, unchanged, value):
    assert_error(client.post("/auth/login", json={"email": value, "password": value}), 400, "validation_error")
    api.login(world.a.manager_email)
    assert_error(api.post(f"/api/queues/{world.a.queue_id}/tickets", json={"kind": value}), 400,
                 "validation_error")
    assert_error(api.post("/iot/register", json={"label": "x", "queue_id": value}), 400, "validation_error")
    device = device_client(world.a.device_id, world.a.device_secret)
    assert_error(device.post("/iot/payments", {"transaction_id": value, "amount": 500}), 400, "validation_error")


# --- bodies ---------------------------------------------------------------------------

def test_oversize_nested_and_mistyped_bodies_write_nothing(api, world, device_client, unchanged):
    api.login(world.a.manager_email)
    big = b'{"name": "' + b"a" * 200_000 + b'", "prefix": "B"}'
    assert_error(api.post("/api/queues", data=big, content_type="application/json"), 413, "payload_too_large")
    nested = b'{"name": "n", "prefix": "N", "x": ' + b'{"a":' * 100 + b"1" + b"}" * 100 + b"}"
    assert_error(api.post("/api/queues", data=nested, content_type="application/json"), 400, "invalid_json")
    assert_error(api.post("/api/queues", data="name=n&prefix=N", content_type="application/x-www-form-urlencoded"),
                 415, "unsupported_media_type")
    device = device_client(world.a.device_id, world.a.device_secret)
    payment = b'{"transaction_id": "' + str(uuid.uuid4()).encode() + b'", "amount": 500}'
    assert_error(device.post("/iot/payments", body=payment, headers={"Content-Type": "text/plain"}), 415,
                 "unsupported_media_type")
    nul = b'{"transaction_id": "' + str(uuid.uuid4()).encode() + b'", "amount": 500, "currency": "X\\u0000F"}'
    assert_error(device.post("/iot/payments", body=nul), 400, "validation_error")
    assert_error(api.post("/api/queues", json={"name": "a\x00b", "prefix": "Z"}), 400, "validation_error")
    deep = b'{"transaction_id": "' + str(uuid.uuid4()).encode() + b'", "amount": 500, "x": ' + b"[" * 60 + \
        b"]" * 60 + b"}"
    assert_error(device.post("/iot/payments", body=deep), 400, "invalid_json")


# --- header injection -----------------------------------------------------------------

def _no_injected_header(response) -> None:
    for name, value in response.headers.items():
        assert "\r" not in value and "\n" not in value, (name, value)
        assert name.lower() != "x-evil"
    assert not any("evil=1" in c for c in response.headers.getlist("Set-Cookie"))


def test_crlf_in_request_headers_is_never_reflected(client, world):
    evil = "abc123456789\r\nX-Evil: 1\r\nSet-Cookie: evil=1"
    response = client.get("/health", environ_base={"HTTP_X_REQUEST_ID": evil})
    _no_injected_header(response)
    assert response.headers["X-Request-ID"] != evil
    device = client.get("/iot/payments/x", environ_base={"HTTP_X_DEVICE_ID": evil, "HTTP_X_TIMESTAMP": "1",
                                                         "HTTP_X_NONCE": "n" * 16, "HTTP_X_SIGNATURE": "v1=" + "0" * 64})
    assert_error(device, 401, "missing_signature")
    _no_injected_header(device)
    _no_injected_header(client.get("/api/nothing", environ_base={"HTTP_ACCEPT_LANGUAGE": "en\r\nX-Evil: 1"}))


@pytest.mark.parametrize("path", ["/login?next=", "/lang/en?next="])
def test_crlf_in_redirect_targets_is_never_reflected(client, path):
    for evil in ("/dashboard\r\nSet-Cookie: evil=1", "/dashboard%0d%0aSet-Cookie:%20evil=1",
                 "/x\nLocation: https://evil.example"):
        response = client.get(path + quote(evil, safe="/%:"))
        assert response.status_code in (200, 302, 303)
        _no_injected_header(response)


# --- path traversal -------------------------------------------------------------------

TRAVERSALS = [
    "/static/../kiosk/config.py",
    "/static/..%2fkiosk%2fconfig.py",
    "/static/%2e%2e/kiosk/config.py",
    "/static/%2e%2e%2f%2e%2e%2fetc%2fpasswd",
    "/static/..%5ckiosk%5cconfig.py",
    "/static/%252e%252e/kiosk/config.py",
    "/static/....//....//etc/passwd",
    "/static//etc/passwd",
    "/static/display/../../kiosk/config.py",
    "/static/%c0%ae%c0%ae/kiosk/config.py",
]


@pytest.mark.parametrize("path", TRAVERSALS)
def test_path_traversal_on_static_files_finds_nothing(client, path):
    response = client.get(path)
    if response.status_code == 308:  # Werkzeug merges duplicate slashes: follow it, on this host
        assert _is_local(response.headers["Location"])
        response = client.get(response.headers["Location"])
    assert response.status_code in (400, 404), (path, response.status_code)
    text = response.get_data(True)
    assert "SECRET_KEY" not in text and "root:" not in text and "import" not in text


# --- open redirect --------------------------------------------------------------------

OPEN_REDIRECTS = ["https://evil.example/", "//evil.example", "/\\evil.example", "\\\\evil.example",
                  "javascript:alert(1)", " //evil.example", "\t//evil.example", "https:evil.example",
                  "//evil.example/%2f..", "/%09/evil.example", "http://localhost@evil.example"]


def _is_local(location: str) -> bool:
    parts = urlsplit(location)
    return (parts.netloc in ("", "localhost") and parts.scheme in ("", "http", "https")
            and not location.startswith(("//", "/\\")) and "evil.example" not in parts.netloc)


@pytest.mark.parametrize("target", OPEN_REDIRECTS)
def test_login_never_redirects_off_site(client, world, target):
    page = client.get("/login?next=" + quote(target, safe=""))
    assert page.status_code == 200
    token = CSRF_FIELD.search(page.get_data(True)).group(1)
    response = client.post("/login", data={"email": world.a.manager_email, "password": PASSWORD,
                                           "csrf_token": token, "next": target})
    assert response.status_code in (302, 303)
    assert _is_local(response.headers["Location"]), response.headers["Location"]
    # Already signed in: GET /login?next=... redirects at once, also locally.
    again = client.get("/login?next=" + quote(target, safe=""))
    if again.status_code in (302, 303):
        assert _is_local(again.headers["Location"]), again.headers["Location"]


@pytest.mark.parametrize("target", OPEN_REDIRECTS)
def test_language_switch_never_redirects_off_site(client, target):
    response = client.get("/lang/en?next=" + quote(target, safe=""))
    assert response.status_code in (302, 303)
    assert _is_local(response.headers["Location"]), response.headers["Location"]
