"""The dashboard in Debian's chromium against a live server: sign in through the
form, change the range, watch the total and the charts follow, download the CSV,
manage kiosks. Any console error or CSP violation fails the test. Screenshots go
to test-artifacts/ (not committed).
"""
from __future__ import annotations

import csv
import io
import re
from datetime import date, datetime, time, timedelta, timezone

import pytest
from playwright.sync_api import expect

from kiosk.dashboard.services import format_money, local_today
from kiosk.devices.models import Device
from kiosk.extensions import db
from kiosk.tenancy import tenant_scope
from tests.factories import PASSWORD
from tests.queues.browser import ARTIFACTS, PROBE, wait_until
from tests.stats.conftest import add_payment, add_vip_ticket

pytestmark = [pytest.mark.slow, pytest.mark.browser]


@pytest.fixture
def open_page(browser, queues_live_server):
    """``open_page()`` -> a fresh page; console errors and CSP violations are collected and fail the test."""
    def make(**context_options):
        # Reduced motion: the charts draw at once, so screenshots show the final figures.
        options = {"viewport": {"width": 1280, "height": 900}, "accept_downloads": True,
                   "reduced_motion": "reduce", **context_options}
        context = browser.new_context(**options)
        context.add_init_script(PROBE)
        contexts.append(context)
        page = context.new_page()
        page.on("console", lambda m: m.type == "error" and console.append((m.text, m.location.get("url"))))
        page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
        page.on("response", lambda r: r.status >= 400 and _record_failure(r))
        return page

    def _record_failure(response) -> None:
        # A page answered 401/400 on purpose (a wrong password) is the test's business;
        # any script, style, image or API call failing is a defect.
        if response.request.resource_type == "document":
            documents.add(response.url)
        else:
            problems.append(f"{response.status} {response.url}")

    contexts, problems, console, documents = [], [], [], set()
    ARTIFACTS.mkdir(exist_ok=True)
    yield make
    problems += [f"console: {text} ({url})" for text, url in console
                 if not (text.startswith("Failed to load resource") and url in documents)]
    violations = []
    for context in contexts:
        for page in context.pages:
            violations += page.evaluate("window.__csp || []")
        context.close()
    assert not problems and not violations, (problems, violations)


def _sign_in(page, base: str, email: str, start: str = "/dashboard") -> None:
    page.goto(base + start)
    assert page.url.startswith(base + "/login?next=")
    page.locator('input[name="email"]').fill(email)
    page.locator('input[name="password"]').fill(PASSWORD)
    page.locator('form[data-login-form] button[type="submit"]').click()
    page.wait_for_url(base + start + "*")


def _text(page, selector: str) -> str:
    return page.locator(selector).inner_text().replace("\u202f", " ").replace("\xa0", " ")


def _money(minor: int) -> str:
    return format_money(minor, "XOF", "fr").replace("\u202f", " ").replace("\xa0", " ")


def _wait_loaded(page, date_from: date, date_to: date) -> None:
    wait_until(page, f"document.body.dataset.state === 'ready' && "
                     f"document.body.dataset.loadedRange === '{date_from}..{date_to}'", timeout=8)


def _chart_sum(page, which: str) -> int:
    return page.evaluate(f"""Chart.getChart(document.querySelector('[data-chart="{which}"]'))
        .data.datasets[0].data.reduce(function (a, b) {{ return a + b; }}, 0)""")


@pytest.fixture
def sales(app, world):
    """A's confirmed sales around today (local days), with noise that must not count."""
    with app.app_context(), tenant_scope(world.a.id):
        today = local_today("Africa/Abidjan")
    noon = time(12, 0, tzinfo=timezone.utc)
    seeded = {
        today: [500, 500],
        today - timedelta(days=3): [1500],
        today - timedelta(days=40): [2500],
    }
    if today.day > 5:
        seeded[today.replace(day=1)] = [700]
    with app.app_context():
        for day, amounts in seeded.items():
            for amount in amounts:
                add_payment(world.a.id, datetime.combine(day, noon), amount)
                add_vip_ticket(world.a.id, world.a.queue_id, datetime.combine(day, noon))
        add_payment(world.a.id, datetime.combine(today, noon), 9000, status="FAILED")
        add_payment(world.b.id, datetime.combine(today, noon), 7000)

    def total(first: date, last: date) -> int:
        return sum(sum(a) for d, a in seeded.items() if first <= d <= last)

    return today, total


