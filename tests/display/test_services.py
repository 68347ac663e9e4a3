"""Display health, opening hours and heartbeat throttling."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from types import SimpleNamespace

import pytest
import sqlalchemy as sa

from kiosk.establishments.hours import DEFAULT_OPENING_HOURS, is_open
from kiosk.display.services import display_health

UTC = timezone.utc
# 2026-03-04 is a Wednesday.
WEDNESDAY_10H = datetime(2026, 3, 4, 10, 0, tzinfo=UTC)
WEDNESDAY_22H = datetime(2026, 3, 4, 22, 0, tzinfo=UTC)
SUNDAY_10H = datetime(2026, 3, 8, 10, 0, tzinfo=UTC)


@pytest.mark.parametrize("hours, moment, expected", [
    ({}, WEDNESDAY_10H, True),                                  # default: Mon-Sat 08-18
    ({}, WEDNESDAY_22H, False),
    ({}, SUNDAY_10H, False),
    ({"wed": ["09:00", "17:00"]}, WEDNESDAY_10H, True),
    ({"wed": ["11:00", "17:00"]}, WEDNESDAY_10H, False),
    ({"wed": [["08:00", "09:00"], ["09:30", "12:00"]]}, WEDNESDAY_10H, True),
    ({"wed": []}, WEDNESDAY_10H, False),                         # a listed day with no interval is closed
    ({"tue": ["20:00", "02:00"]}, datetime(2026, 3, 4, 1, 0, tzinfo=UTC), True),  # past midnight
    ({"wed": ["20:00", "02:00"]}, WEDNESDAY_22H, True),
    ({"wed": ["nonsense", 3]}, WEDNESDAY_10H, False),            # malformed: ignored, never raises
    ({"wed": ["00:00", "24:00"]}, WEDNESDAY_22H, True),
])
def test_opening_hours(hours, moment, expected):
    assert is_open(hours, "UTC", moment) is expected


def test_opening_hours_follow_the_establishment_time_zone():
    # 10:00 UTC is 06:00 in New York (closed by default) and 11:00 in Paris (open).
    assert is_open({}, "America/New_York", WEDNESDAY_10H) is False
    assert is_open({}, "Europe/Paris", WEDNESDAY_10H) is True
    assert DEFAULT_OPENING_HOURS["mon"] == [["08:00", "18:00"]] and "sun" not in DEFAULT_OPENING_HOURS


def _display(heard_seconds_ago=None, revoked=False, now=WEDNESDAY_10H):
    return SimpleNamespace(
        last_heartbeat=None if heard_seconds_ago is None else now - timedelta(seconds=heard_seconds_ago),
        revoked_at=now if revoked else None)


ESTABLISHMENT = SimpleNamespace(opening_hours={}, timezone="UTC")


@pytest.mark.parametrize("heard, now, status, warning", [
    (30, WEDNESDAY_10H, "live", None),
    (119, WEDNESDAY_10H, "live", None),
    (121, WEDNESDAY_10H, "quiet", "quiet_during_opening_hours"),
    (3600, WEDNESDAY_22H, "quiet", None),       # a TV switched off at night is normal
    (None, WEDNESDAY_10H, "never", None),       # a spare never plugged in: no alarm
])
def test_health_warns_only_when_quiet_for_two_minutes_during_opening_hours(heard, now, status, warning):
    health = display_health(_display(heard, now=now), ESTABLISHMENT, now)
    assert health["status"] == status
    assert health["warning"] == warning
    assert (health["warning_message"] is None) == (warning is None)
    if heard is not None:
        assert health["quiet_for_seconds"] == heard


def test_a_revoked_display_reports_revoked_without_warning():
    health = display_health(_display(3600, revoked=True), ESTABLISHMENT, WEDNESDAY_10H)
    assert health["status"] == "revoked" and health["warning"] is None


def test_the_warning_message_says_for_how_long(app):
    from flask_babel import force_locale

    with app.test_request_context(), force_locale("en"):
        health = display_health(_display(600), ESTABLISHMENT, WEDNESDAY_10H)
    assert "10 minutes" in health["warning_message"]


def test_heartbeats_are_written_at_most_once_a_minute_per_display(app, world, monkeypatch):
    from kiosk.display import services
    from kiosk.display.models import Display
    from kiosk.extensions import db
    from kiosk.tenancy import tenant_scope

    services._heartbeat_written.clear()
    statements = []
    with app.app_context():
        engine = db.engine
        listener = lambda *args: statements.append(args[2])  # noqa: E731
        sa.event.listen(engine, "before_cursor_execute", listener)
        try:
            ref = services.resolve_token(world.a.display_token)
            for _ in range(5):
                assert services.record_heartbeat(ref.id, ref.establishment_id) is True
            updates = [s for s in statements if "UPDATE DISPLAYS" in s.upper()]
            assert len(updates) == 1
            monkeypatch.setattr(services.time, "monotonic", lambda: 10**9)
            services.record_heartbeat(ref.id, ref.establishment_id)
            updates = [s for s in statements if "UPDATE DISPLAYS" in s.upper()]
            assert len(updates) == 2
        finally:
            sa.event.remove(engine, "before_cursor_execute", listener)
        with tenant_scope(world.a.id):
            assert db.session.execute(sa.select(Display.last_heartbeat)).scalar_one() is not None


def test_a_revoked_display_fails_its_heartbeat(app, world):
    from kiosk.display import services
    from kiosk.tenancy import tenant_scope

    with app.app_context():
        ref = services.resolve_token(world.a.display_token)
        with tenant_scope(world.a.id):
            services.revoke_display(world.a.display_id)
        assert services.resolve_token(world.a.display_token) is None
        assert services.record_heartbeat(ref.id, ref.establishment_id, force=True) is False


def test_a_snapshot_still_builds_when_redis_is_down(app, world, monkeypatch):
    from kiosk.display import services
    from kiosk.extensions import redis_client

    def down(*args, **kwargs):
        raise ConnectionError("redis down")

    monkeypatch.setattr(redis_client.client, "get", down)
    with app.app_context():
        snapshot = services.build_snapshot(world.a.id)
    assert snapshot["seq"] == 0 and snapshot["queues"][0]["next"][0]["code"] == "A-001"
