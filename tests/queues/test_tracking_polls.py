"""/t/<token>.json from its snapshot (kiosk/queues/tracking.py): the same bytes and ETag, no SQL while nothing
changed, the change from the next poll on (even one racing the poll's own read), each token its own ticket, the
database when Redis is down."""
from __future__ import annotations

import threading

import pytest

from kiosk import cache
from kiosk.extensions import db
from kiosk.queues import tracking
from kiosk.queues.models import Ticket
from kiosk.tenancy import tenant_scope
from tests.helpers import RedisDown, statements_during


@pytest.fixture(autouse=True)
def no_outage():
    cache.reset_outage()
    yield
    cache.reset_outage()


def test_a_poll_with_nothing_changed_sends_no_sql_and_the_same_bytes(app, client, tickets):
    _, token = tickets.issue()
    first = client.get(f"/t/{token}.json")
    answers = []
    statements = statements_during(app, lambda: answers.append(client.get(f"/t/{token}.json")))
    assert statements == []
    assert answers[0].get_data() == first.get_data() and answers[0].headers["ETag"] == first.headers["ETag"]
    # Compact, sorted keys: the body the route always sent.
    assert first.get_data(as_text=True).startswith('{"establishment":{')


def test_the_poll_after_a_change_sees_it(client, tickets):
    ticket_id, token = tickets.issue()
    assert client.get(f"/t/{token}.json").get_json()["ticket"]["status"] == "WAITING"
    tickets.act(ticket_id, "cancel")
    assert client.get(f"/t/{token}.json").get_json()["ticket"]["status"] == "CANCELLED"


def test_a_change_committed_while_a_poll_reads_the_old_state_is_not_hidden_by_its_snapshot(
        app, client, tickets, monkeypatch):
    """Poll reads WAITING -> the ticket is cancelled (generation bumped) -> the poll stores WAITING: it is tagged
    with the generation read before the database, so the next poll does not serve it."""
    ticket_id, token = tickets.issue()
    real_compute = tracking._compute
    raced = []

    def compute_then_change(ident):
        state = real_compute(ident)
        if not raced:
            raced.append(True)
            worker = threading.Thread(target=tickets.act, args=(ticket_id, "cancel"))
            worker.start()
            worker.join()
        return state

    monkeypatch.setattr(tracking, "_compute", compute_then_change)
    assert client.get(f"/t/{token}.json").get_json()["ticket"]["status"] == "WAITING"  # true when read
    assert client.get(f"/t/{token}.json").get_json()["ticket"]["status"] == "CANCELLED"


def test_each_token_answers_its_own_ticket_and_establishment(app, client, world, tickets):
    _, token_a = tickets.issue()
    with app.app_context(), tenant_scope(world.b.id):
        token_b = db.session.get(Ticket, world.b.extra["ticket_id"]).tracking_token
    for _ in range(2):  # computed, then from the snapshots
        a = client.get(f"/t/{token_a}.json").get_json()
        b = client.get(f"/t/{token_b}.json").get_json()
        assert b["ticket"]["ticket_id"] == world.b.extra["ticket_id"] and b["establishment"]["name"] == "Banque B"
        assert a["ticket"]["ticket_id"] != b["ticket"]["ticket_id"] and a["establishment"]["name"] != "Banque B"


def test_redis_down_falls_back_to_the_database(client, tickets, monkeypatch):
    ticket_id, token = tickets.issue()
    client.get(f"/t/{token}.json")

    monkeypatch.setattr(tracking, "redis_client", RedisDown())
    tickets.act(ticket_id, "cancel")  # its invalidation reaches Redis (another client): irrelevant here
    response = client.get(f"/t/{token}.json")
    assert response.status_code == 200 and response.get_json()["ticket"]["status"] == "CANCELLED"
    assert cache.redis_in_outage()
