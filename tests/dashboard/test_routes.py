"""Dashboard pages: sign-in with the JWT cookie, CSRF, redirects, roles, CSV export."""
from __future__ import annotations

import csv
import hashlib
import io
from datetime import date
from pathlib import Path

import pytest

from kiosk.dashboard import services
from kiosk.devices.models import Device
from kiosk.extensions import db
from kiosk.tenancy import tenant_scope
from tests.dashboard.conftest import cookie, form_token, sign_in
from tests.stats.conftest import add_payment, add_vip_ticket, utc

ROOT = Path(__file__).resolve().parents[2]


def _set_cookie_headers(response, name: str) -> list[str]:
    return [h for h in response.headers.getlist("Set-Cookie") if h.startswith(name + "=")]


def _spaces(text: str) -> str:
    return text.replace("\u202f", " ").replace("\xa0", " ")


# --- sign in ----------------------------------------------------------------------------------

def test_a_manager_signs_in_with_the_form_and_gets_an_httponly_lax_cookie(app, world):
    client = app.test_client()
    response = sign_in(client, world.a.manager_email)
    assert response.status_code == 302 and response.headers["Location"] == "/dashboard"
    [access] = _set_cookie_headers(response, "access_token_cookie")
    assert "HttpOnly" in access and "SameSite=Lax" in access and "Path=/" in access
    assert "Secure" not in access  # plain http in tests; Secure over https (below)
    [csrf] = _set_cookie_headers(response, "csrf_access_token")
    assert "HttpOnly" not in csrf and "SameSite=Lax" in csrf  # the page's script must read it
    page = client.get("/dashboard")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'data-overview' in html and "/static/vendor/chartjs/chart.umd.min.js" in html


def test_cookies_are_secure_when_served_over_https(app, world):
    client = app.test_client()
    page = client.get("/login", base_url="https://localhost")
    response = client.post("/login", base_url="https://localhost", data={
        "email": world.a.manager_email, "password": "correct horse battery",
        "csrf_token": form_token(page.get_data(as_text=True))})
    assert response.status_code == 302
    for name in ("access_token_cookie", "csrf_access_token"):
        [header] = _set_cookie_headers(response, name)
        assert "Secure" in header


def test_an_agent_lands_on_the_counter_screen_and_cannot_open_manager_pages(agent):
    assert agent.get("/dashboard").headers["Location"] == "/dashboard/counter"
    assert agent.get("/dashboard/devices").status_code == 403
    assert agent.get("/dashboard/export.csv?from=2026-03-01&to=2026-03-02").status_code == 403
    assert agent.get("/dashboard/queues").status_code == 200


def test_an_agent_signing_in_goes_to_the_counter_screen(app, world):
    response = sign_in(app.test_client(), world.a.agent_email)
    assert response.headers["Location"] == "/dashboard/counter"


def test_unknown_email_and_wrong_password_get_the_same_answer_and_no_cookie(app, world):
    client = app.test_client()
    unknown = sign_in(client, "nobody@example.test")
    wrong = sign_in(client, world.a.manager_email, password="not the password")
    assert unknown.status_code == wrong.status_code == 401

    def message(response) -> str:
        html = response.get_data(as_text=True)
        return html.split("data-login-error>")[1].split("<")[0]

    assert message(unknown) == message(wrong)
    assert not _set_cookie_headers(unknown, "access_token_cookie")
    assert not _set_cookie_headers(wrong, "access_token_cookie")
    assert cookie(client, "access_token_cookie") is None


def test_repeated_failures_lock_the_login_with_retry_after(app, world):
    client = app.test_client()
    for _ in range(5):
        assert sign_in(client, world.a.manager_email, password="wrong").status_code == 401
    locked = sign_in(client, world.a.manager_email)  # even the right password, for now
    assert locked.status_code == 429 and int(locked.headers["Retry-After"]) > 0
    assert cookie(client, "access_token_cookie") is None


@pytest.mark.parametrize("token", [None, "", "forged-token-value"])
def test_the_login_form_without_its_csrf_token_is_refused(app, world, token):
    client = app.test_client()
    client.get("/login")
    form = {"email": world.a.manager_email, "password": "correct horse battery"}
    if token is not None:
        form["csrf_token"] = token
    response = client.post("/login", data=form)
    assert response.status_code == 400
    assert not _set_cookie_headers(response, "access_token_cookie")


def test_a_login_token_from_another_browser_session_is_refused(app, world):
    attacker, victim = app.test_client(), app.test_client()
    token = form_token(attacker.get("/login").get_data(as_text=True))
    victim.get("/login")
    response = victim.post("/login", data={"email": world.a.manager_email, "password": "correct horse battery",
                                           "csrf_token": token})
    assert response.status_code == 400 and cookie(victim, "access_token_cookie") is None


