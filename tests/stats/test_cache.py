"""The stats cache on real Redis: hits, O(1) invalidation, TTL, isolation, outage."""
from __future__ import annotations

import uuid

import redis as redis_lib

from kiosk.extensions import redis_client
from kiosk.stats import services
from kiosk.cache import DEFAULT_TTL
from kiosk.tenancy import tenant_scope

from tests.fault_services import PrivateRedis
from tests.stats.conftest import add_payment, utc

DAILY = "/stats/revenue/daily?from=2026-04-01&to=2026-04-30"
MONTHLY = "/stats/revenue/monthly?from=2026-01&to=2026-12"
VIP = "/stats/vip/count?from=2026-04-01&to=2026-04-30"


def _redis(redis_url):
    return redis_lib.Redis.from_url(redis_url)


def _stats_keys(redis_url, tenant_id) -> list[bytes]:
    return sorted(_redis(redis_url).scan_iter(f"cache:{tenant_id}:stats:*"))


def test_second_call_is_served_from_redis_without_sql(app, tenant_in, manager_api, count_statements):
    t = tenant_in()
    with app.app_context():
        add_payment(t.id, utc(2026, 4, 2, 10), 500)
    api = manager_api(t)
    for path in (DAILY, MONTHLY, VIP):
        with count_statements() as cold:
            first = api.get(path)
        with count_statements() as warm:
            second = api.get(path)
        assert first.status_code == second.status_code == 200
        assert second.get_json() == first.get_json()
        assert cold.count >= 1, path
        assert any("GROUP BY" in s for s in cold.statements), cold.statements
        assert warm.count == 0, (path, warm.statements)


def test_entries_have_the_300_second_ttl(app, tenant_in, manager_api, redis_url):
    t = tenant_in()
    api = manager_api(t)
    for path in (DAILY, MONTHLY, VIP):
        assert api.get(path).status_code == 200
    keys = _stats_keys(redis_url, t.id)
    assert len(keys) == 3
    for key in keys:
        assert DEFAULT_TTL - 5 <= _redis(redis_url).ttl(key) <= DEFAULT_TTL == 300


def test_a_ticket_change_invalidates_only_that_establishment(app, tenant_in, manager_api, redis_url,
                                                             count_statements):
    a, b = tenant_in(), tenant_in()
    with app.app_context():
        add_payment(a.id, utc(2026, 4, 2, 10), 500)
        add_payment(b.id, utc(2026, 4, 2, 10), 700)
    api_a, api_b = manager_api(a), manager_api(b)
    assert api_a.get(DAILY).get_json()["total"] == 500
    assert api_b.get(DAILY).get_json()["total"] == 700
    generation_b = _redis(redis_url).get(f"cache:gen:{b.id}")

    # A staff action on one of A's tickets (the real endpoint) bumps A's generation.
    assert api_a.post(f"/api/queues/{a.queue_id}/tickets", json={"kind": "STANDARD"}).status_code == 201
    with count_statements() as after_change:
        assert api_a.get(DAILY).get_json()["total"] == 500
    assert after_change.count >= 1, "A's cache should have been invalidated"
    with count_statements() as other:
        assert api_b.get(DAILY).get_json()["total"] == 700
    assert other.count == 0, "B's cache must be untouched"
    assert _redis(redis_url).get(f"cache:gen:{b.id}") == generation_b


def test_a_confirmed_payment_invalidates_and_shows_at_once(app, tenant_in, manager_api, device_client):
    t = tenant_in()
    api = manager_api(t)
    with app.app_context(), tenant_scope(t.id):
        day = services.local_today().isoformat()
    revenue, vip = f"/stats/revenue/daily?from={day}&to={day}", f"/stats/vip/count?from={day}&to={day}"
    assert api.get(revenue).get_json()["total"] == 0 and api.get(vip).get_json()["total"] == 0  # now cached

    # The real path: a signed kiosk payment, processed by the (eager) Celery task.
    kiosk = device_client(t.device_id, t.device_secret)
    paid = kiosk.post("/iot/payments", {"transaction_id": str(uuid.uuid4()), "amount": 500})
    assert paid.status_code in (200, 202) and paid.get_json()["status"] == "CONFIRMED", paid.get_json()
    after = api.get(revenue).get_json()
    assert after["total"] == 500 and after["days"][0]["transactions"] == 1
    assert api.get(vip).get_json()["total"] == 1

    refused = kiosk.post("/iot/payments", {"transaction_id": str(uuid.uuid4()), "amount": 100})  # below price
    assert refused.get_json()["status"] == "FAILED"
    assert api.get(revenue).get_json()["total"] == 500
    assert api.get(vip).get_json()["total"] == 1


def test_invalidation_is_one_generation_bump(app, tenant_in, manager_api, redis_url):
    t = tenant_in()
    api = manager_api(t)
    for path in (DAILY, MONTHLY, VIP):
        api.get(path)
    keys_before = set(_redis(redis_url).keys("*"))
    with app.app_context():
        from kiosk.cache import invalidate

        invalidate(t.id)
    keys_after = set(_redis(redis_url).keys("*"))
    # Nothing scanned or deleted: old entries are ignored and age out.
    assert keys_before - {f"cache:gen:{t.id}".encode()} == keys_after - {f"cache:gen:{t.id}".encode()}
    assert len(_stats_keys(redis_url, t.id)) == 3
    assert int(_redis(redis_url).get(f"cache:gen:{t.id}")) >= 1


