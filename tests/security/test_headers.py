"""Security headers on every kind of response, HTTPS handling behind a proxy, cookies."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
from flask import jsonify

from tests.conftest import make_config
from tests.security.test_retry_after import _tracking_token

TEMPLATES = Path(__file__).resolve().parents[2] / "kiosk" / "templates"


def _csp(response) -> dict[str, str]:
    policy = response.headers["Content-Security-Policy"]
    return {part.split()[0]: part.strip() for part in policy.split(";") if part.strip()}


def _pages(app, client, world) -> dict:
    token = _tracking_token(app, world)
    return {
        "ticket page": client.get(f"/t/{token}"),
        "tv page": client.get(f"/display/{world.a.display_token}"),
        "json": client.get(f"/t/{token}.json"),
        "error": client.get("/api/nothing-here"),
        "health": client.get("/health"),
        "static": client.get("/static/display/sw.js"),
    }


def test_every_response_carries_the_strict_headers(app, client, world):
    for name, response in _pages(app, client, world).items():
        assert response.status_code in (200, 404), name
        csp = _csp(response)
        for directive in ("script-src", "default-src", "style-src"):
            assert "'unsafe-inline'" not in csp[directive] and "'unsafe-eval'" not in csp[directive], name
        assert csp["script-src"] == "script-src 'self'", name
        assert csp["frame-ancestors"] == "frame-ancestors 'none'", name
        assert csp["object-src"] == "object-src 'none'", name
        assert response.headers["X-Content-Type-Options"] == "nosniff", name
        assert response.headers["X-Frame-Options"] == "DENY", name
        assert response.headers["Referrer-Policy"] == "strict-origin-when-cross-origin", name


def test_tv_and_ticket_pages_load_only_external_scripts(app, client, world):
    for name in ("ticket page", "tv page"):
        html = _pages(app, client, world)[name].get_data(True)
        scripts = re.findall(r"<script\b[^>]*>", html, flags=re.I)
        assert scripts, name
        assert all(" src=" in tag for tag in scripts), (name, scripts)


@pytest.mark.parametrize("template", sorted(TEMPLATES.rglob("*.html")), ids=lambda p: str(p.relative_to(TEMPLATES)))
def test_no_template_has_inline_script_or_handlers(template):
    """The CSP blocks inline code: keep it out of every template (dashboard pages included)."""
    html = template.read_text()
    for tag in re.findall(r"<script\b[^>]*>", html, flags=re.I):
        assert re.search(r"\bsrc\s*=", tag), f"inline <script> in {template.name}: {tag}"
    assert not re.search(r"\son[a-z]+\s*=\s*[\"']", html, flags=re.I), f"inline event handler in {template.name}"
    assert "javascript:" not in html.lower(), template.name


def test_hsts_only_over_https(client):
    assert "Strict-Transport-Security" not in client.get("/health").headers
    secure = client.get("/health", base_url="https://localhost")
    assert secure.headers["Strict-Transport-Security"].startswith("max-age=31536000")


def test_plain_http_is_not_redirected_outside_production(client):
    assert client.get("/api/queues").status_code == 401


@pytest.fixture(scope="module")
def proxied_app(database_url, redis_url):
    """Production-like: one trusted proxy, HTTPS forced, secure cookies."""
    from kiosk import create_app

    app = create_app(make_config(database_url, redis_url, TRUSTED_PROXY_COUNT=1, FORCE_HTTPS=True,
                                 KIOSK_ENV="production", JWT_COOKIE_SECURE=True))

    @app.get("/__whoami_for_test")
    def whoami():
        from flask import request

        return jsonify(ip=request.remote_addr, scheme=request.scheme)

    return app


def test_behind_a_proxy_the_forwarded_scheme_and_ip_are_used(proxied_app):
    client = proxied_app.test_client()
    headers = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.7"}
    response = client.get("/__whoami_for_test", headers=headers)
    assert response.get_json() == {"ip": "203.0.113.7", "scheme": "https"}
    assert response.headers["Strict-Transport-Security"].startswith("max-age=")


def test_forced_https_redirects_plain_http_but_not_health_probes(proxied_app):
    client = proxied_app.test_client()
    redirected = client.get("/api/queues", headers={"X-Forwarded-Proto": "http"})
    assert redirected.status_code in (301, 302)
    assert redirected.headers["Location"].startswith("https://")
    assert client.get("/health").status_code == 200


def test_cookies_are_secure_httponly_samesite_in_production(proxied_app):
    from flask_jwt_extended import create_access_token, set_access_cookies

    with proxied_app.test_request_context("/", base_url="https://localhost"):
        response = jsonify(ok=True)
        set_access_cookies(response, create_access_token("user-1"))
        cookies = response.headers.getlist("Set-Cookie")
    access = next(c for c in cookies if c.startswith("access_token_cookie="))
    assert "Secure" in access and "HttpOnly" in access and "SameSite=Lax" in access
    csrf = next(c for c in cookies if c.startswith("csrf_access_token="))
    assert "Secure" in csrf and "SameSite=Lax" in csrf  # readable by JS on purpose (double submit)
    assert proxied_app.config["SESSION_COOKIE_SECURE"] and proxied_app.config["SESSION_COOKIE_HTTPONLY"]
    assert proxied_app.config["SESSION_COOKIE_SAMESITE"] == "Lax"
