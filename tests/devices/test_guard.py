"""verify_device_signature: each of the contract's six steps, its code, and its order."""
from __future__ import annotations

import json
import time
import uuid

import pytest
import sqlalchemy as sa

from kiosk.devices import cache as device_cache
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kiosk.devices import signing
from kiosk.devices.guard import CLOCK_WINDOW_SECONDS, NONCE_TTL_SECONDS
from kiosk.extensions import db, redis_client
from tests.factories import PASSWORD

BODY = json.dumps({"transaction_id": "0b6f4b43-6f2e-4c7b-9a53-1f9d2c8e7a10", "amount": 500},
                  separators=(",", ":")).encode()


def _good_headers(world, **overrides) -> dict:
    headers = signing.signed_headers(world.a.device_id, world.a.device_secret, "POST", "/iot/payments", BODY)
    headers.update(overrides)
    return headers


def test_a_correctly_signed_request_passes_and_sets_device_and_establishment(world, signed):
    answer = signed(world.a.device_id, world.a.device_secret, body=BODY)
    assert answer.status == 200
    assert answer.device_id == world.a.device_id
    assert answer.establishment_id == world.a.id


# --- step 1: missing_signature -------------------------------------------------------

@pytest.mark.parametrize("header", ["X-Device-Id", "X-Timestamp", "X-Nonce", "X-Signature"])
def test_a_missing_header_is_missing_signature(world, guard, header):
    headers = _good_headers(world)
    del headers[header]
    answer = guard("POST", "/iot/payments", headers, BODY)
    assert (answer.status, answer.code) == (401, "missing_signature")


def test_no_headers_at_all_is_missing_signature(guard):
    answer = guard("GET", "/iot/payments/x", {})
    assert (answer.status, answer.code) == (401, "missing_signature")


MALFORMED = [
    ("X-Device-Id", ""),
    ("X-Device-Id", "dev with space"),
    ("X-Device-Id", "d" * 41),
    ("X-Device-Id", "dev_é"),
    ("X-Timestamp", ""),
    ("X-Timestamp", "17640000.5"),
    ("X-Timestamp", "-1764000000"),
    ("X-Timestamp", "1764000000 "),
    ("X-Timestamp", "abc"),
    ("X-Timestamp", "1" * 13),
    ("X-Nonce", "a" * 15),
    ("X-Nonce", "a" * 65),
    ("X-Nonce", "abcdefgh12345678!"),
    ("X-Nonce", "abcdefgh/2345678"),
    ("X-Signature", "47c7e4b5169f68806ec7744bde08f13e4023431dc12c2cc65d64c0abf7665cbb"),
    ("X-Signature", "v2=47c7e4b5169f68806ec7744bde08f13e4023431dc12c2cc65d64c0abf7665cbb"),
    ("X-Signature", "v1=47C7E4B5169F68806EC7744BDE08F13E4023431DC12C2CC65D64C0ABF7665CBB"),
    ("X-Signature", "v1=47c7e4b5169f68806ec7744bde08f13e4023431dc12c2cc65d64c0abf7665cb"),
    ("X-Signature", "v1=47c7e4b5169f68806ec7744bde08f13e4023431dc12c2cc65d64c0abf7665cbbb"),
    ("X-Signature", "v1=47c7e4b5169f68806ec7744bde08f13e4023431dc12c2cc65d64c0abf7665cbz"),
]


@pytest.mark.parametrize("header,value", MALFORMED)
def test_a_malformed_header_is_missing_signature(world, guard, header, value):
    answer = guard("POST", "/iot/payments", _good_headers(world, **{header: value}), BODY)
    assert (answer.status, answer.code) == (401, "missing_signature"), (header, value)


def test_a_trailing_newline_does_not_sneak_past_the_format_check(world, guard):
    # "$" in a regex matches before a final newline; the guard must use full matches.
    from kiosk.devices.guard import _headers_well_formed

    headers = _good_headers(world)
    assert _headers_well_formed(headers["X-Device-Id"], headers["X-Timestamp"], headers["X-Nonce"],
                                headers["X-Signature"])
    for name in ("X-Device-Id", "X-Timestamp", "X-Nonce", "X-Signature"):
        values = {k: headers[k] for k in ("X-Device-Id", "X-Timestamp", "X-Nonce", "X-Signature")}
        values[name] += "\n"
        assert not _headers_well_formed(*values.values()), name


