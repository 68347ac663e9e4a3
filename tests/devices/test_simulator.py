"""The device simulator: firmware retry rules, and real payments signed by it."""
from __future__ import annotations

import json
import random
import threading
import uuid

import pytest
import sqlalchemy as sa
from werkzeug.serving import make_server

from kiosk.devices import signing
from kiosk.devices.simulator import DeviceSession, FlaskTransport, HttpTransport, Reply, TransportError

SECRET = "ab" * 32


class Scripted:
    """A transport that answers from a script and records what it was sent."""

    def __init__(self, *answers):
        self.answers = list(answers)
        self.sent: list[tuple[str, str, bytes, dict]] = []

    def __call__(self, method, path, body, headers):
        self.sent.append((method, path, body, dict(headers)))
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


def _session(transport, **kwargs) -> tuple[DeviceSession, list[float]]:
    sleeps: list[float] = []
    session = DeviceSession("dev_simulated0001", SECRET, transport, sleep=sleeps.append,
                            rng=random.Random(7), **kwargs)
    return session, sleeps


def _verify(sent) -> None:
    method, path, body, headers = sent
    expected = signing.sign(SECRET, method, path, headers["X-Device-Id"], headers["X-Timestamp"],
                            headers["X-Nonce"], body)
    assert headers["X-Signature"] == expected


def test_retries_keep_the_transaction_id_with_a_fresh_nonce_and_backoff():
    transport = Scripted(Reply(503, {}, b""), TransportError("reset"), Reply(502), Reply(202, {}, b'{"status":"PENDING"}'))
    session, sleeps = _session(transport)
    reply = session.pay(500, transaction_id="0b6f4b43-6f2e-4c7b-9a53-1f9d2c8e7a10")
    assert reply.status == 202
    assert len(transport.sent) == 4 and session.attempts == 4
    bodies = {sent[2] for sent in transport.sent}
    assert bodies == {b'{"transaction_id":"0b6f4b43-6f2e-4c7b-9a53-1f9d2c8e7a10","amount":500}'}
    assert len({sent[3]["X-Nonce"] for sent in transport.sent}) == 4
    for sent in transport.sent:
        _verify(sent)
    # Exponential with jitter: attempt k waits a random 50-100 % of min(8, 0.5 * 2**k).
    assert len(sleeps) == 3
    for k, delay in enumerate(sleeps):
        ceiling = min(8.0, 0.5 * 2 ** k)
        assert ceiling * 0.5 <= delay <= ceiling


@pytest.mark.parametrize("name", ["Retry-After", "retry-after"])  # granian sends header names in lower case
def test_a_429_waits_as_long_as_retry_after_says(name):
    transport = Scripted(Reply(429, {name: "7"}, b""), Reply(200, {}, b"{}"))
    session, sleeps = _session(transport)
    assert session.request("GET", "/iot/payments/x").status == 200
    assert sleeps == [7.0]


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 422])
def test_a_client_error_is_final_and_not_retried(status):
    transport = Scripted(Reply(status, {}, b'{"error":{"code":"x"}}'))
    session, sleeps = _session(transport)
    assert session.pay(500).status == status
    assert len(transport.sent) == 1 and sleeps == []


def test_retries_stop_after_max_attempts():
    transport = Scripted(*[Reply(503)] * 3)
    session, sleeps = _session(transport, max_attempts=3)
    assert session.pay(500).status == 503
    assert len(transport.sent) == 3 and len(sleeps) == 2

    unreachable = Scripted(*[TransportError("refused")] * 3)
    session, _ = _session(unreachable, max_attempts=3)
    with pytest.raises(TransportError):
        session.pay(500)


def test_backoff_never_exceeds_the_cap():
    session, _ = _session(Scripted())
    assert all(session.backoff(k, None) <= 8.0 for k in range(20))


def test_polling_stops_on_a_final_status():
    pending = Reply(200, {}, b'{"status":"PENDING"}')
    done = Reply(200, {}, b'{"status":"CONFIRMED","ticket":{"code":"V-001"}}')
    transport = Scripted(pending, pending, done)
    session, sleeps = _session(transport)
    assert session.wait_for_payment("abc").json()["ticket"]["code"] == "V-001"
    assert [sent[1] for sent in transport.sent] == ["/iot/payments/abc"] * 3
    assert len(sleeps) == 2


# --- against the real server ------------------------------------------------------------

def _transactions(owner_engine, device_id: str) -> list:
    with owner_engine.connect() as conn:
        return conn.execute(sa.text("SELECT transaction_id, status, ticket_id FROM transactions "
                                    "WHERE device_id = :d"), {"d": device_id}).fetchall()


def _run(runner, world, *args, secret=None):
    result = runner.invoke(args=["simulate-device", "--device-id", world.a.device_id,
                                 "--secret", secret or world.a.device_secret, *args])
    return result, json.loads(result.output) if result.output.strip().startswith("{") else None