@pytest.mark.parametrize("target", [
    "//evil.com", "//evil.com/dashboard", "https://evil.com", "http://evil.com/dashboard", "/\\evil.com",
    "\\\\evil.com", "/\\/evil.com", "javascript:alert(1)", "evil.com", " //evil.com", "/\t/evil.com",
    "https:/evil.com", "%2F%2Fevil.com", "/dashboard\r\nSet-Cookie: x=1",
])
def test_next_never_sends_anyone_to_another_site(app, world, target):
    response = sign_in(app.test_client(), world.a.manager_email, next_path=target)
    assert response.status_code == 302
    assert response.headers["Location"] == "/dashboard"


@pytest.mark.parametrize("target", ["/dashboard/devices", "/dashboard?preset=7d", "/dashboard/export.csv?from=2026-03-01&to=2026-03-02"])
def test_next_returns_to_a_page_of_this_site(app, world, target):
    response = sign_in(app.test_client(), world.a.manager_email, next_path=target)
    assert response.headers["Location"] == target


def test_a_page_sends_strangers_to_the_login_form_and_back(app, world):
    client = app.test_client()
    response = client.get("/dashboard/devices")
    assert response.status_code == 302 and response.headers["Location"] == "/login?next=/dashboard/devices"
    form = client.get(response.headers["Location"]).get_data(as_text=True)
    assert 'name="next" value="/dashboard/devices"' in form
    assert client.get("/login?next=//evil.com").get_data(as_text=True).count('name="next"') == 0
    signed = sign_in(client, world.a.manager_email, next_path="/dashboard/devices")
    assert signed.headers["Location"] == "/dashboard/devices"
    # Already signed in: the form page goes straight on, still only to this site.
    assert client.get("/login?next=/dashboard/queues").headers["Location"] == "/dashboard/queues"
    assert client.get("/login?next=https://evil.com").headers["Location"] == "/dashboard"


# --- sign out and CSRF ------------------------------------------------------------------------

def test_logout_without_the_csrf_value_changes_nothing(manager):
    response = manager.post("/logout", data={})
    assert response.status_code == 400
    assert not _set_cookie_headers(response, "access_token_cookie")
    forged = manager.post("/logout", data={"csrf_token": "x" * 36})
    assert forged.status_code == 400
    assert manager.get("/dashboard").status_code == 200


def test_logout_with_the_csrf_value_clears_the_cookies(manager):
    html = manager.get("/dashboard").get_data(as_text=True)
    response = manager.post("/logout", data={"csrf_token": form_token(html)})
    assert response.status_code == 302 and response.headers["Location"] == "/login"
    assert cookie(manager, "access_token_cookie") is None and cookie(manager, "csrf_access_token") is None
    assert manager.get("/dashboard").headers["Location"].startswith("/login")


def test_logout_cannot_be_sent_as_a_get(manager):
    assert manager.get("/logout").status_code == 405
    assert manager.get("/dashboard").status_code == 200


def test_the_cookie_reads_the_stats_api_and_writes_need_the_csrf_header(app, manager, world):
    assert manager.get("/stats/revenue/daily?from=2026-03-01&to=2026-03-02").status_code == 200
    url = f"/api/devices/{world.a.device_id}/disable"
    refused = manager.post(url)
    assert refused.status_code == 401 and refused.get_json()["error"]["code"] == "csrf_failed"
    with app.app_context(), tenant_scope(world.a.id):
        assert db.session.query(Device).filter_by(device_id=world.a.device_id).one().status == "ACTIVE"
    wrong = manager.post(url, headers={"X-CSRF-TOKEN": "not-the-token"})
    assert wrong.status_code == 401
    accepted = manager.post(url, headers={"X-CSRF-TOKEN": cookie(manager, "csrf_access_token").value})
    assert accepted.status_code == 200 and accepted.get_json()["status"] == "DISABLED"


# --- overview, export --------------------------------------------------------------------------