# --- step 2: stale_timestamp ---------------------------------------------------------

@pytest.mark.parametrize("offset,expected", [
    (-301, 401), (301, 401), (-3600, 401), (86400, 401),
    (-300, 200), (300, 200), (-299, 200), (299, 200), (0, 200),
])
def test_the_clock_window_is_300_seconds_either_way(world, signed, frozen_guard_clock, offset, expected):
    now = 1_764_000_000
    frozen_guard_clock(now + 0.999)  # fractions of a second never tip the balance
    answer = signed(world.a.device_id, world.a.device_secret, body=BODY, timestamp=now + offset)
    assert answer.status == expected, offset
    if expected == 401:
        assert answer.code == "stale_timestamp"


def test_the_clock_is_checked_with_the_real_time_too(world, signed):
    assert signed(world.a.device_id, world.a.device_secret, body=BODY,
                  timestamp=int(time.time()) - CLOCK_WINDOW_SECONDS - 5).code == "stale_timestamp"
    assert signed(world.a.device_id, world.a.device_secret, body=BODY,
                  timestamp=int(time.time()) + CLOCK_WINDOW_SECONDS + 5).code == "stale_timestamp"
    assert signed(world.a.device_id, world.a.device_secret, body=BODY,
                  timestamp=int(time.time()) - 200).status == 200


def test_a_stale_timestamp_is_reported_before_a_bad_signature(world, guard):
    headers = _good_headers(world, **{"X-Timestamp": str(int(time.time()) - 1000), "X-Signature": "v1=" + "0" * 64})
    assert guard("POST", "/iot/payments", headers, BODY).code == "stale_timestamp"


# --- step 3: invalid_signature ---------------------------------------------------------

def test_a_tampered_body_is_refused(world, guard):
    headers = _good_headers(world)
    tampered = BODY.replace(b"500", b"900")
    answer = guard("POST", "/iot/payments", headers, tampered)
    assert (answer.status, answer.code) == (401, "invalid_signature")


def test_a_tampered_method_is_refused(world, guard):
    answer = guard("PUT", "/iot/payments", _good_headers(world), BODY)
    assert (answer.status, answer.code) == (401, "invalid_signature")


def test_a_tampered_path_is_refused(world, guard):
    answer = guard("POST", "/iot/tickets", _good_headers(world), BODY)
    assert (answer.status, answer.code) == (401, "invalid_signature")


def test_the_query_string_is_signed(world, guard):
    path = "/iot/payments/abc?wait=1"
    headers = signing.signed_headers(world.a.device_id, world.a.device_secret, "GET", path)
    assert guard("GET", path, headers).status == 200
    for other in ("/iot/payments/abc?wait=2", "/iot/payments/abc", "/iot/payments/abc?wait=1&x=1"):
        headers = signing.signed_headers(world.a.device_id, world.a.device_secret, "GET", path)
        assert guard("GET", other, headers).code == "invalid_signature", other


def test_a_body_cannot_be_added_to_a_signed_empty_request(world, guard):
    headers = signing.signed_headers(world.a.device_id, world.a.device_secret, "POST", "/iot/payments", b"")
    assert guard("POST", "/iot/payments", headers, b"{}").code == "invalid_signature"


def test_another_devices_secret_is_refused(world, guard):
    headers = signing.signed_headers(world.a.device_id, world.b.device_secret, "POST", "/iot/payments", BODY)
    assert guard("POST", "/iot/payments", headers, BODY).code == "invalid_signature"


def test_an_unknown_device_answers_exactly_like_a_bad_signature(world, guard):
    unknown = signing.signed_headers("dev_doesnotexist", world.a.device_secret, "POST", "/iot/payments", BODY)
    bad_signature = _good_headers(world, **{"X-Signature": "v1=" + "ab" * 32})
    answer_unknown = guard("POST", "/iot/payments", unknown, BODY)
    answer_bad = guard("POST", "/iot/payments", bad_signature, BODY)
    assert answer_unknown.status == answer_bad.status == 401
    assert answer_unknown.body == answer_bad.body  # byte for byte: code, message, details
    assert answer_unknown.code == "invalid_signature"