def test_a_manager_filters_the_revenue_and_downloads_the_csv(open_page, queues_live_server, world, sales):
    today, total = sales
    base = queues_live_server
    page = open_page()
    _sign_in(page, base, world.a.manager_email)
    page.screenshot(path=str(ARTIFACTS / "dashboard-overview-month.png"), full_page=True)

    # Default: this month so far.
    month_start = today.replace(day=1)
    _wait_loaded(page, month_start, today)
    expect(page.locator('[data-preset="month"]')).to_have_attribute("aria-pressed", "true")
    assert _text(page, "[data-total]") == _money(total(month_start, today))
    assert _chart_sum(page, "daily") == total(month_start, today)
    assert _chart_sum(page, "monthly") == total(month_start - timedelta(days=330), today)

    # Today, then the last 7 days: the total and the chart follow without a reload.
    page.evaluate("window.__sameDocument = true")
    page.locator('[data-preset="today"]').click()
    _wait_loaded(page, today, today)
    assert _text(page, "[data-total]") == _money(1000)
    assert _text(page, "[data-transactions]") == "2" and _text(page, "[data-vip-total]") == "2"
    assert _chart_sum(page, "daily") == 1000
    page.locator('[data-preset="7d"]').click()
    _wait_loaded(page, today - timedelta(days=6), today)
    assert _text(page, "[data-total]") == _money(total(today - timedelta(days=6), today))
    assert page.evaluate("window.__sameDocument") is True  # no reload happened
    assert "preset=7d" in page.url
    page.screenshot(path=str(ARTIFACTS / "dashboard-overview-7d.png"), full_page=True)

    # A custom period with no sales: the empty state, and zero.
    page.locator('[data-preset="custom"]').click()
    page.locator("[data-from]").fill("2021-02-01")
    page.locator("[data-to]").fill("2021-02-28")
    page.locator("[data-custom] button[type=submit]").click()
    _wait_loaded(page, date(2021, 2, 1), date(2021, 2, 28))
    expect(page.locator("[data-empty]")).to_be_visible()
    expect(page.locator('[data-chart="daily"]')).to_be_hidden()
    assert _text(page, "[data-total]") == _money(0)
    page.screenshot(path=str(ARTIFACTS / "dashboard-overview-empty.png"), full_page=True)

    # A reversed custom period is refused on the page, before any request.
    page.locator("[data-from]").fill("2021-03-10")
    page.locator("[data-to]").fill("2021-03-01")
    page.locator("[data-custom] button[type=submit]").click()
    expect(page.locator("[data-notice]")).to_be_visible()

    # The custom period covering the sales, then its CSV.
    first = today - timedelta(days=45)
    page.locator("[data-from]").fill(first.isoformat())
    page.locator("[data-to]").fill(today.isoformat())
    page.locator("[data-custom] button[type=submit]").click()
    _wait_loaded(page, first, today)
    expect(page.locator("[data-notice]")).to_be_hidden()
    assert _text(page, "[data-total]") == _money(total(first, today))
    with page.expect_download() as download_info:
        page.locator("[data-export]").click()
    download = download_info.value
    assert download.suggested_filename.endswith(f"-{first}-{today}.csv")
    with open(download.path(), encoding="utf-8-sig") as handle:
        rows = list(csv.DictReader(io.StringIO(handle.read())))
    assert len(rows) == (today - first).days + 1
    assert sum(int(r["revenue_minor"]) for r in rows) == total(first, today)
    by_day = {r["date"]: r for r in rows}
    assert by_day[today.isoformat()]["revenue_minor"] == "1000"
    assert by_day[today.isoformat()]["transactions"] == "2" and by_day[today.isoformat()]["vip_count"] == "2"
    assert by_day[today.isoformat()]["revenue"].replace("\u202f", " ").replace("\xa0", " ") == _money(1000)
    page.screenshot(path=str(ARTIFACTS / "dashboard-overview-custom.png"), full_page=True)


def test_the_overview_in_english_formats_money_like_babel(open_page, queues_live_server, world, sales):
    today, total = sales
    page = open_page()
    _sign_in(page, queues_live_server, world.a.manager_email)
    page.locator('.dash-lang a[lang="en"]').click()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    _wait_loaded(page, today.replace(day=1), today)
    expected = format_money(total(today.replace(day=1), today), "XOF", "en")
    assert page.locator("[data-total]").inner_text() == expected
    # On a phone: nothing wider than the screen.
    page.set_viewport_size({"width": 390, "height": 844})
    page.wait_for_timeout(100)  # one layout pass for the charts' resize observer
    page.screenshot(path=str(ARTIFACTS / "dashboard-overview-phone.png"), full_page=True)
    assert page.evaluate("document.documentElement.scrollWidth") <= 390