@pytest.fixture
def sales(app, world):
    """Confirmed sales over three local days for A (UTC+0), plus noise that must not count."""
    with app.app_context():
        add_payment(world.a.id, utc(2026, 3, 1, 8, 0), 500)
        add_payment(world.a.id, utc(2026, 3, 1, 23, 59), 1000)
        add_payment(world.a.id, utc(2026, 3, 3, 0, 0), 500)
        add_payment(world.a.id, utc(2026, 3, 2, 9, 0), 700, status="FAILED")
        add_payment(world.a.id, utc(2026, 3, 2, 9, 5), 900, status="PENDING")
        add_payment(world.b.id, utc(2026, 3, 2, 10, 0), 5000)  # another establishment
        add_vip_ticket(world.a.id, world.a.queue_id, utc(2026, 3, 1, 8, 0))
        add_vip_ticket(world.a.id, world.a.queue_id, utc(2026, 3, 1, 23, 59))
        add_vip_ticket(world.a.id, world.a.queue_id, utc(2026, 3, 3, 0, 0))
        add_vip_ticket(world.a.id, world.a.queue_id, utc(2026, 3, 3, 0, 5), kind="STANDARD")


def test_the_csv_export_matches_the_confirmed_payments_to_the_unit(manager, sales):
    response = manager.get("/dashboard/export.csv?from=2026-03-01&to=2026-03-04")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"].startswith("attachment; filename=\"revenue-clinique-a")
    assert response.headers["Content-Disposition"].endswith('-2026-03-01-2026-03-04.csv"')
    rows = list(csv.DictReader(io.StringIO(response.get_data().decode("utf-8-sig"))))
    assert [r["date"] for r in rows] == ["2026-03-01", "2026-03-02", "2026-03-03", "2026-03-04"]
    assert [int(r["revenue_minor"]) for r in rows] == [1500, 0, 500, 0]
    assert [int(r["transactions"]) for r in rows] == [2, 0, 1, 0]
    assert [int(r["vip_count"]) for r in rows] == [2, 0, 1, 0]
    assert {r["currency"] for r in rows} == {"XOF"}
    assert sum(int(r["revenue_minor"]) for r in rows) == 2000
    # Formatted in the establishment's language (French here), XOF without decimals.
    assert [_spaces(r["revenue"]) for r in rows] == ["1 500 F CFA", "0 F CFA", "500 F CFA", "0 F CFA"]


def test_the_csv_follows_the_chosen_language(manager, sales):
    manager.get("/lang/en?next=/dashboard")
    rows = list(csv.DictReader(io.StringIO(
        manager.get("/dashboard/export.csv?from=2026-03-01&to=2026-03-01").get_data().decode("utf-8-sig"))))
    assert _spaces(rows[0]["revenue"]) == "F CFA1,500"
    manager.get("/lang/fr?next=/dashboard")
    rows = list(csv.DictReader(io.StringIO(
        manager.get("/dashboard/export.csv?from=2026-03-01&to=2026-03-01").get_data().decode("utf-8-sig"))))
    assert _spaces(rows[0]["revenue"]) == "1 500 F CFA"


@pytest.mark.parametrize("query", [
    "", "?from=2026-03-01", "?from=2026-03-05&to=2026-03-01", "?from=2025-01-01&to=2026-03-01",
    "?from=2026-02-30&to=2026-03-01", "?from=yesterday&to=today", "?from=2026-03-01&to=2026-03-02&x=1",
    "?from=1999-12-31&to=2000-01-01", "?from=2026-03-01'--&to=2026-03-02",
])
def test_a_bad_export_range_is_a_400_page(manager, query):
    response = manager.get("/dashboard/export.csv" + query)
    assert response.status_code == 400
    assert response.mimetype == "text/html"
    assert "Content-Disposition" not in response.headers
    assert "data-error-message" in response.get_data(as_text=True)


def test_a_range_of_exactly_366_days_is_exported(manager):
    response = manager.get("/dashboard/export.csv?from=2026-01-01&to=2027-01-01")
    assert response.status_code == 200
    assert len(response.get_data().decode("utf-8-sig").strip().splitlines()) == 1 + 366


def test_the_overview_carries_the_establishment_money_format_and_range(manager):
    html = manager.get("/dashboard?from=2026-03-01&to=2026-03-04").get_data(as_text=True)
    assert "&#34;from&#34;: &#34;2026-03-01&#34;" in html or '"from": "2026-03-01"' in html
    assert "XOF" in html and "/stats/revenue/daily" in html
    default = manager.get("/dashboard?from=2026-03-05&to=2026-03-01")  # reversed: falls back to this month
    assert default.status_code == 200


def test_money_is_formatted_by_babel_without_decimals_for_xof():
    assert _spaces(services.format_money(1500, "XOF", "fr")) == "1 500 F CFA"
    assert _spaces(services.format_money(1500, "EUR", "fr")) == "15,00 €"
    assert services.format_money(123456, "USD", "en") == "$1,234.56"


