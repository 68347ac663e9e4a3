"""A kiosk in software: signs, retries and polls exactly like the firmware.

``DeviceSession`` holds the device's logic (scheme v1 signing through
``kiosk.devices.signing``, retry with backoff and jitter, polling); the
transport is a plain callable, so the same session runs over real HTTP
(``HttpTransport``, urllib), inside the app (``FlaskTransport``, a Flask test
client: the CLI's default, the tests) or behind a load-test client.

    flask --app wsgi simulate-device --device-id dev_… --secret … pay 500
    flask --app wsgi simulate-device --device-id dev_… --secret … --base-url http://127.0.0.1:5000 ticket

Retry rules (the firmware's): a network error, any 5xx or a 429 is retried
with the same body (so the same ``transaction_id``) and a fresh timestamp and
nonce; the wait doubles from ``backoff_base`` up to ``backoff_cap`` with
jitter (a random 50-100 % of it), or follows ``Retry-After`` when the server
sends one. Any other answer is final: a 4xx means the request itself is wrong.
"""
from __future__ import annotations

import http.client
import json
import logging
import random
import sys
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass, field
from typing import Callable, Mapping

import click
from flask.cli import with_appcontext

from kiosk.devices import signing

log = logging.getLogger(__name__)

FINAL_PAYMENT_STATUSES = ("CONFIRMED", "FAILED")


@dataclass
class Reply:
    status: int
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""

    def json(self):
        try:
            return json.loads(self.body or b"null")
        except ValueError:
            return None

    @property
    def retryable(self) -> bool:
        return self.status == 429 or self.status >= 500

    @property
    def error_code(self) -> str | None:
        data = self.json()
        if isinstance(data, dict) and isinstance(data.get("error"), dict):
            return data["error"].get("code")
        return None


class TransportError(Exception):
    """The request did not get an HTTP answer (refused, reset, timed out)."""


Transport = Callable[[str, str, bytes, dict], Reply]


