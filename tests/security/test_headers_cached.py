"""Talisman's headers computed once per kind of response (kiosk/security.py) are
exactly the ones plain Talisman computes on every response: each kind of
response is fetched twice, through the cached instance and through the same
instance running flask-talisman's own code, and the headers compared."""
from __future__ import annotations

from types import SimpleNamespace

from flask_talisman import Talisman
from werkzeug.datastructures import Headers

from tests.conftest import make_config
from tests.security.test_retry_after import _tracking_token

TALISMAN_HEADERS = ("Content-Security-Policy", "Content-Security-Policy-Report-Only", "X-Frame-Options",
                    "X-Content-Type-Options", "X-XSS-Protection", "X-Download-Options",
                    "Strict-Transport-Security", "Referrer-Policy", "Permissions-Policy", "Feature-Policy",
                    "Document-Policy")


def _requests(app, world) -> dict[str, tuple[str, dict]]:
    token = _tracking_token(app, world)
    https = {"X-Forwarded-Proto": "https"}
    return {
        "html page": (f"/t/{token}", {}),
        "html page over https": (f"/t/{token}", https),
        "dashboard login page": ("/login", {}),
        "json api (401)": ("/api/queues", {}),
        "json api over https": ("/api/queues", https),
        "json poll": (f"/display/{world.a.display_token}/state.json", {}),
        "display page": (f"/display/{world.a.display_token}", {}),
        "display page over https": (f"/display/{world.a.display_token}", https),
        "health (@talisman override)": ("/health", {}),
        "health over https": ("/health", https),
        "ready (@talisman override)": ("/health/ready", {}),
        "metrics (@talisman override)": ("/metrics", {}),
        "unknown path (no endpoint)": ("/api/nothing-here", {}),
        "static file": ("/static/display/sw.js", {}),
    }


def _security_headers(response) -> list[tuple[str, str]]:
    return [(name, value) for name, value in response.headers.items() if name in TALISMAN_HEADERS]


def _talismans_own(app, ext, path: str, headers: dict) -> list[tuple[str, str]]:
    """The headers flask-talisman's own code computes for this request, nothing cached."""
    computed = Headers()
    cached_class = type(ext)
    with app.test_request_context(path, headers=headers):
        ext.__class__ = Talisman  # its _get_local_options and setters, not the subclass's
        try:
            Talisman._set_response_headers(ext, SimpleNamespace(headers=computed))
        finally:
            ext.__class__ = cached_class
    return list(computed.items())


def _compare(app, world) -> None:
    ext = app.extensions["talisman"]
    assert type(ext) is not Talisman  # the cached subclass is what the app runs
    client = app.test_client()
    for name, (path, headers) in _requests(app, world).items():
        for attempt in ("computed", "copied"):
            response = client.get(path, headers=headers)
            assert _security_headers(response) == _talismans_own(app, ext, path, headers), (name, attempt)
            assert "Content-Security-Policy" in response.headers, name


def test_each_kind_of_response_gets_exactly_talismans_headers(app, world):
    _compare(app, world)


def test_same_behind_a_proxy_with_https_forced_in_production(database_url, redis_url, world):
    from kiosk import create_app

    app = create_app(make_config(database_url, redis_url, TRUSTED_PROXY_COUNT=1, FORCE_HTTPS=True,
                                 KIOSK_ENV="production", JWT_COOKIE_SECURE=True))
    _compare(app, world)
    # Plain HTTP is still redirected, except for the probes' views.
    client = app.test_client()
    assert client.get("/api/queues").status_code == 302
    assert client.get("/health").status_code == 200


def test_a_nonce_based_policy_is_computed_per_response(app, world):
    ext = app.extensions["talisman"]
    view = app.view_functions["observability.health"]
    options = getattr(view, "talisman_view_options", None)
    assert options is not None
    saved = dict(options)
    ext._options.pop("observability.health", None)
    options["content_security_policy_nonce_in"] = ["script-src"]
    try:
        client = app.test_client()
        first = client.get("/health").headers["Content-Security-Policy"]
        second = client.get("/health").headers["Content-Security-Policy"]
    finally:
        options.clear()
        options.update(saved)
        ext._options.pop("observability.health", None)
    assert "'nonce-" in first and first != second
