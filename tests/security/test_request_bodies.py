"""Bodies: size cap, nesting, content type, unknown fields - all in the contract's error shape."""
from __future__ import annotations

import importlib
import inspect
import pkgutil

import marshmallow
import pytest

import kiosk


def _error(response, status, code):
    assert response.status_code == status, response.get_data(True)[:300]
    body = response.get_json()
    assert set(body["error"]) == {"code", "message", "details"}
    assert body["error"]["code"] == code
    return body["error"]


JSON_ROUTES = ["/auth/login", "/iot/register", "/iot/payments", "/api/queues", "/api/displays"]


@pytest.mark.parametrize("path", JSON_ROUTES)
def test_oversize_body_is_413_before_anything_else(client, path):
    body = b'{"label": "' + b"a" * 100_000 + b'"}'
    _error(client.post(path, data=body, content_type="application/json"), 413, "payload_too_large")


@pytest.mark.parametrize("path", JSON_ROUTES)
def test_deeply_nested_json_is_refused(client, path):
    nested = b'{"a":' * 40 + b"1" + b"}" * 40
    error = _error(client.post(path, data=nested, content_type="application/json"), 400, "invalid_json")
    assert error["details"] == {"max_depth": 32}


def test_nesting_beyond_the_parser_limit_is_400_not_500(client):
    body = b"[" * 5000 + b"]" * 5000
    _error(client.post("/api/queues", data=body, content_type="application/json"), 400, "invalid_json")


@pytest.mark.parametrize("path", JSON_ROUTES)
@pytest.mark.parametrize("content_type", ["application/x-www-form-urlencoded", "text/plain", "multipart/form-data"])
def test_wrong_content_type_is_415(client, path, content_type):
    _error(client.post(path, data=b"label=a", content_type=content_type), 415, "unsupported_media_type")


def test_empty_body_without_content_type_passes_the_guard(client):
    # Action endpoints take no body; the guard must not refuse them (here: 401, not 415).
    assert client.post("/api/queues").status_code == 401


def test_unknown_fields_are_rejected(client):
    error = _error(client.post("/auth/login", json={"email": "a@example.test", "password": "x", "admin": True}),
                   400, "validation_error")
    assert "admin" in error["details"]


def _schema_classes():
    for module_info in pkgutil.walk_packages(kiosk.__path__, "kiosk."):
        if not module_info.name.endswith("schemas"):
            continue
        module = importlib.import_module(module_info.name)
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if issubclass(cls, marshmallow.Schema) and cls.__module__ == module.__name__:
                yield cls


def test_every_schema_rejects_unknown_fields():
    classes = list(_schema_classes())
    assert len(classes) >= 5
    lenient = [f"{c.__module__}.{c.__name__}" for c in classes if c().unknown != marshmallow.RAISE]
    assert not lenient, f"schemas that accept unknown fields: {lenient}"
