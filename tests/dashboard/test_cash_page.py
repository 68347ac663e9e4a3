"""The kiosks page's cash part (server side): the page, the collections CSV, roles and tenancy."""
from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta, timezone

import sqlalchemy as sa

from kiosk.devices.models import Device
from kiosk.extensions import db
from kiosk.payments import cash
from kiosk.tenancy import tenant_scope
from tests.payments.test_cash import add_payment


def _csv(response) -> list[dict]:
    text = response.get_data(as_text=True)
    assert text.startswith("\ufeff")
    return list(csv.DictReader(io.StringIO(text[1:])))


def _collect(app, tenant_id, device_id, counted, now=None):
    with app.app_context(), tenant_scope(tenant_id):
        return str(cash.collect(device_id, counted, now=now).id)


def _today_range() -> str:
    today = datetime.now(timezone.utc).date()  # Africa/Abidjan is UTC
    return f"from={today - timedelta(days=1)}&to={today}"


def test_the_kiosks_page_carries_the_cash_sections_in_french_and_english(manager):
    page = manager.get("/dashboard/devices").get_data(as_text=True)
    for hook in ("data-cash", "data-collect-form", "data-history-rows", "data-threshold-form", "data-export-form",
                 "data-revenue-rows", "dashboard/cash.js"):
        assert hook in page, hook
    assert "Relever la caisse" in page or "Enregistrer le relevé" in page
    manager.get("/lang/en?next=/dashboard/devices")
    english = manager.get("/dashboard/devices").get_data(as_text=True)
    assert "Record the collection" in english and "Revenue per kiosk" in english


def test_agents_cannot_open_the_page_or_the_export(agent):
    assert agent.get("/dashboard/devices").status_code == 403
    assert agent.get("/dashboard/devices/collections.csv?" + _today_range()).status_code == 403


def test_the_export_lists_the_collections_of_the_range_with_formatted_money(app, manager, world):
    device = world.a.device_id
    with app.app_context():
        add_payment(world.a.id, device, 1500, status="CONFIRMED")
        add_payment(world.a.id, device, 300, status="FAILED")
    _collect(app, world.a.id, device, 1700)
    old = datetime.now(timezone.utc) - timedelta(days=30)
    with app.app_context(), tenant_scope(world.a.id):
        # An old collection, out of the range (moved back in time as the table owner would).
        old_id = cash.collect(device, 0).id
        db.session.execute(sa.text("UPDATE cash_collections SET collected_at = :t WHERE id = :id"),
                           {"t": old, "id": old_id})
        db.session.commit()
    response = manager.get("/dashboard/devices/collections.csv?" + _today_range())
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/csv")
    assert "attachment" in response.headers["Content-Disposition"]
    assert response.headers["Cache-Control"] == "no-store"
    rows = _csv(response)
    assert [r["number"] for r in rows] == ["2", "1"]  # newest first; 1 is the factory's
    latest = rows[0]
    assert latest["kiosk"] == "Entrance kiosk" and latest["device_id"] == device
    assert (latest["expected_minor"], latest["counted_minor"], latest["difference_minor"]) == ("1800", "1700", "-100")
    assert latest["expected"].replace("\u202f", " ").replace("\xa0", " ") == "1 800 F CFA"
    assert latest["payments"] == "2" and latest["beyond_threshold"] == "true"
    assert latest["collected_by"] == ""  # recorded by a service call, not a signed-in manager
    assert latest["collected_at"].endswith("+00:00")


def test_the_export_filters_one_kiosk_and_refuses_another_establishments(app, manager, world):
    with app.app_context(), tenant_scope(world.a.id):
        from kiosk.devices.services import register_device

        second, _ = register_device("Back door", world.a.queue_id)
        second_id = second.device_id
    _collect(app, world.a.id, second_id, 0)
    all_rows = _csv(manager.get("/dashboard/devices/collections.csv?" + _today_range()))
    assert {r["device_id"] for r in all_rows} == {world.a.device_id, second_id}
    one = _csv(manager.get(f"/dashboard/devices/collections.csv?{_today_range()}&device={second_id}"))
    assert [r["device_id"] for r in one] == [second_id]
    assert manager.get(f"/dashboard/devices/collections.csv?{_today_range()}&device=").status_code == 200
    theirs = manager.get(f"/dashboard/devices/collections.csv?{_today_range()}&device={world.b.device_id}")
    assert theirs.status_code == 404
    assert world.b.device_id not in manager.get("/dashboard/devices/collections.csv?" + _today_range()).get_data(True)


def test_the_export_refuses_bad_ranges(manager):
    for query in ("from=2026-04-02&to=2026-04-01", "from=2024-01-01&to=2026-01-01", "from=x&to=y", "",
                  "from=2026-04-01&to=2026-04-02&color=red"):
        response = manager.get("/dashboard/devices/collections.csv?" + query)
        assert response.status_code == 400, query
        assert "text/html" in response.headers["Content-Type"]


def test_a_kiosk_label_cannot_become_a_spreadsheet_formula(app, manager, world):
    with app.app_context(), tenant_scope(world.a.id):
        db.session.execute(sa.update(Device).where(Device.device_id == world.a.device_id)
                           .values(label="=HYPERLINK(\"http://evil\")"))
        db.session.commit()
    _collect(app, world.a.id, world.a.device_id, 0)
    rows = _csv(manager.get("/dashboard/devices/collections.csv?" + _today_range()))
    assert rows[0]["kiosk"].startswith("'=")
