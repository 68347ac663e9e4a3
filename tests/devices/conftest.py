"""Device test helpers: call the signature guard on a crafted request.

The guard is exercised through ``app.test_request_context`` and the app's own
error handler, so no test-only route is added to the shared app: the answer
(status, JSON bytes) is exactly what a guarded ``/iot`` route would send.
"""
from __future__ import annotations

import types
from dataclasses import dataclass

import pytest

from kiosk.devices.signing import signed_headers
from kiosk.errors import ApiError


@dataclass
class GuardAnswer:
    status: int
    body: bytes
    json: dict
    device_id: str | None = None
    establishment_id: str | None = None

    @property
    def code(self) -> str | None:
        return (self.json.get("error") or {}).get("code")


@pytest.fixture
def guard(app):
    """``guard(method, path, headers, body)`` -> GuardAnswer (200 when the guard lets it through)."""
    from kiosk.devices.guard import authenticate_device

    def call(method: str, path: str, headers: dict, body: bytes = b"",
             remote_addr: str = "127.0.0.1") -> GuardAnswer:
        with app.test_request_context(path, method=method, headers=headers, data=body,
                                      environ_base={"REMOTE_ADDR": remote_addr}):
            try:
                device = authenticate_device()
            except ApiError as exc:
                response = app.make_response(app.handle_user_exception(exc))
                return GuardAnswer(response.status_code, response.get_data(), response.get_json())
            return GuardAnswer(200, b"", {}, device.device_id, str(device.establishment_id))

    return call


@pytest.fixture
def signed(guard):
    """Sign with the one signer, then send to the guard: ``signed(device_id, secret, method, path, body)``."""

    def call(device_id: str, secret_key: str, method: str = "POST", path: str = "/iot/payments",
             body: bytes = b'{"amount":500}', **sign_kwargs) -> GuardAnswer:
        headers = signed_headers(device_id, secret_key, method, path, body, **sign_kwargs)
        return guard(method, path, headers, body)

    return call


@pytest.fixture
def frozen_guard_clock(monkeypatch):
    """Freeze the guard's clock at a given Unix time: ``frozen_guard_clock(t)``."""
    import kiosk.devices.guard as guard_module

    def freeze(now: float) -> None:
        monkeypatch.setattr(guard_module, "time", types.SimpleNamespace(time=lambda: now))

    return freeze
