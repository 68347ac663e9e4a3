"""One JSON error shape for each class of bad input."""
from __future__ import annotations

import pytest


def _assert_shape(response, status, code):
    assert response.status_code == status, response.get_data(True)[:300]
    body = response.get_json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "details"}
    assert body["error"]["code"] == code
    assert body["error"]["message"]
    assert response.headers.get("X-Request-ID")
    assert "Traceback" not in response.get_data(True)


def test_unknown_api_route_is_json_404(client):
    _assert_shape(client.get("/api/nothing-here"), 404, "not_found")


def test_wrong_method_is_json_405(client):
    response = client.get("/auth/login")
    _assert_shape(response, 405, "method_not_allowed")
    assert "POST" in response.headers["Allow"]


def test_malformed_json_is_400(client):
    response = client.post("/auth/login", data=b"{not json", content_type="application/json")
    _assert_shape(response, 400, "invalid_json")


def test_deeply_nested_json_is_400_not_500(client):
    body = b"[" * 100000 + b"]" * 100000
    response = client.post("/auth/login", data=body, content_type="application/json")
    assert response.status_code in (400, 413)
    assert response.get_json()["error"]["code"] in ("invalid_json", "payload_too_large")


def test_wrong_content_type_is_415(client):
    _assert_shape(client.post("/auth/login", data="email=a", content_type="application/x-www-form-urlencoded"),
                  415, "unsupported_media_type")


def test_oversize_body_is_413(client):
    body = b'{"email": "' + b"a" * 200_000 + b'"}'
    _assert_shape(client.post("/auth/login", data=body, content_type="application/json"), 413,
                  "payload_too_large")


def test_json_array_body_is_a_validation_error(client):
    _assert_shape(client.post("/auth/login", json=[1, 2]), 400, "validation_error")


def test_unexpected_error_is_500_without_trace(database_url, redis_url):
    from kiosk import create_app
    from tests.conftest import make_config

    fresh = create_app(make_config(database_url, redis_url))

    @fresh.get("/__boom_for_test")
    def boom():
        raise RuntimeError("secret internals")

    response = fresh.test_client().get("/__boom_for_test")
    _assert_shape(response, 500, "internal_error")
    assert "secret internals" not in response.get_data(True)


@pytest.mark.parametrize("given,kept", [("abcdef0123456789", True), ("bad id\r\nX-Evil: 1", False)])
def test_request_id_is_echoed_only_when_harmless(client, given, kept):
    response = client.get("/health", headers={"X-Request-ID": given} if "\n" not in given else {})
    if kept:
        assert response.headers["X-Request-ID"] == given
    else:
        assert response.headers["X-Request-ID"]


def test_messages_follow_the_language(client):
    fr = client.get("/api/nothing", headers={"Accept-Language": "fr"}).get_json()["error"]["message"]
    en = client.get("/api/nothing?lang=en").get_json()["error"]["message"]
    assert fr != en
    assert en == "Not found."
