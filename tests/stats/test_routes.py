"""Stats API: shape, zeros, CONFIRMED only, validation, roles, tenant isolation."""
from __future__ import annotations

import pytest

from tests.helpers import ApiClient
from tests.stats.conftest import add_payment, add_vip_ticket, utc

DAILY = "/stats/revenue/daily?from=2026-04-01&to=2026-04-03"
MONTHLY = "/stats/revenue/monthly?from=2026-03&to=2026-05"
VIP = "/stats/vip/count?from=2026-04-01&to=2026-04-03"


def test_daily_has_every_day_with_zeros_and_counts_only_confirmed(app, tenant_in, manager_api):
    t = tenant_in("Africa/Abidjan", "XOF")
    with app.app_context():
        add_payment(t.id, utc(2026, 4, 2, 10), 500)
        add_payment(t.id, utc(2026, 4, 2, 11), 1500)
        add_payment(t.id, utc(2026, 4, 2, 12), 900, status="PENDING")
        add_payment(t.id, utc(2026, 4, 2, 13), 100, status="FAILED")
    response = manager_api(t).get(DAILY)
    assert response.status_code == 200
    assert response.get_json() == {
        "currency": "XOF", "timezone": "Africa/Abidjan", "from": "2026-04-01", "to": "2026-04-03", "total": 2000, "refunded": 0,
        "days": [{"date": "2026-04-01", "revenue": 0, "transactions": 0, "refunded": 0},
                 {"date": "2026-04-02", "revenue": 2000, "transactions": 2, "refunded": 0},
                 {"date": "2026-04-03", "revenue": 0, "transactions": 0, "refunded": 0}],
    }


def test_monthly_has_every_month_with_zeros(app, tenant_in, manager_api):
    t = tenant_in("Europe/Paris", "EUR")
    with app.app_context():
        add_payment(t.id, utc(2026, 4, 15, 10), 300, currency="EUR")
        add_payment(t.id, utc(2026, 4, 16, 10), 300, currency="EUR", status="FAILED")
    body = manager_api(t).get(MONTHLY).get_json()
    assert body == {"currency": "EUR", "timezone": "Europe/Paris", "from": "2026-03", "to": "2026-05", "total": 300, "refunded": 0,
                    "months": [{"month": "2026-03", "revenue": 0, "transactions": 0, "refunded": 0},
                               {"month": "2026-04", "revenue": 300, "transactions": 1, "refunded": 0},
                               {"month": "2026-05", "revenue": 0, "transactions": 0, "refunded": 0}]}


def test_vip_count_counts_vip_tickets_per_day_with_zeros(app, tenant_in, manager_api):
    t = tenant_in()
    with app.app_context():
        add_vip_ticket(t.id, t.queue_id, utc(2026, 4, 1, 8), status="WAITING")
        add_vip_ticket(t.id, t.queue_id, utc(2026, 4, 1, 9), status="CANCELLED")  # paid, then cancelled
        add_vip_ticket(t.id, t.queue_id, utc(2026, 4, 3, 9), kind="STANDARD")
    body = manager_api(t).get(VIP).get_json()
    assert body == {"total": 2, "days": [{"date": "2026-04-01", "count": 2}, {"date": "2026-04-02", "count": 0},
                                         {"date": "2026-04-03", "count": 0}]}


def test_empty_range_is_all_zeros(tenant_in, manager_api):
    t = tenant_in()
    api = manager_api(t)
    daily = api.get("/stats/revenue/daily?from=2026-02-27&to=2026-03-01").get_json()
    assert [d["date"] for d in daily["days"]] == ["2026-02-27", "2026-02-28", "2026-03-01"]
    assert daily["total"] == 0 and all(d["revenue"] == 0 and d["transactions"] == 0 for d in daily["days"])
    one_day = api.get("/stats/vip/count?from=2028-02-29&to=2028-02-29").get_json()
    assert one_day == {"total": 0, "days": [{"date": "2028-02-29", "count": 0}]}