def test_the_cli_pays_and_prints_the_confirmed_ticket(runner, world, owner_engine):
    result, data = _run(runner, world, "pay", "500")
    assert result.exit_code == 0, result.output
    assert data["status"] == "CONFIRMED" and data["amount"] == 500
    assert data["ticket"]["kind"] == "VIP" and data["ticket"]["code"].startswith("VA-")
    assert data["ticket"]["tracking_url"]
    rows = _transactions(owner_engine, world.a.device_id)
    confirmed = [r for r in rows if str(r.transaction_id) == data["transaction_id"]]
    assert len(confirmed) == 1 and confirmed[0].status == "CONFIRMED" and confirmed[0].ticket_id


def test_the_cli_reports_a_failed_payment(runner, world):
    result, data = _run(runner, world, "pay", "100")  # below the VIP price of 500
    assert result.exit_code == 1, result.output
    assert data["status"] == "FAILED" and data["failure_reason"] and data["ticket"] is None


def test_the_cli_issues_a_free_standard_ticket(runner, world):
    request_id = str(uuid.uuid4())
    result, data = _run(runner, world, "ticket", "--request-id", request_id)
    assert result.exit_code == 0, result.output
    assert data["kind"] == "STANDARD" and data["request_id"] == request_id
    again, data_again = _run(runner, world, "ticket", "--request-id", request_id)
    assert again.exit_code == 0 and data_again["ticket_id"] == data["ticket_id"]


def test_the_cli_with_a_wrong_secret_is_refused_without_retrying(runner, world, owner_engine):
    before = _transactions(owner_engine, world.a.device_id)
    result, data = _run(runner, world, "pay", "500", secret="cd" * 32)
    assert result.exit_code == 2
    assert data["error"]["code"] == "invalid_signature"
    assert _transactions(owner_engine, world.a.device_id) == before


def test_a_lost_answer_is_retried_into_the_same_single_payment(app, world, owner_engine):
    """The server got the payment but the kiosk never saw the answer: the retry names the same payment."""
    inner = FlaskTransport(app.test_client())
    calls = {"n": 0}

    def lossy(method, path, body, headers):
        reply = inner(method, path, body, headers)
        calls["n"] += 1
        if calls["n"] == 1:
            raise TransportError("timed out after the server committed")
        return reply

    session = DeviceSession(world.a.device_id, world.a.device_secret, lossy, sleep=lambda s: None)
    reply = session.pay_and_wait(500)
    assert reply.status == 200 and reply.json()["status"] == "CONFIRMED"
    tid = reply.json()["transaction_id"]
    rows = [r for r in _transactions(owner_engine, world.a.device_id) if str(r.transaction_id) == tid]
    assert len(rows) == 1
    with owner_engine.connect() as conn:
        tickets = conn.execute(sa.text("SELECT count(*) FROM tickets WHERE transaction_id::text = :t"),
                               {"t": tid}).scalar_one()
    assert tickets == 1


def test_an_unknown_device_over_http_answers_exactly_like_a_bad_signature(app, world):
    session_unknown = DeviceSession("dev_doesnotexist", world.a.device_secret, FlaskTransport(app.test_client()))
    session_bad = DeviceSession(world.a.device_id, "ef" * 32, FlaskTransport(app.test_client()))
    unknown = session_unknown.pay(500)
    bad = session_bad.pay(500)
    assert unknown.status == bad.status == 401
    assert unknown.body == bad.body
    assert unknown.error_code == "invalid_signature"
    assert sorted(set(unknown.headers) - {"X-Request-ID"}) == sorted(set(bad.headers) - {"X-Request-ID"})


@pytest.fixture
def live_server(app):
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


def test_the_simulator_pays_over_real_http(world, live_server, runner):
    result, data = _run(runner, world, "--base-url", live_server, "pay", "500")
    assert result.exit_code == 0, result.output
    assert data["status"] == "CONFIRMED" and data["ticket"]["kind"] == "VIP"


def test_the_http_transport_turns_a_dead_server_into_a_transport_error():
    from tests.fault_services import free_port

    transport = HttpTransport(f"http://127.0.0.1:{free_port()}", timeout=2)
    with pytest.raises(TransportError):
        transport("GET", "/health", b"", {})


def test_a_requests_like_client_runs_the_same_session_over_http(world, live_server):
    """What a load test plugs in: requests.Session here, a Locust client there."""
    import requests

    from kiosk.devices.simulator import ClientTransport

    names = []
    transport = ClientTransport(requests.Session(), live_server,
                                extra=lambda method, path: names.append(path) or {"timeout": 10})
    session = DeviceSession(world.a.device_id, world.a.device_secret, transport)
    reply = session.pay_and_wait(500)
    assert reply.status == 200 and reply.json()["status"] == "CONFIRMED"
    assert names[0] == "/iot/payments" and names[-1].startswith("/iot/payments/")

    dead = ClientTransport(requests.Session(), "http://127.0.0.1:9", extra=lambda m, p: {"timeout": 2})
    with pytest.raises(TransportError):
        dead("GET", "/health", b"", {})


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://example.test", "127.0.0.1:5000"])
def test_the_http_transport_only_speaks_http(url):
    with pytest.raises(ValueError):
        HttpTransport(url)