def test_an_agent_signing_in_lands_on_the_counter_screen(open_page, queues_live_server, world):
    page = open_page()
    base = queues_live_server
    page.goto(base + "/dashboard")
    page.locator('input[name="email"]').fill(world.a.agent_email)
    page.locator('input[name="password"]').fill(PASSWORD)
    page.locator('form[data-login-form] button[type="submit"]').click()
    page.wait_for_url(base + "/dashboard/counter")
    expect(page.locator('.dash-nav a[href="/dashboard/devices"]')).to_have_count(0)


def test_a_wrong_password_shows_one_message_and_sign_out_works(open_page, queues_live_server, world):
    base = queues_live_server
    page = open_page()
    page.goto(base + "/login")
    page.locator('input[name="email"]').fill(world.a.manager_email)
    page.locator('input[name="password"]').fill("wrong password")
    page.locator('form[data-login-form] button[type="submit"]').click()
    expect(page.locator("[data-login-error]")).to_be_visible()
    page.screenshot(path=str(ARTIFACTS / "dashboard-login-error.png"))
    page.locator('input[name="password"]').fill(PASSWORD)
    page.locator('form[data-login-form] button[type="submit"]').click()
    page.wait_for_url(base + "/dashboard*")
    wait_until(page, "document.body.dataset.state === 'ready'", timeout=8)  # no request still in flight
    page.locator(".dash-logout input[type=submit]").click()
    page.wait_for_url(base + "/login")
    page.goto(base + "/dashboard")
    assert page.url.startswith(base + "/login?next=")


def test_a_manager_rotates_a_secret_disables_a_kiosk_and_makes_a_claim_code(open_page, queues_live_server, world,
                                                                            app):
    base = queues_live_server
    page = open_page()
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=base)
    page.on("dialog", lambda dialog: dialog.accept())
    _sign_in(page, base, world.a.manager_email, start="/dashboard/devices")
    row = page.locator(f'[data-device="{world.a.device_id}"]')
    expect(row).to_contain_text("Entrance kiosk")
    expect(row.locator("[data-status]")).to_have_attribute("data-status", "ACTIVE")
    expect(row).to_contain_text("General")

    row.locator("[data-rotate]").click()
    secret = page.locator("[data-reveal-value]")
    expect(secret).to_have_text(re.compile(r"^\S{32,}$"))
    new_secret = secret.inner_text()
    assert new_secret != world.a.device_secret
    expect(page.locator("[data-reveal-warning]")).not_to_be_empty()
    page.locator("[data-copy]").click()
    assert page.evaluate("navigator.clipboard.readText()") == new_secret
    page.screenshot(path=str(ARTIFACTS / "dashboard-devices-secret.png"), full_page=True)
    page.locator("[data-reveal-close]").click()
    expect(page.locator("[data-reveal]")).to_be_hidden()
    assert new_secret not in page.content()  # shown once, then gone from the page

    row.locator("button.btn-danger").click()
    expect(row.locator("[data-status]")).to_have_attribute("data-status", "DISABLED")
    with app.app_context(), tenant_scope(world.a.id):
        assert db.session.query(Device).filter_by(device_id=world.a.device_id).one().status == "DISABLED"

    page.locator("[data-claim-label]").fill("Second kiosk")
    page.locator("[data-claim-queue]").select_option(world.a.other_queue_id)
    page.locator("[data-claim-form] button[type=submit]").click()
    expect(page.locator("[data-reveal-value]")).not_to_be_empty()
    expect(page.locator("[data-reveal-hint]")).to_be_visible()
    page.screenshot(path=str(ARTIFACTS / "dashboard-devices-claim.png"), full_page=True)


def test_every_staff_page_shares_the_layout_without_console_errors(open_page, queues_live_server, world):
    base = queues_live_server
    page = open_page()
    _sign_in(page, base, world.a.manager_email, start="/dashboard/queues")
    expect(page.locator('tr[data-queue="%s"] [data-waiting]' % world.a.queue_id)).to_have_text("1")
    page.screenshot(path=str(ARTIFACTS / "dashboard-queues.png"), full_page=True)
    for path in ("/dashboard/displays", "/dashboard/counter", "/dashboard/theme", "/dashboard"):
        page.goto(base + path)
        expect(page.locator(f'.dash-nav a[href="{path}"]')).to_have_attribute("aria-current", "page")
        expect(page.locator(".dash-logout input[type=submit]")).to_be_visible()
    page.goto(base + "/dashboard/displays")
    page.screenshot(path=str(ARTIFACTS / "dashboard-displays.png"), full_page=True)
    page.goto(base + "/dashboard/export.csv?from=2026-03-05&to=2026-03-01")
    expect(page.locator("[data-error-message]")).to_be_visible()
    page.screenshot(path=str(ARTIFACTS / "dashboard-bad-range.png"))
