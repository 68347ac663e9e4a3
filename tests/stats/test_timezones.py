"""Local calendar: days and months follow the establishment's time zone,
around local midnight, across a month change and both DST changes."""
from __future__ import annotations

from datetime import date

import pytest

from tests.stats.conftest import add_payment, add_vip_ticket, utc


def _days(body: dict) -> dict:
    return {d["date"]: (d["revenue"], d["transactions"]) for d in body["days"]}


def test_honolulu_utc_minus_10_payment_at_2330_local_counts_that_local_day(app, tenant_in, manager_api):
    t = tenant_in("Pacific/Honolulu")
    with app.app_context():
        add_payment(t.id, utc(2026, 3, 11, 9, 30), 700)     # 2026-03-10 23:30 local
        add_payment(t.id, utc(2026, 3, 11, 9, 59, 59), 1)   # 23:59:59 local
        add_payment(t.id, utc(2026, 3, 11, 10, 0), 20)      # 2026-03-11 00:00 local
        add_payment(t.id, utc(2026, 3, 10, 9, 59), 3)       # 2026-03-09 23:59 local
    body = manager_api(t).get("/stats/revenue/daily?from=2026-03-09&to=2026-03-11").get_json()
    assert body["timezone"] == "Pacific/Honolulu"
    assert _days(body) == {"2026-03-09": (3, 1), "2026-03-10": (701, 2), "2026-03-11": (20, 1)}
    assert body["total"] == 724


def test_utc_establishment_splits_exactly_at_midnight_utc(app, tenant_in, manager_api):
    t = tenant_in("UTC")
    with app.app_context():
        add_payment(t.id, utc(2026, 5, 1, 23, 59, 59), 100)
        add_payment(t.id, utc(2026, 5, 2, 0, 0, 0), 200)
    body = manager_api(t).get("/stats/revenue/daily?from=2026-05-01&to=2026-05-02").get_json()
    assert _days(body) == {"2026-05-01": (100, 1), "2026-05-02": (200, 1)}


def test_kiritimati_utc_plus_14_payment_after_local_midnight_is_the_next_day(app, tenant_in, manager_api):
    t = tenant_in("Pacific/Kiritimati")
    with app.app_context():
        add_payment(t.id, utc(2026, 3, 10, 9, 30), 5)    # 2026-03-10 23:30 local
        add_payment(t.id, utc(2026, 3, 10, 10, 30), 7)   # 2026-03-11 00:30 local, still the 10th in UTC
        add_payment(t.id, utc(2026, 3, 9, 9, 59), 11)    # 2026-03-09 23:59 local: out of range
    body = manager_api(t).get("/stats/revenue/daily?from=2026-03-10&to=2026-03-11").get_json()
    assert _days(body) == {"2026-03-10": (5, 1), "2026-03-11": (7, 1)}
    assert body["total"] == 12


@pytest.mark.parametrize("zone, last_of_january_utc, first_of_february_utc", [
    # 2026-01-31 23:30 local / 2026-02-01 00:30 local, as UTC instants
    ("Pacific/Honolulu", utc(2026, 2, 1, 9, 30), utc(2026, 2, 1, 10, 30)),
    ("UTC", utc(2026, 1, 31, 23, 30), utc(2026, 2, 1, 0, 30)),
    ("Pacific/Kiritimati", utc(2026, 1, 31, 9, 30), utc(2026, 1, 31, 10, 30)),
])
def test_month_change_follows_local_calendar(app, tenant_in, manager_api, zone, last_of_january_utc,
                                             first_of_february_utc):
    t = tenant_in(zone)
    with app.app_context():
        add_payment(t.id, last_of_january_utc, 1000)
        add_payment(t.id, first_of_february_utc, 30)
    api = manager_api(t)
    monthly = api.get("/stats/revenue/monthly?from=2026-01&to=2026-02").get_json()
    assert monthly["months"] == [{"month": "2026-01", "revenue": 1000, "transactions": 1, "refunded": 0},
                                 {"month": "2026-02", "revenue": 30, "transactions": 1, "refunded": 0}]
    daily = api.get("/stats/revenue/daily?from=2026-01-31&to=2026-02-01").get_json()
    assert _days(daily) == {"2026-01-31": (1000, 1), "2026-02-01": (30, 1)}


def _one_payment_per_utc_hour(tenant_id, first, hours: int) -> None:
    from datetime import timedelta

    for h in range(hours):
        add_payment(tenant_id, first + timedelta(hours=h), 1)


