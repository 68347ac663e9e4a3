"""Revenue per kiosk: local days, CONFIRMED only, every kiosk listed, validation, roles, tenancy."""
from __future__ import annotations

import sqlalchemy as sa

from kiosk.devices.services import register_device
from kiosk.extensions import db
from kiosk.payments.models import Transaction
from kiosk.tenancy import tenant_scope
from tests.helpers import ApiClient
from tests.stats.conftest import add_payment, utc

PATH = "/stats/revenue/devices?from=2026-04-01&to=2026-04-02"


def _payment(app, tenant_id, device_id, when, amount, status="CONFIRMED"):
    """A payment at a chosen instant, from a chosen kiosk."""
    with app.app_context():
        tid = add_payment(tenant_id, when, amount, status=status)
        with tenant_scope(tenant_id):
            db.session.execute(sa.update(Transaction).where(Transaction.transaction_id == tid)
                               .values(device_id=device_id).execution_options(synchronize_session=False))
            db.session.commit()
    return tid


def test_revenue_per_kiosk_counts_confirmed_payments_on_local_days(app, tenant_in, manager_api):
    t = tenant_in("America/New_York", "XOF")
    with app.app_context(), tenant_scope(t.id):
        second, _ = register_device("Back door kiosk", t.queue_id)
        second_id = second.device_id
    _payment(app, t.id, t.device_id, utc(2026, 4, 1, 12), 500)
    _payment(app, t.id, t.device_id, utc(2026, 4, 3, 3, 30), 500)   # 23:30 on April 2 in New York: in range
    _payment(app, t.id, t.device_id, utc(2026, 4, 3, 4, 30), 500)   # 00:30 on April 3: out of range
    _payment(app, t.id, second_id, utc(2026, 4, 2, 15), 1000)
    _payment(app, t.id, second_id, utc(2026, 4, 2, 16), 700, status="FAILED")
    _payment(app, t.id, second_id, utc(2026, 4, 2, 17), 700, status="PENDING")
    body = manager_api(t).get(PATH).get_json()
    assert body["currency"] == "XOF" and body["timezone"] == "America/New_York"
    assert (body["from"], body["to"], body["total"], body["transactions"]) == ("2026-04-01", "2026-04-02", 2000, 3)
    by_id = {row["device_id"]: row for row in body["devices"]}
    assert by_id[t.device_id] == {"device_id": t.device_id, "label": "Entrance kiosk", "revenue": 1000,
                                  "transactions": 2}
    assert by_id[second_id]["revenue"] == 1000 and by_id[second_id]["transactions"] == 1
    daily = manager_api(t).get("/stats/revenue/daily?from=2026-04-01&to=2026-04-02").get_json()
    assert daily["total"] == body["total"]


def test_every_kiosk_is_listed_with_zeros_even_a_new_one_after_a_cached_answer(app, tenant_in, manager_api):
    t = tenant_in()
    client = manager_api(t)
    first = client.get(PATH).get_json()
    assert [(row["revenue"], row["transactions"]) for row in first["devices"]] == [(0, 0)]
    with app.app_context(), tenant_scope(t.id):
        register_device("New kiosk", t.queue_id)
    labels = sorted(row["label"] for row in client.get(PATH).get_json()["devices"])
    assert labels == ["Entrance kiosk", "New kiosk"]


def test_another_establishments_kiosks_and_payments_never_show(app, tenant_in, manager_api):
    a, b = tenant_in(), tenant_in()
    _payment(app, b.id, b.device_id, utc(2026, 4, 1, 12), 500)
    body = manager_api(a).get(PATH).get_json()
    assert body["total"] == 0
    assert [row["device_id"] for row in body["devices"]] == [a.device_id]


def test_bad_ranges_are_400_and_agents_403(app, tenant_in, manager_api):
    t = tenant_in()
    client = manager_api(t)
    for query in ("from=2026-04-02&to=2026-04-01", "from=2025-01-01&to=2026-04-01", "from=2026-04-01",
                  "from=2026-13-01&to=2026-13-02", "from=x&to=y"):
        response = client.get("/stats/revenue/devices?" + query)
        assert response.status_code == 400, query
        assert response.get_json()["error"]["code"] == "validation_error"
    agent = ApiClient(app.test_client())
    agent.login(t.agent_email)
    assert agent.get(PATH).status_code == 403