# --- step 4: device_disabled ---------------------------------------------------------

def test_a_disabled_device_is_refused_then_accepted_once_enabled(world, api, signed):
    api.login(world.a.manager_email, PASSWORD)
    assert api.post(f"/api/devices/{world.a.device_id}/disable").status_code == 200
    answer = signed(world.a.device_id, world.a.device_secret, body=BODY)
    assert (answer.status, answer.code) == (403, "device_disabled")
    assert api.post(f"/api/devices/{world.a.device_id}/enable").status_code == 200
    assert signed(world.a.device_id, world.a.device_secret, body=BODY).status == 200


def test_a_disabled_device_with_a_bad_signature_learns_nothing_about_its_status(world, api, guard):
    api.login(world.a.manager_email, PASSWORD)
    api.post(f"/api/devices/{world.a.device_id}/disable")
    answer = guard("POST", "/iot/payments", _good_headers(world, **{"X-Signature": "v1=" + "cd" * 32}), BODY)
    assert answer.code == "invalid_signature"


# --- step 5: replayed_request ----------------------------------------------------------

def test_a_replayed_nonce_is_refused(world, guard):
    headers = _good_headers(world)
    assert guard("POST", "/iot/payments", headers, BODY).status == 200
    replay = guard("POST", "/iot/payments", headers, BODY)
    assert (replay.status, replay.code) == (401, "replayed_request")


def test_a_nonce_cannot_be_reused_even_with_a_fresh_timestamp(world, signed):
    nonce = "reused-nonce-0001"
    assert signed(world.a.device_id, world.a.device_secret, body=BODY, nonce=nonce).status == 200
    again = signed(world.a.device_id, world.a.device_secret, body=BODY, nonce=nonce,
                   timestamp=int(time.time()) + 1)
    assert again.code == "replayed_request"


def test_nonces_are_reserved_per_device_for_600_seconds(world, signed):
    nonce = "shared-nonce-0001"
    assert signed(world.a.device_id, world.a.device_secret, body=BODY, nonce=nonce).status == 200
    assert signed(world.b.device_id, world.b.device_secret, body=BODY, nonce=nonce).status == 200
    ttl = redis_client.ttl(f"nonce:{world.a.device_id}:{nonce}")
    assert NONCE_TTL_SECONDS - 5 <= ttl <= NONCE_TTL_SECONDS


def test_refused_requests_do_not_burn_their_nonce(world, guard):
    headers = _good_headers(world)
    assert guard("POST", "/iot/payments", headers, BODY + b" ").code == "invalid_signature"
    assert guard("POST", "/iot/payments", headers, BODY).status == 200


# --- rotation and grace ----------------------------------------------------------------

def test_a_rotated_secret_works_24_hours_more_then_stops(world, api, signed, owner_engine):
    api.login(world.a.manager_email, PASSWORD)
    response = api.post(f"/api/devices/{world.a.device_id}/rotate-secret")
    assert response.status_code == 200
    new_secret = response.get_json()["secret_key"]
    old_secret = world.a.device_secret
    assert new_secret != old_secret

    assert signed(world.a.device_id, new_secret, body=BODY).status == 200
    assert signed(world.a.device_id, old_secret, body=BODY).status == 200  # in grace

    with owner_engine.begin() as conn:  # 23 h later: still in grace
        conn.execute(sa.text("UPDATE devices SET rotated_at = now() - interval '23 hours' WHERE device_id = :d"),
                     {"d": world.a.device_id})
    assert signed(world.a.device_id, old_secret, body=BODY).status == 200

    with owner_engine.begin() as conn:  # 25 h later: grace is over
        conn.execute(sa.text("UPDATE devices SET rotated_at = now() - interval '25 hours' WHERE device_id = :d"),
                     {"d": world.a.device_id})
    # The row was rewritten behind the app (to move the clock): no event, so drop
    # this process's copy, as its TTL would (a real clock needs no drop: the
    # cached grace end is rotated_at + 24 h).
    device_cache.listener().drop()
    late = signed(world.a.device_id, old_secret, body=BODY)
    assert (late.status, late.code) == (401, "invalid_signature")
    assert signed(world.a.device_id, new_secret, body=BODY).status == 200


