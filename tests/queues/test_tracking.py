"""The public ticket page and its JSON, QR and theme stylesheet (no browser)."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from kiosk.establishments import theme as theme_rules

ROOT = Path(__file__).resolve().parents[2]


def test_page_shows_code_status_position_and_eta(client, world, tickets):
    _, token = tickets.issue()
    response = client.get(f"/t/{token}")
    assert response.status_code == 200 and response.mimetype == "text/html"
    html = response.get_data(as_text=True)
    assert 'data-field="code">A-002<' in html
    assert 'data-status="WAITING"' in html and 'data-field="position">2<' in html
    assert re.search(r'data-field="eta-min">\d+<', html) and re.search(r'data-field="eta-max">\d+<', html)
    # Strict CSP: no inline script or style anywhere on the page.
    assert "<script>" not in html and "style=" not in html and "<style" not in html
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]


def test_json_follows_the_ticket_and_answers_304_while_nothing_changes(client, world, tickets):
    ticket_id, token = tickets.issue()
    first = client.get(f"/t/{token}.json")
    body = first.get_json()
    assert body["ticket"]["ticket_id"] == ticket_id and body["ticket"]["status"] == "WAITING"
    assert body["poll_ms"] <= 1000 and body["theme"]["primary"] == "#0b3d91"
    assert first.headers["Cache-Control"] == "no-cache"
    unchanged = client.get(f"/t/{token}.json", headers={"If-None-Match": first.headers["ETag"]})
    assert unchanged.status_code == 304 and unchanged.get_data() == b""
    tickets.call_next("7")  # calls the factory's A-001: our position changes
    moved = client.get(f"/t/{token}.json", headers={"If-None-Match": first.headers["ETag"]})
    assert moved.status_code == 200 and moved.get_json()["ticket"]["position"] == 1
    tickets.call_next("7")
    called = client.get(f"/t/{token}.json").get_json()["ticket"]
    assert (called["status"], called["counter"], called["position"]) == ("CALLED", "7", 0)


@pytest.mark.parametrize("suffix", ["", ".json", "/qr.svg", "/theme.css"])
@pytest.mark.parametrize("token", ["A" * 32, "short", "bad.token.with.dots..."])
def test_unknown_tokens_are_404(client, world, token, suffix):
    response = client.get(f"/t/{token}{suffix}", headers={"Accept": "application/json"})
    assert response.status_code == 404


def test_another_tenants_ticket_is_reachable_only_by_its_token(client, world, app):
    from kiosk.extensions import db
    from kiosk.queues.models import Ticket
    from kiosk.tenancy import tenant_scope

    with app.app_context(), tenant_scope(world.b.id):
        token = db.session.get(Ticket, world.b.extra["ticket_id"]).tracking_token
    body = client.get(f"/t/{token}.json").get_json()
    assert body["ticket"]["ticket_id"] == world.b.extra["ticket_id"]
    assert body["establishment"]["name"] == "Banque B"


def test_qr_is_an_svg_of_the_tracking_url(client, world, tickets):
    import segno

    _, token = tickets.issue()
    response = client.get(f"/t/{token}/qr.svg")
    assert response.status_code == 200 and response.mimetype == "image/svg+xml"
    svg = response.get_data(as_text=True)
    assert svg.startswith("<svg") and "<script" not in svg
    # Same symbol as segno makes for the tracking URL (the browser test decodes it with zbar).
    expected = segno.make(f"http://localhost/t/{token}", error="m")
    assert f'width="{(expected.symbol_size(scale=6, border=4))[0]}"' in svg


def test_theme_stylesheet_carries_the_establishment_colours(client, world, tickets):
    _, token = tickets.issue()
    tickets.theme(primary="#1d4ed8", accent="#fc0", vip="#6b21a8")
    body = client.get(f"/t/{token}.json").get_json()
    css = client.get(f"/t/{token}/theme.css?v={body['theme']['version']}")
    assert css.mimetype == "text/css"
    text = css.get_data(as_text=True)
    assert "--kiosk-primary: #1d4ed8;" in text and "--kiosk-accent: #ffcc00;" in text
    assert "--kiosk-vip: #6b21a8;" in text and "--kiosk-on-vip: #ffffff;" in text
    assert f"v={body['theme']['version']}" in client.get(f"/t/{token}").get_data(as_text=True)


def test_a_fresh_paid_vip_ticket_asks_for_the_confirmation(client, world, tickets):
    _, paid = tickets.issue("VIP", paid=True)
    _, free = tickets.issue("STANDARD")
    assert client.get(f"/t/{paid}.json").get_json()["fresh_vip"] is True
    assert client.get(f"/t/{free}.json").get_json()["fresh_vip"] is False
    html = client.get(f"/t/{paid}").get_data(as_text=True)
    assert 'data-fresh-vip="true"' in html and "is-vip" in html
    assert 'data-sound-vip="/static/sounds/call-vip.wav"' in html


def test_sound_choice_reaches_the_page(client, world, tickets):
    _, token = tickets.issue()
    tickets.theme(sound="soft")
    sounds = client.get(f"/t/{token}.json").get_json()["sounds"]
    assert sounds == {"standard": "/static/theme/sounds/soft-standard.wav",
                      "vip": "/static/theme/sounds/soft-vip.wav"}
    for url in sounds.values():
        assert client.get(url).status_code == 200
    tickets.theme(sound="none")
    assert client.get(f"/t/{token}.json").get_json()["sounds"] == {"standard": None, "vip": None}


def test_page_assets_are_served(client):
    for path in ("/static/tracking/ticket.js", "/static/tracking/ticket.css", "/static/sounds/call-vip.wav"):
        assert client.get(path).status_code == 200, path


def test_animations_touch_only_transform_and_opacity():
    css = (ROOT / "frontend/tracking/ticket.css").read_text()
    keyframes = re.findall(r"@keyframes\s+([\w-]+)\s*\{((?:[^{}]*\{[^{}]*\})*)\s*\}", css)
    assert {name for name, _ in keyframes} == {"pulse", "confirm-fade", "confirm-pop"}
    for name, block in keyframes:
        properties = set(re.findall(r"([a-z-]+)\s*:", block))
        assert properties <= {"transform", "opacity"}, (name, properties)


def test_the_vip_sound_differs_from_the_standard_one():
    for folder, standard, vip in (("frontend/sounds", "call-standard.wav", "call-vip.wav"),
                                  ("frontend/theme/sounds", "soft-standard.wav", "soft-vip.wav")):
        a, b = (ROOT / folder / standard).read_bytes(), (ROOT / folder / vip).read_bytes()
        assert a[:4] == b[:4] == b"RIFF" and a != b
        assert len(a) < 64 * 1024 and len(b) < 64 * 1024


def test_theme_helpers_for_other_screens():
    assert theme_rules.css_variables(None)["--kiosk-primary"] == theme_rules.DEFAULT_THEME["primary"]
    sheet = theme_rules.stylesheet({"primary": "#123456"})
    assert sheet.startswith(":root {") and "--kiosk-primary: #123456;" in sheet


def test_polling_is_limited_per_token_not_per_shared_ip(app, client, world, tickets):
    _, first = tickets.issue()
    _, second = tickets.issue()
    app.config["TRACKING_TOKEN_LIMIT"] = "5/minute"
    try:
        statuses = [client.get(f"/t/{first}.json").status_code for _ in range(6)]
        assert statuses == [200] * 5 + [429]
        limited = client.get(f"/t/{first}.json")
        assert limited.get_json()["error"]["code"] == "rate_limited" and "Retry-After" in limited.headers
        # Another phone behind the same IP is not affected.
        assert client.get(f"/t/{second}.json").status_code == 200
    finally:
        app.config.pop("TRACKING_TOKEN_LIMIT")
