"""The embedded SQLite path: same endpoints, same local-calendar answers.

SQLite has no time zones, so the service shifts rows by the UTC offsets in
force over the range (computed with zoneinfo). Runs in a subprocess: an
SQLite app in this process would replace the session's Redis client.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys

from cryptography.fernet import Fernet

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

SCRIPT = r'''
import json, sys, uuid
from datetime import datetime, timedelta, timezone
from flask_migrate import upgrade
from kiosk import create_app
from kiosk.extensions import db
from kiosk.payments.models import Transaction
from kiosk.queues.models import Ticket
from kiosk.tenancy import tenant_scope
from tests import factories

app = create_app({"DATABASE_URL": sys.argv[1], "SECRET_KEY": "s" * 40, "DEVICE_SECRET_KEYS": sys.argv[2],
                  "KIOSK_ENV": "test", "TESTING": True})
assert app.config["EMBEDDED_REDIS"]
UTC = timezone.utc
out = {}
with app.app_context():
    upgrade(revision="heads")
    tenants = {zone: factories.make_tenant(timezone=zone) for zone in
               ("Europe/Paris", "Pacific/Honolulu", "Pacific/Kiritimati")}

    def pay(t, when, amount=1, status="CONFIRMED"):
        with tenant_scope(t.id):
            db.session.add(Transaction(transaction_id=uuid.uuid4(), device_id="x", amount=amount, currency="XOF",
                                       status=status, payload_hash="0" * 64, created_at=when, updated_at=when))
            db.session.commit()

    paris = tenants["Europe/Paris"]
    for start in (datetime(2026, 3, 28, 20, tzinfo=UTC), datetime(2026, 10, 24, 20, tzinfo=UTC)):
        for h in range(30):
            pay(paris, start + timedelta(hours=h))
    pay(paris, datetime(2026, 3, 29, 12, tzinfo=UTC), 999, status="FAILED")
    # The last microsecond of local 2026-05-31 (SQLite alone would round it into June).
    pay(paris, datetime(2026, 5, 31, 21, 59, 59, 999999, tzinfo=UTC), 5)
    pay(paris, datetime(2026, 5, 31, 22, 0, 0, tzinfo=UTC), 7)
    with tenant_scope(paris.id):
        for i, when in enumerate((datetime(2026, 10, 24, 21, 59, tzinfo=UTC), datetime(2026, 10, 24, 22, 0, tzinfo=UTC))):
            db.session.add(Ticket(queue_id=uuid.UUID(paris.queue_id), service_day=when.date(), number=100 + i,
                                  code=f"V-{100 + i}", kind="VIP", status="SERVED", tracking_token=uuid.uuid4().hex,
                                  created_at=when, call_count=0))
        db.session.commit()
    pay(tenants["Pacific/Honolulu"], datetime(2026, 2, 1, 9, 30, tzinfo=UTC), 1000)   # 01-31 23:30 local
    pay(tenants["Pacific/Honolulu"], datetime(2026, 2, 1, 10, 30, tzinfo=UTC), 30)    # 02-01 00:30 local
    pay(tenants["Pacific/Kiritimati"], datetime(2026, 1, 31, 9, 30, tzinfo=UTC), 1000)
    pay(tenants["Pacific/Kiritimati"], datetime(2026, 1, 31, 10, 30, tzinfo=UTC), 30)

client = app.test_client()
def get(t, path):
    token = client.post("/auth/login", json={"email": t.manager_email, "password": factories.PASSWORD}).get_json()
    r = client.get(path, headers={"Authorization": "Bearer " + token["access_token"]})
    return r.status_code, r.get_json()

out["spring"] = get(paris, "/stats/revenue/daily?from=2026-03-28&to=2026-03-30")
out["fall"] = get(paris, "/stats/revenue/daily?from=2026-10-24&to=2026-10-26")
out["paris_months"] = get(paris, "/stats/revenue/monthly?from=2026-01&to=2026-12")
out["vip"] = get(paris, "/stats/vip/count?from=2026-10-24&to=2026-10-25")
out["bad"] = get(paris, "/stats/revenue/daily?from=2026-03-30&to=2026-03-28")
for zone in ("Pacific/Honolulu", "Pacific/Kiritimati"):
    out[zone] = get(tenants[zone], "/stats/revenue/monthly?from=2026-01&to=2026-02")
print(json.dumps(out))
'''


def test_sqlite_app_gives_the_same_local_calendar_answers(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env["PYTHONPATH"] = ROOT
    run = subprocess.run([sys.executable, "-c", SCRIPT, f"sqlite:///{tmp_path / 'stats.sqlite3'}",
                          Fernet.generate_key().decode()], cwd=ROOT, env=env, capture_output=True, text=True,
                         timeout=120)
    assert run.returncode == 0, run.stderr[-3000:]
    out = json.loads(run.stdout.strip().splitlines()[-1])

    def days(result):
        status, body = result
        assert status == 200, body
        return [(d["date"], d["revenue"]) for d in body["days"]]

    assert days(out["spring"]) == [("2026-03-28", 3), ("2026-03-29", 23), ("2026-03-30", 4)]
    assert days(out["fall"]) == [("2026-10-24", 2), ("2026-10-25", 25), ("2026-10-26", 3)]
    status, months = out["paris_months"]
    assert [m["revenue"] for m in months["months"]] == [0, 0, 30, 0, 5, 7, 0, 0, 0, 30, 0, 0]
    assert out["vip"] == [200, {"total": 2, "days": [{"date": "2026-10-24", "count": 1},
                                                     {"date": "2026-10-25", "count": 1}]}]
    assert out["bad"][0] == 400 and out["bad"][1]["error"]["code"] == "validation_error"
    for zone in ("Pacific/Honolulu", "Pacific/Kiritimati"):
        status, body = out[zone]
        assert [(m["month"], m["revenue"]) for m in body["months"]] == [("2026-01", 1000), ("2026-02", 30)], zone


def test_offset_periods_match_zoneinfo_for_every_instant():
    """The SQLite bucketing relies on these periods: check them against zoneinfo, DST oddities included."""
    import bisect
    import random
    from datetime import date, timedelta
    from zoneinfo import ZoneInfo

    from kiosk.stats.services import _offset_periods, _utc_midnight

    rng = random.Random(8)
    zones = ["Europe/Paris", "America/New_York", "Australia/Sydney", "America/Santiago", "Australia/Lord_Howe",
             "Asia/Kathmandu", "Pacific/Honolulu", "Pacific/Kiritimati", "Africa/Casablanca", "UTC"]
    for name in zones:
        zone = ZoneInfo(name)
        start, end = _utc_midnight(date(2026, 1, 1), zone), _utc_midnight(date(2027, 1, 1), zone)
        periods = _offset_periods(zone, start, end)
        starts = [p[0] for p in periods]
        assert starts == sorted(starts) and starts[0] == start
        span = (end - start).total_seconds()
        instants = [start + timedelta(seconds=rng.uniform(0, span)) for _ in range(3000)]
        for first, _ in periods[1:]:  # and both sides of every change
            instants += [first - timedelta(seconds=1), first, first + timedelta(seconds=1)]
        for moment in instants:
            offset = periods[bisect.bisect_right(starts, moment) - 1][1]
            expected = moment.astimezone(zone).utcoffset().total_seconds()
            assert offset == expected, (name, moment, offset, expected)
            local = (moment.replace(tzinfo=None) + timedelta(seconds=offset)).date()
            assert local == moment.astimezone(zone).date()