def test_a_second_rotation_ends_the_first_ones_grace(world, api, signed):
    api.login(world.a.manager_email, PASSWORD)
    first = api.post(f"/api/devices/{world.a.device_id}/rotate-secret").get_json()["secret_key"]
    second = api.post(f"/api/devices/{world.a.device_id}/rotate-secret").get_json()["secret_key"]
    assert signed(world.a.device_id, world.a.device_secret, body=BODY).code == "invalid_signature"
    assert signed(world.a.device_id, first, body=BODY).status == 200
    assert signed(world.a.device_id, second, body=BODY).status == 200


# --- coverage: every /iot route but registration is guarded ---------------------------

def test_every_iot_route_except_register_requires_a_signature(app, client):
    checked = []
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/iot/") or rule.rule == "/iot/register":
            continue
        path = rule.rule
        for name in rule.arguments:
            path = path.replace(f"<{name}>", str(uuid.uuid4())).replace(f"<string:{name}>", str(uuid.uuid4()))
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            response = client.open(path, method=method, json={})
            assert response.status_code == 401, (method, rule.rule, response.status_code)
            assert response.get_json()["error"]["code"] == "missing_signature"
            checked.append(f"{method} {rule.rule}")
    assert {"POST /iot/payments", "GET /iot/payments/<transaction_id>", "POST /iot/tickets"} <= set(checked)


# --- step 6 and bookkeeping ----------------------------------------------------------

def test_the_establishment_comes_from_the_device_row_never_the_body(world, signed):
    body = json.dumps({"establishment_id": world.b.id, "amount": 500}).encode()
    answer = signed(world.a.device_id, world.a.device_secret, body=body)
    assert answer.establishment_id == world.a.id


def _count_last_seen_updates(app, action) -> int:
    statements = []

    def spy(conn, cursor, statement, parameters, context, executemany):
        if "UPDATE DEVICES" in statement.upper() and "last_seen" in statement:  # after any RLS prefix
            statements.append(statement)

    with app.app_context():
        engine = db.engine
    sa.event.listen(engine, "before_cursor_execute", spy)
    try:
        action()
    finally:
        sa.event.remove(engine, "before_cursor_execute", spy)
    return len(statements)


def test_last_seen_is_written_at_most_once_a_minute(app, world, signed, owner_engine):
    def ten_requests():
        for _ in range(10):
            assert signed(world.a.device_id, world.a.device_secret, body=BODY).status == 200

    assert _count_last_seen_updates(app, ten_requests) == 1
    with owner_engine.connect() as conn:
        first = conn.execute(sa.text("SELECT last_seen FROM devices WHERE device_id = :d"),
                             {"d": world.a.device_id}).scalar_one()
    assert first is not None and abs(first.timestamp() - time.time()) < 30
    ttl = redis_client.ttl(f"last_seen:{world.a.device_id}")
    assert 0 < ttl <= 60
    # A minute later (the gate key expires), the next request writes again.
    redis_client.delete(f"last_seen:{world.a.device_id}")
    assert _count_last_seen_updates(app, ten_requests) == 1
    # Another device has its own gate.
    assert _count_last_seen_updates(
        app, lambda: signed(world.b.device_id, world.b.device_secret, body=BODY)) == 1


def test_refused_requests_never_touch_last_seen(app, world, guard):
    bad = _good_headers(world, **{"X-Signature": "v1=" + "ef" * 32})
    assert _count_last_seen_updates(app, lambda: guard("POST", "/iot/payments", bad, BODY)) == 0