@pytest.mark.parametrize("path, field", [
    ("/stats/revenue/daily?from=2026-04-01&to=2026-13-01", "to"),
    ("/stats/revenue/daily?from=01/04/2026&to=2026-04-03", "from"),
    ("/stats/revenue/daily?from=2026-02-30&to=2026-03-01", "from"),
    ("/stats/revenue/daily?from=&to=2026-03-01", "from"),
    ("/stats/revenue/daily?to=2026-03-01", "from"),
    ("/stats/revenue/daily?from=2026-03-01", "to"),
    ("/stats/revenue/daily?from=2026-03-02&to=2026-03-01", "to"),          # reversed
    ("/stats/revenue/daily?from=2025-01-01&to=2026-01-02", "to"),          # 367 days
    ("/stats/revenue/daily?from=1999-12-31&to=2000-01-01", "from"),        # before the supported calendar
    ("/stats/revenue/daily?from=2026-01-01&to=2026-01-02&tz=UTC", "tz"),   # unknown parameter
    ("/stats/revenue/monthly?from=2026-4&to=2026-05", "from"),
    ("/stats/revenue/monthly?from=2026-04-01&to=2026-05", "from"),
    ("/stats/revenue/monthly?from=2026-00&to=2026-05", "from"),
    ("/stats/revenue/monthly?from=2026-05&to=2026-04", "to"),              # reversed
    ("/stats/revenue/monthly?from=2025-01&to=2026-01", "to"),              # 13 months > 366 days
    ("/stats/revenue/monthly?from=2026-01&to=2026-02&establishment_id=x", "establishment_id"),
    ("/stats/vip/count?from=2026-04-03&to=2026-04-01", "to"),
    ("/stats/vip/count?from=2024-01-01&to=2025-01-01", "to"),              # 367 days (leap year)
    ("/stats/vip/count?from=x&to=y", "from"),
])
def test_bad_ranges_are_400_validation_error_with_field_details(tenant_in, manager_api, path, field):
    response = manager_api(tenant_in()).get(path)
    assert response.status_code == 400, response.get_json()
    error = response.get_json()["error"]
    assert error["code"] == "validation_error"
    assert field in error["details"] and error["details"][field]


@pytest.mark.parametrize("path", [
    "/stats/revenue/daily?from=2024-01-01&to=2024-12-31",   # 366 days: the limit
    "/stats/revenue/monthly?from=2024-02&to=2025-01",       # 12 months
    "/stats/vip/count?from=2025-01-01&to=2025-12-31",
])
def test_longest_allowed_ranges_are_accepted(tenant_in, manager_api, path):
    assert manager_api(tenant_in()).get(path).status_code == 200


@pytest.mark.parametrize("path", [DAILY, MONTHLY, VIP])
def test_agent_is_403_and_anonymous_is_401(client, tenant_in, path):
    t = tenant_in()
    assert client.get(path).status_code == 401
    assert client.get(path).get_json()["error"]["code"] == "unauthorized"
    agent = ApiClient(client)
    agent.login(t.agent_email)
    response = agent.get(path)
    assert response.status_code == 403 and response.get_json()["error"]["code"] == "forbidden"


def test_every_endpoint_is_isolated_per_establishment(app, tenant_in, manager_api):
    a, b = tenant_in(), tenant_in()
    with app.app_context():
        add_payment(a.id, utc(2026, 4, 2, 10), 111)
        add_vip_ticket(a.id, a.queue_id, utc(2026, 4, 2, 10))
        add_payment(b.id, utc(2026, 4, 2, 10), 222_000)
        add_payment(b.id, utc(2026, 4, 2, 11), 222_000)
        add_vip_ticket(b.id, b.queue_id, utc(2026, 4, 2, 10))
        add_vip_ticket(b.id, b.queue_id, utc(2026, 4, 2, 11))
    api_a, api_b = manager_api(a), manager_api(b)
    # Warm A's cache first: B must never be served A's entries, nor the reverse.
    for path in (DAILY, MONTHLY, VIP):
        api_a.get(path)
    assert api_a.get(DAILY).get_json()["total"] == 111
    assert api_b.get(DAILY).get_json()["total"] == 444_000
    assert api_a.get(MONTHLY).get_json()["total"] == 111
    assert api_b.get(MONTHLY).get_json()["total"] == 444_000
    assert api_a.get(VIP).get_json()["total"] == 1
    assert api_b.get(VIP).get_json()["total"] == 2
    assert api_b.get(DAILY).get_json()["days"][1] == {"date": "2026-04-02", "revenue": 444_000, "transactions": 2, "refunded": 0}
