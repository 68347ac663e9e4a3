"""The kiosks page's cash part in Debian's chromium against a live server: set the
threshold, collect a box, see the difference (live, then recorded and highlighted),
export the history as CSV, read the revenue per kiosk. Console errors, failed
requests and CSP violations fail the test (the ``open_page`` fixture).
"""
from __future__ import annotations

import csv
import io

import pytest
from playwright.sync_api import expect

from kiosk.dashboard.services import local_today
from tests.dashboard.test_browser import _money, _sign_in, _text, open_page  # noqa: F401 - fixture reused
from tests.payments.test_cash import add_payment
from tests.queues.browser import ARTIFACTS

pytestmark = [pytest.mark.slow, pytest.mark.browser]


def test_a_manager_collects_a_box_sees_the_difference_and_exports_the_history(open_page, queues_live_server,
                                                                              world, app):
    device = world.a.device_id
    with app.app_context():
        add_payment(world.a.id, device, 1500, status="CONFIRMED")
        add_payment(world.a.id, device, 300, status="FAILED")     # refused, but its coins are in the box
        add_payment(world.a.id, device, 500, status="PENDING")    # still being processed: in the box too
    page = open_page()
    _sign_in(page, queues_live_server, world.a.manager_email, start="/dashboard/devices")
    row = page.locator(f'tr[data-device="{device}"]')
    expect(row.locator("[data-cash-expected]")).to_have_attribute("data-cash-expected", "2300")
    assert _text(page, f'tr[data-device="{device}"] [data-cash-expected]') == _money(2300)

    # The manager sets the threshold: differences beyond 50 F CFA stand out.
    page.locator("[data-threshold]").fill("50")
    page.locator("[data-threshold-form] button[type=submit]").click()
    expect(page.locator("[data-threshold-saved]")).not_to_be_empty()

    # Collect: the expected amount, then the difference while typing.
    row.locator("[data-collect-open]").click()
    expect(page.locator("[data-collect]")).to_be_visible()
    expect(page.locator("[data-collect-expected]")).to_have_attribute("data-value", "2300")
    expect(page.locator("[data-collect-detail]")).to_contain_text("1 payés, 1 refusés, 1 en cours")
    page.locator("[data-collect-counted]").fill("2300")
    expect(page.locator("[data-collect-difference]")).to_have_class("difference exact")
    page.locator("[data-collect-counted]").fill("2200")
    difference = page.locator("[data-collect-difference]")
    expect(difference).to_have_class("difference short")
    assert _text(page, "[data-collect-difference]").startswith("Manque : " + _money(100))
    expect(difference).to_have_attribute("data-beyond", "")
    page.screenshot(path=str(ARTIFACTS / "dashboard-cash-collect.png"), full_page=True)

    page.locator("[data-collect-submit]").click()
    result = page.locator("[data-collect-result]")
    expect(result).to_have_attribute("data-difference", "-100")
    expect(result).to_contain_text("Relevé n° 2 enregistré.")
    # The box starts again from zero; the history shows the new line on top, highlighted.
    expect(row.locator("[data-cash-expected]")).to_have_attribute("data-cash-expected", "0")
    expect(page.locator("[data-collect-expected]")).to_have_attribute("data-value", "0")
    first = page.locator("[data-history-rows] tr").first
    expect(first.locator("[data-difference]")).to_have_attribute("data-difference", "-100")
    expect(first).to_have_attribute("data-beyond", "")
    expect(page.locator("[data-history-rows] tr")).to_have_count(2)  # and the factory's exact one, not highlighted
    expect(page.locator("[data-history-rows] tr").nth(1)).not_to_have_attribute("data-beyond", "")

    # Revenue per kiosk (this month): confirmed payments only.
    revenue = page.locator(f'[data-revenue-device="{device}"]')
    expect(revenue).to_contain_text(_money(1500).replace(" ", "\u202f"))
    page.screenshot(path=str(ARTIFACTS / "dashboard-cash-recorded.png"), full_page=True)

    # Export: this month's collections as CSV.
    with page.expect_download() as download_info:
        page.locator("[data-export]").click()
    download = download_info.value
    today = local_today("Africa/Abidjan")
    assert download.suggested_filename.endswith(f"-all-{today.replace(day=1)}-{today}.csv")
    with open(download.path(), encoding="utf-8-sig") as handle:
        rows = list(csv.DictReader(io.StringIO(handle.read())))
    assert [r["number"] for r in rows] == ["2", "1"]
    latest = rows[0]
    assert (latest["expected_minor"], latest["counted_minor"], latest["difference_minor"]) == ("2300", "2200", "-100")
    assert latest["collected_by"] == world.a.manager_email and latest["beyond_threshold"] == "true"
    assert latest["payments"] == "3" and latest["kiosk"] == "Entrance kiosk"


def test_the_cash_part_reads_in_english(open_page, queues_live_server, world, app):
    with app.app_context():
        add_payment(world.a.id, world.a.device_id, 500, status="CONFIRMED")
    page = open_page()
    _sign_in(page, queues_live_server, world.a.manager_email, start="/dashboard/devices")
    page.locator('.dash-lang a[lang="en"]').click()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    row = page.locator(f'tr[data-device="{world.a.device_id}"]')
    expect(row.locator("[data-cash-expected]")).to_have_text("F CFA500")
    row.locator("[data-collect-open]").click()
    page.locator("[data-collect-counted]").fill("600")
    expect(page.locator("[data-collect-difference]")).to_contain_text("Surplus: F CFA100")
    expect(page.locator("[data-collect-submit]")).to_have_text("Record the collection")
    expect(page.locator("[data-collect-title]")).to_have_text("Cash box: Entrance kiosk")
    # On a phone: wide tables scroll inside their card; the page itself never scrolls sideways.
    page.set_viewport_size({"width": 390, "height": 844})
    page.wait_for_timeout(100)
    page.screenshot(path=str(ARTIFACTS / "dashboard-cash-phone.png"), full_page=True)
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