def test_failed_signatures_count_against_the_per_ip_limit(world, guard, signed):
    bad = _good_headers(world, **{"X-Signature": "v1=" + "ef" * 32})
    for _ in range(30):
        assert guard("POST", "/iot/payments", bad, BODY, remote_addr="10.9.9.9").status == 401
    blocked = guard("POST", "/iot/payments", bad, BODY, remote_addr="10.9.9.9")
    assert (blocked.status, blocked.code) == (429, "rate_limited")
    # Verified first: a correctly signed request from that same address still passes.
    passed = guard("POST", "/iot/payments", _good_headers(world), BODY, remote_addr="10.9.9.9")
    assert passed.status == 200
    # A kiosk behind another address is not affected.
    assert signed(world.a.device_id, world.a.device_secret, body=BODY).status == 200


# --- property: any change to any signed part is refused --------------------------------

HEX = "0123456789abcdef"
NOW = 1_764_000_000
PATH = "/iot/payments/0b6f4b43?wait=1"


def _mutations(world_b_device_id: str):
    method = st.sampled_from(["GET", "PUT", "PATCH", "DELETE"]).map(lambda m: ("method", m))
    path = st.sampled_from(["/iot/payments/0b6f4b44?wait=1", "/iot/payments/0b6f4b43?wait=2",
                            "/iot/payments/0b6f4b43", "/iot/payments/0b6f4b43?wait=1&a=b",
                            "/iot/tickets?wait=1", "/iot/payments/0b6f4b43/?wait=1"]).map(lambda p: ("path", p))
    device = st.one_of(st.just(world_b_device_id),
                       st.from_regex(r"\Adev_[A-Za-z0-9]{12}\Z")).map(lambda d: ("device_id", d))
    timestamp = st.one_of(
        st.integers(-CLOCK_WINDOW_SECONDS + 1, CLOCK_WINDOW_SECONDS - 1).filter(bool).map(lambda k: NOW + k),
        st.just("0" + str(NOW)),  # same instant, other characters: the header text is what is signed
    ).map(lambda t: ("timestamp", t))
    nonce = st.from_regex(r"\A[A-Za-z0-9_-]{16,64}\Z").filter(lambda n: n != "property-nonce-00001").map(
        lambda n: ("nonce", n))
    body = st.tuples(st.integers(0, 1000), st.integers(1, 255)).map(lambda t: ("body", t))
    signature = st.tuples(st.integers(0, 63), st.integers(1, 15)).map(lambda t: ("signature", t))
    return st.one_of(method, path, device, timestamp, nonce, body, signature)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_any_change_to_any_signed_part_is_refused(app, world, guard, frozen_guard_clock, monkeypatch, data):
    monkeypatch.setitem(app.config, "RATELIMIT_ENABLED", False)  # hundreds of failures from one IP
    frozen_guard_clock(NOW)
    body = BODY
    nonce = "property-nonce-00001"
    request = {"method": "POST", "path": PATH, "device_id": world.a.device_id, "timestamp": NOW,
               "nonce": nonce, "body": body}
    headers = signing.signed_headers(world.a.device_id, world.a.device_secret, "POST", PATH, body,
                                     timestamp=NOW, nonce=nonce)
    part, value = data.draw(_mutations(world.b.device_id))
    if part == "body":
        position, flip = value
        raw = bytearray(body)
        raw[position % len(raw)] ^= flip
        request["body"] = bytes(raw)
    elif part == "signature":
        position, step = value
        digest = list(headers["X-Signature"][3:])
        digest[position] = HEX[(HEX.index(digest[position]) + step) % 16]
        headers["X-Signature"] = "v1=" + "".join(digest)
    else:
        request[part] = value
    headers.update({"X-Device-Id": request["device_id"], "X-Timestamp": str(request["timestamp"]),
                    "X-Nonce": request["nonce"]})
    answer = guard(request["method"], request["path"], headers, request["body"])
    assert (answer.status, answer.code) == (401, "invalid_signature"), (part, value)


def test_the_unchanged_property_request_is_accepted(world, guard, frozen_guard_clock):
    """The control for the property test: without a change, the same request passes."""
    frozen_guard_clock(NOW)
    headers = signing.signed_headers(world.a.device_id, world.a.device_secret, "POST", PATH, BODY,
                                     timestamp=NOW, nonce="property-nonce-00001")
    assert guard("POST", PATH, headers, BODY).status == 200