def test_presets_follow_the_local_calendar():
    today = date(2026, 3, 15)
    assert services.preset_range("today", today) == (today, today)
    assert services.preset_range("7d", today) == (date(2026, 3, 9), today)
    assert services.preset_range("month", today) == (date(2026, 3, 1), today)
    assert services.months_back(date(2026, 3, 15)) == ("2025-04", "2026-03")
    assert services.months_back(date(2026, 12, 1)) == ("2026-01", "2026-12")


# --- other pages, language, assets ------------------------------------------------------------

def test_the_devices_and_queues_pages_render_for_a_manager(manager):
    devices = manager.get("/dashboard/devices")
    assert devices.status_code == 200 and "data-devices" in devices.get_data(as_text=True)
    queues = manager.get("/dashboard/queues").get_data(as_text=True)
    assert "General" in queues and "Pharmacy" in queues


def test_the_navigation_shows_what_the_role_may_open(manager, agent):
    manager_nav = manager.get("/dashboard/queues").get_data(as_text=True)
    for href in ("/dashboard", "/dashboard/counter", "/dashboard/queues", "/dashboard/devices",
                 "/dashboard/displays", "/dashboard/theme"):
        assert f'href="{href}"' in manager_nav
    agent_nav = agent.get("/dashboard/queues").get_data(as_text=True)
    assert 'href="/dashboard/devices"' not in agent_nav and 'href="/dashboard/counter"' in agent_nav


def test_the_language_switch_remembers_the_choice_and_stays_on_this_site(manager):
    response = manager.get("/lang/en?next=/dashboard/queues")
    assert response.headers["Location"] == "/dashboard/queues"
    assert cookie(manager, "lang").value == "en"
    assert '<html lang="en">' in manager.get("/dashboard/queues").get_data(as_text=True)
    assert manager.get("/lang/fr?next=//evil.com").headers["Location"] == "/dashboard"
    assert '<html lang="fr">' in manager.get("/dashboard/queues").get_data(as_text=True)
    assert manager.get("/lang/de").status_code == 404


def test_pages_have_a_strict_csp_and_no_inline_script(manager, app):
    for path in ("/dashboard", "/dashboard/devices", "/dashboard/queues", "/login"):
        response = manager.get(path) if path != "/login" else app.test_client().get(path)
        policy = response.headers["Content-Security-Policy"]
        assert "script-src 'self'" in policy and "unsafe-inline" not in policy
        assert response.headers["Cache-Control"] == "no-store"
        html = response.get_data(as_text=True)
        assert "<script>" not in html and "style=" not in html and "https://" not in html.split("</head>")[0]


def test_chart_js_is_vendored_with_its_licence():
    vendored = ROOT / "frontend/vendor/chartjs/chart.umd.min.js"
    assert hashlib.sha256(vendored.read_bytes()).hexdigest() == \
        "87364cc2b2a76a6684929e7d6b80b18a897794db38400caff1fcf1791c6925d2"
    assert "MIT" in (ROOT / "frontend/vendor/chartjs/LICENSE.md").read_text()


def test_chart_js_is_served_from_the_app(client):
    response = client.get("/static/vendor/chartjs/chart.umd.min.js")
    assert response.status_code == 200 and b"Chart.js v4.6.1" in response.get_data()[:200]


def test_an_expired_or_forged_cookie_sends_the_user_back_to_the_login_form(app, world, manager):
    from datetime import timedelta

    from flask_jwt_extended import create_access_token

    with app.app_context():
        expired = create_access_token(identity="x", expires_delta=timedelta(seconds=-60),
                                      additional_claims={"establishment_id": world.a.id, "role": "manager"})
    manager.set_cookie("access_token_cookie", expired)
    response = manager.get("/dashboard?preset=7d")
    assert response.status_code == 302 and response.headers["Location"] == "/login?next=/dashboard%3Fpreset%3D7d"
    manager.set_cookie("access_token_cookie", expired[:-4] + "AAAA")
    assert manager.get("/dashboard/devices").headers["Location"] == "/login?next=/dashboard/devices"


def test_the_login_form_token_lives_in_an_httponly_lax_session_cookie(app):
    # Secure in production (SESSION_COOKIE_SECURE), like every cookie there.
    response = app.test_client().get("/login")
    [session_cookie] = _set_cookie_headers(response, "session")
    assert "HttpOnly" in session_cookie and "SameSite=Lax" in session_cookie
    assert response.headers["Cache-Control"] == "no-store"


def test_a_refused_page_is_an_html_page_with_the_navigation(agent):
    response = agent.get("/dashboard/devices")
    assert response.status_code == 403 and response.mimetype == "text/html"
    html = response.get_data(as_text=True)
    assert "data-error-message" in html and 'href="/dashboard/counter"' in html
