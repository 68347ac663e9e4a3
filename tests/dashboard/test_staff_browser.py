"""The staff page in Debian's chromium against a live server: a manager adds an
agent, meets the last-manager and taken-email refusals, promotes, resets a
password, deactivates (the agent's open dashboard is sent back to sign in),
reads the activity log and signs out (the cookie's token is revoked). Any
console error, CSP violation or failing request other than the refusals the
test provokes fails it. Screenshots go to test-artifacts/."""
from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.factories import PASSWORD
from tests.helpers import ApiClient
from tests.queues.browser import ARTIFACTS, PROBE

pytestmark = [pytest.mark.slow, pytest.mark.browser]

NEW_EMAIL = "nouvel.agent@example.test"


@pytest.fixture
def pages(browser):
    """``pages.open()`` -> a fresh page; ``pages.expect_refusal(status)`` allows one API refusal."""
    class Pages:
        def __init__(self):
            self.contexts, self.problems, self.allowed = [], [], []

        def open(self):
            context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="fr-FR")
            context.add_init_script(PROBE)
            self.contexts.append(context)
            page = context.new_page()
            page.on("console", lambda m: m.type == "error" and not m.text.startswith("Failed to load resource")
                    and self.problems.append(f"console: {m.text}"))
            page.on("pageerror", lambda e: self.problems.append(f"page error: {e}"))
            page.on("response", self._response)
            page.on("dialog", lambda dialog: dialog.accept())
            return page

        def expect_refusal(self, status: int) -> None:
            self.allowed.append(status)

        def _response(self, response) -> None:
            if response.status < 400 or response.request.resource_type == "document":
                return
            if response.status in self.allowed:
                self.allowed.remove(response.status)
            else:
                self.problems.append(f"{response.status} {response.url}")

    pages = Pages()
    ARTIFACTS.mkdir(exist_ok=True)
    yield pages
    violations = []
    for context in pages.contexts:
        for page in context.pages:
            violations += page.evaluate("window.__csp || []")
        context.close()
    assert not pages.problems and not violations, (pages.problems, violations)


def _sign_in(page, base: str, email: str, start: str) -> None:
    page.goto(base + start)
    page.locator('input[name="email"]').fill(email)
    page.locator('input[name="password"]').fill(PASSWORD)
    page.locator('form[data-login-form] button[type="submit"]').click()
    page.wait_for_url(base + start + "*")


def _row(page, email: str):
    return page.locator(f'tr[data-user="{email}"]')


def test_a_manager_runs_the_staff_from_the_staff_page(pages, queues_live_server, world, app):
    base = queues_live_server
    agent_page = pages.open()
    _sign_in(agent_page, base, world.a.agent_email, "/dashboard/counter")

    page = pages.open()
    _sign_in(page, base, world.a.manager_email, "/dashboard/staff")
    expect(page.locator("body")).to_have_attribute("data-state", "ready")
    me = _row(page, world.a.manager_email)
    expect(me).to_contain_text("(vous)")
    expect(me.locator("[data-role]")).to_have_text("Responsable")
    expect(page.locator('.dash-nav a[href="/dashboard/staff"]')).to_have_attribute("aria-current", "page")

    # The last manager cannot step down: the server's message is shown, nothing changes.
    pages.expect_refusal(409)
    me.locator("[data-deactivate]").click()
    expect(page.locator("[data-notice]")).to_contain_text("au moins un responsable actif")
    expect(me.locator("[data-active]")).to_have_attribute("data-active", "true")

    # Add an agent; the same email again is refused with the API's message.
    page.locator("[data-add-email]").fill(NEW_EMAIL)
    page.locator("[data-add-password]").fill("un mot de passe solide")
    page.locator("[data-add-form] button[type=submit]").click()
    expect(page.locator("[data-success]")).to_contain_text(NEW_EMAIL)
    expect(_row(page, NEW_EMAIL).locator("[data-role]")).to_have_attribute("data-role", "agent")
    pages.expect_refusal(409)
    page.locator("[data-add-email]").fill(NEW_EMAIL.upper())
    page.locator("[data-add-password]").fill("un mot de passe solide")
    page.locator("[data-add-form] button[type=submit]").click()
    expect(page.locator("[data-notice]")).to_contain_text("déjà utilisé")

    # Promote the new agent, reset the other agent's password, then deactivate them.
    _row(page, NEW_EMAIL).locator("[data-change-role]").click()
    expect(_row(page, NEW_EMAIL).locator("[data-role]")).to_have_attribute("data-role", "manager")
    agent = _row(page, world.a.agent_email)
    agent.locator("[data-set-password]").click()
    agent.locator("[data-new-password]").fill("court")
    agent.locator(".inline-password button[type=submit]").click()
    expect(page.locator("[data-notice]")).to_contain_text("au moins 8 caractères")
    agent.locator("[data-new-password]").fill("nouveau mot de passe")
    # From here the agent's open counter page is signed out: its next live poll
    # (every few seconds) is refused 401 and sends it to sign in, if it fires
    # before the navigation below does the same.
    pages.expect_refusal(401)
    agent.locator(".inline-password button[type=submit]").click()
    expect(page.locator("[data-success]")).to_contain_text(world.a.agent_email)
    assert app.test_client().post("/auth/login", json={"email": world.a.agent_email,
                                                       "password": "nouveau mot de passe"}).status_code == 200
    assert "nouveau mot de passe" not in page.content()
    _row(page, world.a.agent_email).locator("[data-deactivate]").click()
    expect(_row(page, world.a.agent_email).locator("[data-active]")).to_have_attribute("data-active", "false")
    expect(_row(page, world.a.agent_email).locator("[data-reactivate]")).to_be_visible()
    page.screenshot(path=str(ARTIFACTS / "dashboard-staff.png"), full_page=True)

    # The deactivated agent's open dashboard is sent back to sign in at its next request.
    agent_page.goto(base + "/dashboard/counter")
    assert "/login" in agent_page.url

    # The activity log shows who did what.
    page.goto(base + "/dashboard/audit")
    log = page.locator("table.audit")
    for text in ("Compte du personnel créé", "Rôle modifié", "Mot de passe réinitialisé",
                 "Compte du personnel désactivé"):
        expect(log).to_contain_text(text)
    expect(page.locator('tr[data-action="user.role_changed"]')).to_contain_text(world.a.manager_email)
    page.screenshot(path=str(ARTIFACTS / "dashboard-audit.png"), full_page=True)

    # English works too.
    page.goto(base + "/lang/en?next=/dashboard/staff")
    expect(page.locator("h1")).to_have_text("Staff")
    expect(_row(page, NEW_EMAIL).locator("[data-role]")).to_have_text("Manager")

    # Signing out revokes the cookie's token, not just the cookie.
    token = next(c["value"] for c in page.context.cookies() if c["name"] == "access_token_cookie")
    page.locator(".dash-logout input[type=submit]").click()
    page.wait_for_url(base + "/login*")
    stolen = ApiClient(app.test_client())
    stolen.headers = {"Authorization": f"Bearer {token}"}
    revoked = stolen.get("/api/queues")
    assert revoked.status_code == 401 and revoked.get_json()["error"]["code"] == "token_revoked"