class HttpTransport:
    """Real HTTP with the standard library (no extra dependency on a kiosk-like client)."""

    def __init__(self, base_url: str, timeout: float = 10.0):
        if not base_url.startswith(("http://", "https://")):
            raise ValueError("base_url must be an http:// or https:// URL")
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout

    def __call__(self, method: str, path: str, body: bytes, headers: dict) -> Reply:
        request = urllib.request.Request(self.base_url + path, data=body or None, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310 - operator's URL
                return Reply(response.status, dict(response.headers), response.read())
        except urllib.error.HTTPError as exc:
            return Reply(exc.code, dict(exc.headers or {}), exc.read())
        except (urllib.error.URLError, http.client.HTTPException, OSError) as exc:
            raise TransportError(type(exc).__name__) from exc


class FlaskTransport:
    """The app itself through its test client: no server needed (embedded demo, tests)."""

    def __init__(self, client):
        self.client = client

    def __call__(self, method: str, path: str, body: bytes, headers: dict) -> Reply:
        response = self.client.open(path, method=method, data=body, headers=headers)
        return Reply(response.status_code, dict(response.headers), response.get_data())


class ClientTransport:
    """Any requests-like client (``requests.Session``, a Locust ``self.client``):
    ``client.request(method, url, data=, headers=, **extra)`` answering with
    ``status_code``, ``headers`` and ``content``. A status of 0 (Locust's
    FastHttpUser on a connection error) or an exception is a transport error.

    ``extra(method, path)`` may add per-request keyword arguments, e.g. a Locust
    ``name`` that groups ``/iot/payments/<id>`` in the statistics.
    """

    def __init__(self, client, base_url: str = "", extra: Callable[[str, str], dict] | None = None):
        self.client = client
        self.base_url = base_url.rstrip("/")
        self.extra = extra or (lambda method, path: {})

    def __call__(self, method: str, path: str, body: bytes, headers: dict) -> Reply:
        try:
            response = self.client.request(method, self.base_url + path, data=body or None, headers=headers,
                                           **self.extra(method, path))
        except Exception as exc:  # noqa: BLE001 - any client's connection error is a retryable non-answer
            raise TransportError(type(exc).__name__) from exc
        if not response.status_code:
            raise TransportError("no status")
        return Reply(response.status_code, dict(response.headers or {}), response.content or b"")


def encode_json(payload) -> bytes:
    return b"" if payload is None else json.dumps(payload, separators=(",", ":")).encode()


class DeviceSession:
    """One kiosk's signed conversation with the server."""

    def __init__(self, device_id: str, secret_key: str, transport: Transport, *, max_attempts: int = 6,
                 backoff_base: float = 0.5, backoff_cap: float = 8.0, sleep: Callable[[float], None] = time.sleep,
                 rng: random.Random | None = None, clock: Callable[[], float] = time.time,
                 new_nonce: Callable[[], str] = signing.new_nonce):
        self.device_id = device_id
        self.secret_key = secret_key
        self.transport = transport
        self.max_attempts = max_attempts
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self.sleep = sleep
        self.rng = rng or random.Random()
        self.clock = clock
        self.new_nonce = new_nonce
        self.attempts = 0  # requests sent, retries included (for reports)

    def headers_for(self, method: str, path: str, body: bytes) -> dict:
        headers = signing.signed_headers(self.device_id, self.secret_key, method, path, body,
                                         timestamp=int(self.clock()), nonce=self.new_nonce())
        if body:
            headers["Content-Type"] = "application/json"
        return headers

    def send(self, method: str, path: str, body: bytes = b"") -> Reply:
        """One attempt, freshly signed (new timestamp and nonce)."""
        self.attempts += 1
        return self.transport(method, path, body, self.headers_for(method, path, body))

    def backoff(self, attempt: int, reply: Reply | None) -> float:
        # Header names are case-insensitive: granian (the web process) sends them in lower case.
        retry_after = next((value for name, value in (reply.headers.items() if reply is not None else ())
                            if name.lower() == "retry-after"), None)
        if retry_after and str(retry_after).isdigit():
            return min(float(retry_after), self.backoff_cap * 4)
        ceiling = min(self.backoff_cap, self.backoff_base * 2 ** attempt)
        return ceiling * self.rng.uniform(0.5, 1.0)

    def request(self, method: str, path: str, json=None) -> Reply:  # noqa: A002 - reads like requests'
        """Send with the firmware's retries; the body (and so any id in it) is the same each time.

        :raise TransportError: no HTTP answer after ``max_attempts``.
        """
        body = encode_json(json)
        reply: Reply | None = None
        for attempt in range(self.max_attempts):
            try:
                reply = self.send(method, path, body)
            except TransportError as exc:
                reply, error = None, exc
            else:
                error = None
                if not reply.retryable:
                    return reply
            if attempt + 1 == self.max_attempts:
                break
            delay = self.backoff(attempt, reply)
            log.info("device request retried", extra={
                "device_id": self.device_id, "path": path, "status": reply.status if reply else None,
                "error": type(error).__name__ if error else None, "delay_s": round(delay, 2)})
            self.sleep(delay)
        if reply is None:
            raise TransportError(f"no answer from the server after {self.max_attempts} attempts")
        return reply

    # --- the kiosk's three calls ------------------------------------------------------

    def pay(self, amount: int, currency: str | None = None, transaction_id: str | None = None) -> Reply:
        payload = {"transaction_id": transaction_id or str(uuid.uuid4()), "amount": amount}
        if currency:
            payload["currency"] = currency
        return self.request("POST", "/iot/payments", payload)

    def payment(self, transaction_id: str) -> Reply:
        return self.request("GET", f"/iot/payments/{transaction_id}")

    def wait_for_payment(self, transaction_id: str, timeout: float = 30.0, interval: float = 0.5) -> Reply:
        """Poll until CONFIRMED or FAILED (or the deadline: the last answer is returned)."""
        deadline = self.clock() + timeout
        while True:
            reply = self.payment(transaction_id)
            data = reply.json() if reply.status == 200 else None
            if not isinstance(data, dict) or data.get("status") in FINAL_PAYMENT_STATUSES:
                return reply
            if self.clock() >= deadline:
                return reply
            self.sleep(interval)
            interval = min(interval * 1.5, 5.0)

    def pay_and_wait(self, amount: int, currency: str | None = None, transaction_id: str | None = None,
                     timeout: float = 30.0) -> Reply:
        transaction_id = transaction_id or str(uuid.uuid4())
        posted = self.pay(amount, currency, transaction_id)
        if posted.status not in (200, 202):
            return posted
        data = posted.json() or {}
        if data.get("status") in FINAL_PAYMENT_STATUSES and "ticket" in data:
            return posted
        return self.wait_for_payment(transaction_id, timeout)

    def free_ticket(self, request_id: str | None = None) -> Reply:
        return self.request("POST", "/iot/tickets", {"request_id": request_id or str(uuid.uuid4())})


# --- CLI ---------------------------------------------------------------------------------

def _session(ctx: click.Context) -> DeviceSession:
    options = ctx.meta["kiosk.simulator"]
    if options["base_url"]:
        try:
            transport: Transport = HttpTransport(options["base_url"], timeout=options["http_timeout"])
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--base-url") from None
    else:
        from flask import current_app

        transport = FlaskTransport(current_app.test_client())
    return DeviceSession(options["device_id"], options["secret"], transport, max_attempts=options["max_attempts"])


def _finish(reply: Reply, ok: bool) -> None:
    data = reply.json()
    click.echo(json.dumps(data if isinstance(data, dict) else {"status_code": reply.status}, indent=2,
                          default=str))
    sys.exit(0 if ok else (1 if reply.status < 400 else 2))


@click.group("simulate-device")
@click.option("--device-id", required=True, envvar="KIOSK_DEVICE_ID", help="X-Device-Id of a registered device.")
@click.option("--secret", required=True, envvar="KIOSK_DEVICE_SECRET",
              help="The device's secret_key (or set KIOSK_DEVICE_SECRET, which keeps it out of shell history).")
@click.option("--base-url", default=None, help="Server to talk to over HTTP; default: this app, in-process.")
@click.option("--max-attempts", default=6, show_default=True, type=click.IntRange(1, 20))
@click.option("--http-timeout", default=10.0, show_default=True, type=float)
@click.pass_context
def simulate_device_command(ctx: click.Context, device_id, secret, base_url, max_attempts, http_timeout):
    """Act as a coin kiosk: signed requests, firmware retries, JSON on stdout."""
    ctx.meta["kiosk.simulator"] = {"device_id": device_id, "secret": secret, "base_url": base_url, "max_attempts": max_attempts,
               "http_timeout": http_timeout}


@simulate_device_command.command("pay")
@click.argument("amount", type=click.IntRange(min=1))
@click.option("--currency", default=None, help="ISO 4217; default: the establishment's.")
@click.option("--transaction-id", default=None, help="Reuse an id to replay a payment (idempotent).")
@click.option("--timeout", default=30.0, show_default=True, help="Seconds to wait for CONFIRMED or FAILED.")
@click.pass_context
@with_appcontext
def pay_command(ctx, amount, currency, transaction_id, timeout):
    """Insert AMOUNT (minor units), wait for the payment to settle, print it with its ticket.

    Exit status: 0 CONFIRMED, 1 FAILED or still pending, 2 refused by the server.
    """
    reply = _session(ctx).pay_and_wait(amount, currency, transaction_id, timeout)
    data = reply.json() if isinstance(reply.json(), dict) else {}
    _finish(reply, reply.status in (200, 202) and data.get("status") == "CONFIRMED")


@simulate_device_command.command("ticket")
@click.option("--request-id", default=None, help="Reuse an id to replay the request (idempotent).")
@click.pass_context
@with_appcontext
def ticket_command(ctx, request_id):
    """Ask for a free STANDARD ticket and print it."""
    reply = _session(ctx).free_ticket(request_id)
    _finish(reply, reply.status in (200, 201))
