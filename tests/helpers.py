"""Small helper objects for tests: a staff API client and a signing device."""
from __future__ import annotations

import contextlib
import json
import threading

from kiosk.devices.signing import signed_headers
from kiosk.extensions import db
from kiosk.tenancy import tenant_scope

from tests.factories import PASSWORD


class ApiClient:
    def __init__(self, client):
        self.client = client
        self.headers: dict[str, str] = {}

    def login(self, email: str, password: str = PASSWORD):
        response = self.client.post("/auth/login", json={"email": email, "password": password})
        assert response.status_code == 200, response.get_json()
        self.headers = {"Authorization": "Bearer " + response.get_json()["access_token"]}
        return response

    def request(self, method: str, path: str, **kwargs):
        headers = {**self.headers, **kwargs.pop("headers", {})}
        return self.client.open(path, method=method, headers=headers, **kwargs)

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, **kw):
        return self.request("POST", path, **kw)

    def put(self, path, **kw):
        return self.request("PUT", path, **kw)

    def patch(self, path, **kw):
        return self.request("PATCH", path, **kw)

    def delete(self, path, **kw):
        return self.request("DELETE", path, **kw)


class DeviceClient:
    """Signs every request exactly like the firmware (kiosk.devices.signing)."""

    def __init__(self, client, device_id: str, secret_key: str):
        self.client = client
        self.device_id = device_id
        self.secret_key = secret_key

    def request(self, method: str, path: str, payload=None, *, body: bytes | None = None,
                headers: dict | None = None, **sign_kwargs):
        if body is None:
            body = b"" if payload is None else json.dumps(payload, separators=(",", ":")).encode()
        signed = signed_headers(self.device_id, self.secret_key, method, path, body, **sign_kwargs)
        all_headers = {**signed, **(headers or {})}
        if body:
            all_headers.setdefault("Content-Type", "application/json")
        return self.client.open(path, method=method, data=body, headers=all_headers)

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, payload=None, **kw):
        return self.request("POST", path, payload, **kw)


def run_threads(app, count: int, work, *, tenant_id=None, barrier_timeout: float = 10,
                join_timeout: float = 30) -> list:
    """Run ``work(index)`` in ``count`` real threads released together by a barrier,
    each in its own app context and session (and tenant, when given); returns the
    results by index (None for a thread that did not finish) and fails on any error."""
    barrier = threading.Barrier(count)
    results: list = [None] * count
    errors: list = []

    def target(index: int) -> None:
        try:
            scope = tenant_scope(tenant_id) if tenant_id is not None else contextlib.nullcontext()
            with app.app_context(), scope:
                barrier.wait(timeout=barrier_timeout)
                results[index] = work(index)
                db.session.remove()
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=target, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=join_timeout)
    assert not errors, errors
    return results


def statements_during(app, action) -> list[str]:
    """The SQL statements ``action`` sends through the app's engine (RLS settings ride on them)."""
    import sqlalchemy as sa

    seen: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany):  # noqa: ANN001
        seen.append(statement)

    with app.app_context():
        engine = db.engine
    sa.event.listen(engine, "before_cursor_execute", record)
    try:
        action()
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)
    return seen


class RedisDown:
    """Stands for a Redis client whose every command fails as in an outage."""

    def __getattr__(self, name):
        def fail(*args, **kwargs):
            raise ConnectionError("redis down")
        return fail
