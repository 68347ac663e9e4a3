"""The customer's ticket page in Debian's chromium (Playwright, no downloaded browser).

Against the session app behind a threaded Werkzeug server. Screenshots go to
test-artifacts/. Any CSP violation (console or securitypolicyviolation event)
fails the test.
"""
from __future__ import annotations

import subprocess
import time

import pytest
from playwright.sync_api import expect

from tests.queues.browser import ARTIFACTS, PROBE, css, wait_until

pytestmark = [pytest.mark.slow, pytest.mark.browser]


@pytest.fixture
def phone(browser, public_base):
    """A phone-sized page; fails the test on any CSP violation."""
    ARTIFACTS.mkdir(exist_ok=True)
    context = browser.new_context(viewport={"width": 390, "height": 780}, device_scale_factor=2,
                                  is_mobile=True, has_touch=True)
    context.add_init_script(PROBE)
    page = context.new_page()
    problems: list[str] = []
    page.on("console", lambda m: "Content Security Policy" in m.text and problems.append(m.text))
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    yield page
    try:
        violations = page.evaluate("window.__csp || []")
    except Exception:  # noqa: BLE001 - the page may be mid-navigation
        violations = []
    context.close()
    assert not problems and not violations, (problems, violations)


def shot(page, name: str) -> str:
    path = str(ARTIFACTS / f"ticket-{name}.png")
    page.screenshot(path=path)
    return path


def open_ticket(page, base: str, token: str):
    page.goto(f"{base}/t/{token}")
    page.evaluate("window.__loadedOnce = true")
    return page


def test_the_page_follows_the_ticket_live_without_a_reload(phone, public_base, tickets, world):
    ticket_id = world.a.extra["ticket_id"]  # A-001, first in line
    page = open_ticket(phone, public_base, tickets.token(ticket_id))
    expect(page.locator('[data-field="code"]')).to_have_text("A-001")
    expect(page.locator('[data-field="position"]')).to_have_text("1")
    shot(page, "waiting")

    latencies = {}
    called_at = time.time()
    tickets.call_next("5")
    expect(page.locator('[data-when="CALLED"]')).to_be_visible(timeout=3000)
    latencies["called"] = page.evaluate("window.__statusAt.CALLED") / 1000 - called_at
    expect(page.locator('[data-field="counter"]')).to_have_text("5")
    expect(page.locator('[data-when="WAITING"]')).to_be_hidden()
    page.wait_for_timeout(400)  # let the pulse animation run for the picture
    shot(page, "called")
    assert page.evaluate("window.__vibrated.length") == 1
    assert page.evaluate("window.__played")[-1].endswith("/static/sounds/call-standard.wav")

    recalled_at = time.time()
    tickets.act(ticket_id, "recall")  # a recall alerts again
    wait_until(page, "window.__vibrated.length === 2")
    latencies["recalled"] = page.evaluate("window.__vibrated[1]") / 1000 - recalled_at

    served_at = time.time()
    tickets.act(ticket_id, "serve")
    expect(page.locator('[data-when="SERVED"]')).to_be_visible(timeout=3000)
    latencies["served"] = page.evaluate("window.__statusAt.SERVED") / 1000 - served_at
    shot(page, "served")

    assert page.evaluate("window.__loadedOnce") is True  # never reloaded
    print(f"\nstate change -> page latencies (s): { {k: round(v, 3) for k, v in latencies.items()} }")
    assert max(latencies.values()) < 1.0, latencies


def test_a_waiting_ticket_moves_up_as_others_are_called(phone, public_base, tickets):
    _, token = tickets.issue()
    page = open_ticket(phone, public_base, token)
    expect(page.locator('[data-field="position"]')).to_have_text("2")
    tickets.call_next("1")
    expect(page.locator('[data-field="position"]')).to_have_text("1", timeout=2000)