def test_an_entry_computed_across_an_invalidation_is_never_served(app, tenant_in):
    from kiosk.cache import cached, invalidate

    t = tenant_in()
    with app.app_context():
        def slow_compute():
            invalidate(t.id)  # a payment confirmed while this was being computed
            return {"total": 1}

        assert cached(t.id, "race", slow_compute) == {"total": 1}
        assert cached(t.id, "race", lambda: {"total": 2}) == {"total": 2}
        assert cached(t.id, "race", lambda: {"total": 3}) == {"total": 2}  # now a hit


def test_redis_outage_degrades_to_correct_uncached_answers(app, tenant_in, manager_api, monkeypatch,
                                                           count_statements):
    t = tenant_in()
    with app.app_context():
        add_payment(t.id, utc(2026, 4, 2, 10), 500)
    private = PrivateRedis().start()
    try:
        monkeypatch.setattr(redis_client, "_client", redis_lib.Redis.from_url(
            private.url, socket_timeout=1.0, socket_connect_timeout=1.0))
        api = manager_api(t)
        assert api.get(DAILY).get_json()["total"] == 500   # cached in the private Redis
        with count_statements() as warm:
            assert api.get(DAILY).get_json()["total"] == 500
        assert warm.count == 0

        private.stop()
        with app.app_context():
            add_payment(t.id, utc(2026, 4, 3, 10), 250)  # a change the dead cache never heard of
        for path, total in ((DAILY, 750), (MONTHLY, 750), (VIP, 0)):
            with count_statements() as down:
                response = api.get(path)
            assert response.status_code == 200, response.get_json()
            assert response.get_json()["total"] == total
            assert down.count >= 1  # read from the database
        with app.app_context(), tenant_scope(t.id):
            from datetime import date

            assert services.revenue_daily(date(2026, 4, 1), date(2026, 4, 30))["total"] == 750
            from kiosk.cache import invalidate

            invalidate(t.id)  # swallowed, logged

        private.start()
        assert api.get(DAILY).get_json()["total"] == 750
    finally:
        private.stop()


def test_dead_redis_port_never_errors(app, tenant_in, manager_api, monkeypatch):
    from tests.fault_services import free_port

    t = tenant_in()
    with app.app_context():
        add_payment(t.id, utc(2026, 4, 2, 10), 42)
    monkeypatch.setattr(redis_client, "_client", redis_lib.Redis(
        host="127.0.0.1", port=free_port(), socket_timeout=0.5, socket_connect_timeout=0.5))
    api = manager_api(t)
    for path, total in ((DAILY, 42), (MONTHLY, 42), (VIP, 0)):
        response = api.get(path)
        assert response.status_code == 200 and response.get_json()["total"] == total


def test_a_hung_redis_costs_one_timeout_then_reads_skip_it(app, tenant_in, manager_api, monkeypatch):
    import signal
    import time

    t = tenant_in()
    with app.app_context():
        add_payment(t.id, utc(2026, 4, 2, 10), 500)
    private = PrivateRedis().start()
    try:
        timeout = 1.5
        from kiosk import cache

        monkeypatch.setattr(cache, "OUTAGE_BACKOFF", 60.0)  # a slow machine must not outlive the back-off
        monkeypatch.setattr(redis_client, "_client", redis_lib.Redis.from_url(
            private.url, socket_timeout=timeout, socket_connect_timeout=timeout))
        api = manager_api(t)
        assert api.get(DAILY).get_json()["total"] == 500
        private.process.send_signal(signal.SIGSTOP)  # accepts connections, never answers
        started = time.monotonic()
        assert api.get(MONTHLY).get_json()["total"] == 500
        first = time.monotonic() - started
        following = []
        for path in (DAILY, MONTHLY, VIP, DAILY, MONTHLY):
            started = time.monotonic()
            response = api.get(path)
            following.append(time.monotonic() - started)
            assert response.status_code == 200
        assert first >= timeout  # paid the socket timeout once...
        assert max(following) < timeout, following  # ...and never again while Redis is known to be down
    finally:
        if private.process and private.process.poll() is None:
            private.process.send_signal(signal.SIGCONT)
        private.stop()


def test_service_dicts_and_api_bytes_are_the_same_answer_hit_or_miss(app, tenant_in, manager_api):
    import json
    from datetime import date

    t = tenant_in()
    with app.app_context():
        add_payment(t.id, utc(2026, 4, 2, 10), 500)
    api = manager_api(t)
    miss = api.get(DAILY)
    hit = api.get(DAILY)
    assert miss.data == hit.data and miss.mimetype == hit.mimetype == "application/json"
    with app.app_context(), tenant_scope(t.id):
        as_dict = services.revenue_daily(date(2026, 4, 1), date(2026, 4, 30))  # a hit, decoded
        assert as_dict == json.loads(hit.data)
        assert isinstance(as_dict["days"][0]["revenue"], int)
        monthly = services.revenue_monthly("2026-01", "2026-12")  # a miss, computed (the dashboard's call)
        assert monthly == json.loads(services.revenue_monthly("2026-01", "2026-12", as_json=True))
        assert services.vip_count(date(2026, 4, 1), date(2026, 4, 30))["total"] == 0


def test_services_refuse_bad_ranges_like_the_api(app, tenant_in):
    from datetime import date

    import pytest

    from kiosk.errors import ApiError

    t = tenant_in()
    with app.app_context(), tenant_scope(t.id):
        for call in (lambda: services.revenue_daily(date(2026, 4, 2), date(2026, 4, 1)),
                     lambda: services.vip_count(date(2025, 1, 1), date(2026, 1, 2)),
                     lambda: services.revenue_monthly("2026-13", "2026-12"),
                     lambda: services.revenue_monthly("2025-01", "2026-01")):
            with pytest.raises(ApiError) as raised:
                call()
            assert raised.value.status == 400 and raised.value.code == "validation_error"
            assert raised.value.details
