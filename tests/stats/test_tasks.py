"""Celery beat's stats warm-up: every establishment's dashboard defaults land in Redis."""
from __future__ import annotations

from datetime import datetime, timezone

import redis as redis_lib

from kiosk.cache import DEFAULT_TTL
from kiosk.stats.tasks import warm_up

from tests.stats.conftest import add_payment, add_vip_ticket


def _dashboard_defaults(today) -> list[str]:
    # What the overview page asks first: "this month" so far, and the last 12 months.
    index = today.year * 12 + today.month - 1 - 11
    first = today.replace(day=1)
    return [f"/stats/revenue/daily?from={first}&to={today}", f"/stats/vip/count?from={first}&to={today}",
            f"/stats/revenue/monthly?from={index // 12:04d}-{index % 12 + 1:02d}&to={today:%Y-%m}"]


def test_warm_up_fills_every_establishments_dashboard_defaults(app, tenant_in, manager_api, count_statements,
                                                               redis_url):
    from zoneinfo import ZoneInfo

    a, b = tenant_in("Pacific/Kiritimati"), tenant_in("Pacific/Honolulu")
    now = datetime.now(timezone.utc)
    with app.app_context():
        add_payment(a.id, now, 700)
        add_vip_ticket(a.id, a.queue_id, now)
        add_payment(b.id, now, 300)

    result = warm_up.apply().result
    assert result["failed"] == 0 and result["establishments"] >= 2 and result["entries"] >= 6

    for tenant, total, vip in ((a, 700, 1), (b, 300, 0)):
        api = manager_api(tenant)
        today = now.astimezone(ZoneInfo("Pacific/Kiritimati" if tenant is a else "Pacific/Honolulu")).date()
        daily, vip_path, monthly = _dashboard_defaults(today)
        with count_statements() as counter:
            assert api.get(daily).get_json()["total"] == total
            assert api.get(vip_path).get_json()["total"] == vip
            assert api.get(monthly).get_json()["total"] == total
        assert counter.count == 0, counter.statements  # all three were already in Redis

    # A warm-up rewrites the entries, so quiet establishments never reach the TTL.
    r = redis_lib.Redis.from_url(redis_url)
    keys = list(r.scan_iter(f"cache:{a.id}:stats:*"))
    assert len(keys) == 3
    for key in keys:
        r.expire(key, 10)
    warm_up.apply()
    assert all(r.ttl(key) > DEFAULT_TTL - 10 for key in keys)


def test_warm_up_is_scheduled_more_often_than_the_ttl(app):
    entry = app.config["CELERY"]["beat_schedule"]["warm-stats"]
    assert entry["task"] == "stats.warm_up" and entry["schedule"] < DEFAULT_TTL


def test_one_broken_establishment_never_stops_the_others(app, tenant_in, manager_api, owner_engine,
                                                          count_statements):
    broken, fine = tenant_in(), tenant_in("UTC")
    with owner_engine.begin() as conn:
        conn.exec_driver_sql("UPDATE establishments SET timezone = 'Not/AZone' WHERE id = %s", (broken.id,))
    result = warm_up.apply().result
    assert result["failed"] == 1 and result["entries"] >= 3
    today = datetime.now(timezone.utc).date()
    api = manager_api(fine)
    with count_statements() as counter:
        assert api.get(_dashboard_defaults(today)[0]).status_code == 200
    assert counter.count == 0