def test_the_qr_code_decodes_to_the_tracking_url(phone, public_base, tickets):
    ticket_id, token = tickets.issue()
    page = open_ticket(phone, public_base, token)
    qr = page.locator("img.qr")
    qr.scroll_into_view_if_needed()
    wait_until(page, "document.querySelector('img.qr').naturalWidth > 0")
    path = str(ARTIFACTS / "ticket-qr.png")
    qr.screenshot(path=path)
    decoded = subprocess.run(["zbarimg", "--quiet", "--raw", path], capture_output=True, text=True, timeout=20)
    assert decoded.returncode == 0, decoded.stderr
    expected = page.evaluate("fetch(location.pathname + '.json').then(r => r.json()).then(b => b.ticket.tracking_url)")
    assert decoded.stdout.strip() == expected == f"{public_base}/t/{token}"


def test_the_theme_colours_are_applied_and_follow_changes(phone, public_base, tickets):
    tickets.theme(primary="#1d4ed8", accent="#fc0", vip="#6b21a8")
    _, token = tickets.issue("VIP")
    page = open_ticket(phone, public_base, token)
    assert css(page, ":root", "--kiosk-primary") == "#1d4ed8"
    assert css(page, ".vip-tag", "background-color") == "rgb(107, 33, 168)"  # the VIP colour
    assert css(page, ".brand", "background-color") == "rgb(107, 33, 168)"    # VIP tickets wear it
    assert css(page, ".alerts-button", "background-color") == "rgb(255, 204, 0)"  # accent
    assert css(page, ".alerts-button", "color") == "rgb(26, 26, 26)"
    shot(page, "theme-vip")

    # A manager changes the theme while the page is open: it follows without a reload.
    tickets.theme(primary="#1d4ed8", accent="#fc0", vip="#0f766e")
    wait_until(page, "getComputedStyle(document.querySelector('.brand')).backgroundColor === 'rgb(15, 118, 110)'")
    assert page.evaluate("window.__loadedOnce") is True


def test_a_standard_ticket_uses_the_primary_colour(phone, public_base, tickets):
    tickets.theme(primary="#7c2d12")
    _, token = tickets.issue()
    page = open_ticket(phone, public_base, token)
    assert css(page, ".brand", "background-color") == "rgb(124, 45, 18)"
    assert page.locator(".vip-tag").is_hidden()


def test_a_fresh_vip_ticket_shows_the_payment_confirmation_once(phone, public_base, tickets):
    _, token = tickets.issue("VIP", paid=True)
    page = open_ticket(phone, public_base, token)
    overlay = page.locator("[data-confirm]")
    expect(overlay).to_be_visible()
    page.wait_for_timeout(900)
    shot(page, "vip-confirmed")
    expect(overlay).to_be_hidden(timeout=4000)
    shot(page, "vip-waiting")
    page.reload()
    page.wait_for_timeout(300)
    assert overlay.is_hidden()  # once per ticket, not on every visit


def test_a_vip_call_plays_the_vip_sound(phone, public_base, tickets):
    _, token = tickets.issue("VIP")
    page = open_ticket(phone, public_base, token)
    page.locator("[data-alerts]").click()  # the one tap that unlocks sound on phones
    expect(page.locator("[data-alerts-on]")).to_be_visible()
    tickets.call_next("2")
    expect(page.locator('[data-when="CALLED"]')).to_be_visible(timeout=2000)
    wait_until(page, "window.__played.length > 0")
    assert page.evaluate("window.__played")[-1].endswith("/static/sounds/call-vip.wav")
    shot(page, "vip-called")


def test_the_page_survives_a_lost_connection(phone, public_base, tickets, world):
    page = open_ticket(phone, public_base, tickets.token(world.a.extra["ticket_id"]))
    page.context.set_offline(True)
    expect(page.locator("body")).to_have_attribute("data-connection", "reconnecting", timeout=5000)
    expect(page.locator("[data-connection-note]")).to_be_visible()
    shot(page, "offline")
    tickets.call_next("3")
    page.context.set_offline(False)
    # The browser fires "online": the page polls at once instead of waiting out its backoff.
    expect(page.locator('[data-when="CALLED"]')).to_be_visible(timeout=3000)
    expect(page.locator("body")).to_have_attribute("data-connection", "live")
    assert page.evaluate("window.__loadedOnce") is True
