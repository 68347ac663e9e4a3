"""The counter screen and the theme settings page, in Debian's chromium.

Signed in the way the dashboard is: the JWT in the HttpOnly cookie plus the
CSRF cookie that the pages echo in X-CSRF-TOKEN. Any CSP violation fails.
"""
from __future__ import annotations

import time

import pytest
from flask_jwt_extended import get_csrf_token
from playwright.sync_api import expect

from tests.factories import PASSWORD
from tests.queues.browser import ARTIFACTS, PROBE, css, wait_until

pytestmark = [pytest.mark.slow, pytest.mark.browser]


@pytest.fixture
def signed_in(browser, public_base, client, app):
    """``signed_in(email)`` -> a page whose context carries that user's dashboard cookies."""
    contexts, problems = [], []

    def open_as(email: str):
        token = client.post("/auth/login", json={"email": email, "password": PASSWORD}).get_json()["access_token"]
        with app.app_context():
            csrf = get_csrf_token(token)
        context = browser.new_context(viewport={"width": 1200, "height": 860})
        context.add_init_script(PROBE)
        context.add_cookies([
            {"name": "access_token_cookie", "value": token, "url": public_base, "httpOnly": True},
            {"name": "csrf_access_token", "value": csrf, "url": public_base},
        ])
        contexts.append(context)
        page = context.new_page()
        page.on("console", lambda m: "Content Security Policy" in m.text and problems.append(m.text))
        page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
        return page

    ARTIFACTS.mkdir(exist_ok=True)
    yield open_as
    violations = []
    for context in contexts:
        for page in context.pages:
            try:
                violations += page.evaluate("window.__csp || []")
            except Exception:  # noqa: BLE001
                pass
        context.close()
    assert not problems and not violations, (problems, violations)


def test_an_agent_runs_the_queue_from_the_counter_screen(signed_in, public_base, tickets, world, browser):
    _, standard_token = tickets.issue()
    tickets.issue("VIP")                          # VA-001
    page = signed_in(world.a.agent_email)
    page.goto(f"{public_base}/dashboard/counter")
    page.locator("[data-counter]").fill("4")
    page.locator("[data-counter]").press("Tab")   # "change": the screen starts
    rows = page.locator("[data-waiting] tr")
    expect(rows).to_have_count(3)
    expect(rows.nth(0)).to_have_class("vip")      # the calling order: VIP first
    expect(rows.nth(0).locator("td.code")).to_contain_text("VA-001")
    page.screenshot(path=str(ARTIFACTS / "counter-waiting.png"))

    # A customer follows A-002 on a phone while the agent works.
    phone = browser.new_page(viewport={"width": 390, "height": 780})
    phone.goto(f"{public_base}/t/{standard_token}")
    expect(phone.locator('[data-field="position"]')).to_have_text("3")

    page.locator('[data-action="call-next"]').click()
    expect(page.locator("[data-current-code]")).to_have_text("VA-001")
    expect(page.locator("[data-current-vip]")).to_be_visible()
    expect(rows).to_have_count(2)
    page.screenshot(path=str(ARTIFACTS / "counter-vip-called.png"))
    page.keyboard.press("s")                      # served
    expect(page.locator("[data-current-code]")).to_have_text("—")
    page.keyboard.press("n")                      # next: A-001
    expect(page.locator("[data-current-code]")).to_have_text("A-001")
    page.locator('[data-action="no-show"]').click()
    expect(page.locator("[data-current-code]")).to_have_text("—")
    expect(phone.locator('[data-field="position"]')).to_have_text("1", timeout=2000)
    page.locator('[data-action="call-next"]').click()
    expect(page.locator("[data-current-code]")).to_have_text("A-002")
    expect(phone.locator('[data-when="CALLED"]')).to_be_visible(timeout=2000)
    expect(phone.locator('[data-field="counter"]')).to_have_text("4")
    phone.close()

    # Nobody left: a clear message, and new arrivals appear without a reload.
    page.keyboard.press("s")
    expect(page.locator("[data-current-code]")).to_have_text("—")
    page.keyboard.press("n")
    expect(page.locator("[data-notice]")).to_be_visible()
    started = time.monotonic()
    tickets.issue()
    expect(rows).to_have_count(1, timeout=4000)
    assert time.monotonic() - started < 4
    page.screenshot(path=str(ARTIFACTS / "counter-new-arrival.png"))


def test_the_counter_screen_remembers_queue_and_counter(signed_in, public_base, world):
    page = signed_in(world.a.agent_email)
    page.goto(f"{public_base}/dashboard/counter")
    page.locator("[data-queue]").select_option(world.a.other_queue_id)
    page.locator("[data-counter]").fill("B2")
    page.locator("[data-counter]").press("Tab")
    page.reload()
    expect(page.locator("[data-counter]")).to_have_value("B2")
    expect(page.locator("[data-queue]")).to_have_value(world.a.other_queue_id)


def test_pages_need_a_sign_in_and_the_theme_page_a_manager(client, signed_in, public_base, world):
    response = client.get("/dashboard/counter")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login?next=")
    page = signed_in(world.a.agent_email)
    assert page.goto(f"{public_base}/dashboard/theme").status == 403


def test_the_theme_page_previews_live_checks_contrast_and_saves(signed_in, public_base, world, client):
    page = signed_in(world.a.manager_email)
    page.goto(f"{public_base}/dashboard/theme")
    primary = page.locator('[data-hex="primary"]')
    expect(primary).to_have_value("#0b3d91")
    expect(page.locator('[data-ratio="primary"]')).to_have_class("ratio ok")

    # Unreadable: flagged as you type, previewed anyway, refused by the server.
    primary.fill("#ffdd00")
    expect(page.locator('[data-ratio="primary"]')).to_have_class("ratio bad")
    assert css(page, ".pv-brand", "background-color") == "rgb(255, 221, 0)"
    page.locator("[data-theme-form] [data-save]").click()
    expect(page.locator('[data-error="primary"]')).to_contain_text("4.5")
    expect(page.locator("[data-notice]")).to_have_class("notice error")
    page.screenshot(path=str(ARTIFACTS / "theme-too-low.png"), full_page=True)

    # Readable colours: saved, the preview and the page header follow.
    primary.fill("#1d4ed8")
    page.locator('[data-hex="vip"]').fill("#6b21a8")
    page.locator("[data-sound]").select_option("soft")
    assert css(page, ".pv-tag", "background-color") == "rgb(107, 33, 168)"
    page.locator("[data-theme-form] [data-save]").click()
    expect(page.locator("[data-notice]")).to_have_class("notice ok")
    wait_until(page, "getComputedStyle(document.querySelector('.dash-bar')).backgroundColor === 'rgb(29, 78, 216)'")
    page.screenshot(path=str(ARTIFACTS / "theme-saved.png"), full_page=True)

    # The calling rule, on the same page.
    page.locator("[data-streak]").fill("2")
    page.locator("[data-max-wait]").fill("30")
    page.locator("[data-calling-form] button[type=submit]").click()
    expect(page.locator("[data-calling-notice]")).to_have_class("notice ok")

    token = client.post("/auth/login", json={"email": world.a.manager_email, "password": PASSWORD}).get_json()
    headers = {"Authorization": "Bearer " + token["access_token"]}
    theme = client.get("/api/theme", headers=headers).get_json()
    assert (theme["primary"], theme["vip"], theme["sound"]) == ("#1d4ed8", "#6b21a8", "soft")
    assert client.get("/api/settings/calling", headers=headers).get_json() == \
        {"vip_streak_max": 2, "max_standard_wait_min": 30}
