"""state.json's token check from Redis (display/services.resolve_poll_token): no SQL when nothing changed, 404 from
the poll after a revocation (even one racing the poll's own read), each token its own establishment, the database
when Redis is down."""
from __future__ import annotations

import threading
import time
import uuid

import pytest

from kiosk import cache
from kiosk.display import services
from kiosk.extensions import db
from kiosk.tenancy import tenant_scope
from tests.helpers import RedisDown, statements_during
from tests.display.conftest import call_ticket


@pytest.fixture(autouse=True)
def no_outage():
    cache.reset_outage()
    yield
    cache.reset_outage()


def state(client, tenant):
    return client.get(f"/display/{tenant.display_token}/state.json")


def revoke(app, tenant) -> None:
    with app.app_context(), tenant_scope(tenant.id):
        services.revoke_display(tenant.display_id)


def test_a_poll_with_nothing_changed_sends_no_sql(app, client, world):
    first = state(client, world.a)
    assert first.status_code == 200
    answers = []
    statements = statements_during(app, lambda: answers.append(state(client, world.a)))
    assert statements == []
    assert answers[0].status_code == 200 and answers[0].get_json()["seq"] == first.get_json()["seq"]


def test_the_poll_after_a_call_shows_it(app, client, world):
    assert state(client, world.a).get_json()["now_serving"] == []
    call_ticket(app, world.a.id, world.a.extra["ticket_id"], "4")
    assert [s["counter"] for s in state(client, world.a).get_json()["now_serving"]] == ["4"]


def test_the_poll_after_a_revocation_is_404_even_from_another_process(app, client, world):
    assert state(client, world.a).status_code == 200
    assert state(client, world.a).status_code == 200  # the token is in Redis now
    revoke(app, world.a)
    # Another web process has written this display's heartbeat recently: only the tombstone can tell it.
    services._heartbeat_written[uuid.UUID(world.a.display_id)] = time.monotonic()
    response = state(client, world.a)
    assert response.status_code == 404 and response.get_json()["error"]["code"] == "not_found"


def test_a_revocation_racing_the_polls_own_read_is_not_hidden_by_its_entry(app, client, world, monkeypatch):
    """Poll reads the display active -> the revocation commits (tombstone) -> the poll writes its entry:
    the next poll finds the entry, and the tombstone next to the seq."""
    real_resolve = services.resolve_token
    raced = []

    def resolve_then_revoke(token):
        ref = real_resolve(token)
        if not raced:
            raced.append(True)
            worker = threading.Thread(target=revoke, args=(app, world.a))
            worker.start()
            worker.join()
            # As in another web process: its heartbeat was written recently, so only Redis can tell.
            services._heartbeat_written[uuid.UUID(world.a.display_id)] = time.monotonic()
        return ref

    monkeypatch.setattr(services, "resolve_token", resolve_then_revoke)
    assert state(client, world.a).status_code == 200  # it was active when read
    assert state(client, world.a).status_code == 404


def test_each_token_answers_its_own_establishment_only(app, client, world):
    for _ in range(2):
        a, b = state(client, world.a).get_json(), state(client, world.b).get_json()
        assert a["establishment"]["id"] == world.a.id and b["establishment"]["id"] == world.b.id
    with app.app_context():
        from kiosk.extensions import redis_client

        # An entry only ever comes from the token's own row; a token with none is looked up, never guessed.
        assert redis_client.get(f"poll:display:{world.a.display_token}").decode() == (
            f"{world.a.display_id}:{world.a.id}")
    assert client.get("/display/" + "x" * 32 + "/state.json").status_code == 404


def test_redis_down_falls_back_to_the_database(app, client, world, monkeypatch):
    assert state(client, world.a).status_code == 200

    monkeypatch.setattr(services, "redis_client", RedisDown())
    response = state(client, world.a)
    assert response.status_code == 200 and response.get_json()["establishment"]["id"] == world.a.id
    assert cache.redis_in_outage()
    revoke(app, world.a)  # its tombstone is lost; the database still answers
    assert state(client, world.a).status_code == 404