def test_paris_spring_forward_day_has_23_hours(app, tenant_in, manager_api):
    # 2026-03-29: 02:00 CET -> 03:00 CEST (01:00 UTC). Local day = [03-28 23:00Z, 03-29 22:00Z).
    t = tenant_in("Europe/Paris", "EUR")
    with app.app_context():
        _one_payment_per_utc_hour(t.id, utc(2026, 3, 28, 20), 30)  # 03-28 20:00Z .. 03-30 01:00Z
    body = manager_api(t).get("/stats/revenue/daily?from=2026-03-28&to=2026-03-30").get_json()
    # 03-28: 20:00Z..22:00Z = 21:00..23:00 CET (3 h); 03-29: 23 h; 03-30: 22:00Z..01:00Z = 4 h
    assert _days(body) == {"2026-03-28": (3, 3), "2026-03-29": (23, 23), "2026-03-30": (4, 4)}
    assert body["currency"] == "EUR" and body["total"] == 30


def test_paris_fall_back_day_has_25_hours(app, tenant_in, manager_api):
    # 2026-10-25: 03:00 CEST -> 02:00 CET (01:00 UTC). Local day = [10-24 22:00Z, 10-25 23:00Z).
    t = tenant_in("Europe/Paris", "EUR")
    with app.app_context():
        _one_payment_per_utc_hour(t.id, utc(2026, 10, 24, 20), 30)  # .. 10-26 01:00Z
    body = manager_api(t).get("/stats/revenue/daily?from=2026-10-24&to=2026-10-26").get_json()
    # 10-24: 20:00Z, 21:00Z (22:00, 23:00 CEST); 10-25: 25 h; 10-26: 23:00Z..01:00Z = 3 h
    assert _days(body) == {"2026-10-24": (2, 2), "2026-10-25": (25, 25), "2026-10-26": (3, 3)}


def test_vip_count_follows_local_calendar_across_dst(app, tenant_in, manager_api):
    t = tenant_in("Europe/Paris", "EUR")
    with app.app_context():
        add_vip_ticket(t.id, t.queue_id, utc(2026, 10, 24, 21, 59))  # 23:59 CEST, 10-24
        add_vip_ticket(t.id, t.queue_id, utc(2026, 10, 24, 22, 0))   # 00:00 CEST, 10-25
        add_vip_ticket(t.id, t.queue_id, utc(2026, 10, 25, 22, 59))  # 23:59 CET, 10-25
        add_vip_ticket(t.id, t.queue_id, utc(2026, 10, 25, 23, 0))   # 00:00 CET, 10-26
        add_vip_ticket(t.id, t.queue_id, utc(2026, 10, 25, 12, 0), kind="STANDARD")  # not VIP
    body = manager_api(t).get("/stats/vip/count?from=2026-10-24&to=2026-10-26").get_json()
    assert body == {"total": 4, "days": [{"date": "2026-10-24", "count": 1}, {"date": "2026-10-25", "count": 2},
                                         {"date": "2026-10-26", "count": 1}]}


def test_year_long_range_spans_both_dst_changes(app, tenant_in, manager_api):
    t = tenant_in("Europe/Paris", "EUR")
    with app.app_context():
        add_payment(t.id, utc(2026, 1, 1, 0, 0), 1)      # 01:00 CET
        add_payment(t.id, utc(2026, 7, 1, 21, 59), 2)   # 23:59 CEST 07-01
        add_payment(t.id, utc(2026, 12, 31, 22, 59), 4)  # 23:59 CET 12-31
        add_payment(t.id, utc(2026, 12, 31, 23, 0), 8)   # 2027-01-01 local: out of range
    api = manager_api(t)
    daily = api.get("/stats/revenue/daily?from=2026-01-01&to=2026-12-31").get_json()
    assert len(daily["days"]) == 365 and daily["total"] == 7
    assert _days(daily)["2026-07-01"] == (2, 1)
    monthly = api.get("/stats/revenue/monthly?from=2026-01&to=2026-12").get_json()
    assert [m["revenue"] for m in monthly["months"]] == [1, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 4]
    assert monthly["total"] == daily["total"] == 7
    assert date.fromisoformat(daily["days"][-1]["date"]) == date(2026, 12, 31)


def test_last_microsecond_of_a_local_day_stays_in_that_day(app, tenant_in, manager_api):
    t = tenant_in("Europe/Paris", "EUR")
    with app.app_context():
        add_payment(t.id, utc(2026, 5, 31, 21, 59, 59, 999999), 5)  # 23:59:59.999999 CEST
        add_payment(t.id, utc(2026, 5, 31, 22, 0, 0), 7)            # 2026-06-01 00:00 CEST
    api = manager_api(t)
    assert _days(api.get("/stats/revenue/daily?from=2026-05-31&to=2026-06-01").get_json()) == {
        "2026-05-31": (5, 1), "2026-06-01": (7, 1)}
    months = api.get("/stats/revenue/monthly?from=2026-05&to=2026-06").get_json()["months"]
    assert [m["revenue"] for m in months] == [5, 7]
