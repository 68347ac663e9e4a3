"""The end of the day and refunds, in Debian's chromium: the counter's close-day button
(with its confirmation), a customer's page turning EXPIRED, and the refunds page.

(The idle TV is in tests/display/test_tv_page.py.) Any CSP violation fails.
"""
from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.queues.browser import ARTIFACTS
from tests.queues.test_dashboard_pages import signed_in  # noqa: F401 - the fixture

pytestmark = [pytest.mark.slow, pytest.mark.browser]


def open_counter(page, public_base: str, rows: int):
    page.goto(f"{public_base}/dashboard/counter")
    page.locator("[data-counter]").fill("1")
    page.locator("[data-counter]").press("Tab")
    expect(page.locator("[data-waiting] tr")).to_have_count(rows)


def test_a_manager_closes_the_day_and_the_customers_page_turns_expired(signed_in, public_base, tickets, world,  # noqa: F811
                                                                       browser):
    _paid_id, paid_token = tickets.issue("VIP", paid=True)
    tickets.issue()
    phone = browser.new_page(viewport={"width": 390, "height": 780})
    phone.goto(f"{public_base}/t/{paid_token}")
    expect(phone.locator("body")).to_have_attribute("data-status", "WAITING")

    agent = signed_in(world.a.agent_email)
    open_counter(agent, public_base, 3)
    expect(agent.locator("[data-close-day]")).to_have_count(0)  # managers only

    page = signed_in(world.a.manager_email)
    open_counter(page, public_base, 3)
    # Cancelling the confirmation changes nothing.
    page.locator("[data-close-day]").click()
    expect(page.locator("[data-close-dialog]")).to_be_visible()
    expect(page.locator("[data-close-count]")).to_contain_text("3")
    page.locator("[data-close-cancel]").click()
    expect(page.locator("[data-close-dialog]")).to_be_hidden()
    expect(page.locator("[data-waiting] tr")).to_have_count(3)

    page.locator("[data-close-day]").click()
    page.screenshot(path=str(ARTIFACTS / "counter-close-day.png"))
    page.locator("[data-close-confirm]").click()
    expect(page.locator("[data-notice]")).to_contain_text("3")
    expect(page.locator("[data-waiting] tr")).to_have_count(0)

    # The customer's page follows by itself: the day closed, and the money will come back.
    expect(phone.locator("body")).to_have_attribute("data-status", "EXPIRED", timeout=5000)
    expect(phone.locator('[data-when="EXPIRED"]')).to_be_visible()
    expect(phone.locator('[data-when="WAITING"]')).to_be_hidden()
    expect(phone.locator('[data-refund="due"]')).to_be_visible()
    phone.screenshot(path=str(ARTIFACTS / "ticket-expired.png"))


def test_the_refunds_page_lists_what_is_due_and_records_a_refund(signed_in, public_base, tickets, world,  # noqa: F811
                                                                  browser):
    paid_id, paid_token = tickets.issue("VIP", paid=True)
    tickets.act(paid_id, "cancel")
    phone = browser.new_page(viewport={"width": 390, "height": 780})
    phone.goto(f"{public_base}/t/{paid_token}")
    expect(phone.locator('[data-refund="due"]')).to_be_visible()

    page = signed_in(world.a.manager_email)
    page.goto(f"{public_base}/dashboard/refunds")
    due = page.locator("[data-due] tbody tr")
    expect(due).to_have_count(1)
    expect(due.first.locator("td.code")).to_have_text("VA-001")
    expect(due.first).to_contain_text("500")
    page.screenshot(path=str(ARTIFACTS / "refunds-due.png"))

    page.once("dialog", lambda dialog: dialog.accept())
    page.locator("[data-refund]").first.click()
    expect(page.locator("[data-refunded] tbody tr")).to_have_count(1)
    expect(page.locator("[data-refunded]")).to_contain_text("VA-001")
    expect(page.locator("[data-refunded]")).to_contain_text(world.a.manager_email)
    expect(page.locator("[data-none-due]")).to_be_visible()
    page.screenshot(path=str(ARTIFACTS / "refunds-done.png"))
    phone.reload()  # a finished ticket's page polls every 30 s; coming back to it shows the refund at once
    expect(phone.locator('[data-refund="refunded"]')).to_be_visible()
    expect(phone.locator('[data-refund="due"]')).to_be_hidden()

    agent = signed_in(world.a.agent_email)
    agent.goto(f"{public_base}/dashboard/refunds")
    expect(agent.locator("[data-due]")).to_have_count(0)  # a 403 page for agents
