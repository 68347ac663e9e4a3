"""The queues API as staff use it: queues, tickets, transitions, settings, theme."""
from __future__ import annotations

import json

import pytest
import redis as redis_lib

from tests.factories import PASSWORD


@pytest.fixture
def agent(api, world):
    api.login(world.a.agent_email, PASSWORD)
    return api


@pytest.fixture
def manager(api, world):
    api.login(world.a.manager_email, PASSWORD)
    return api


@pytest.fixture
def events(redis_url, world):
    """Events published on establishment A's channel, as a list that fills itself."""
    client = redis_lib.Redis.from_url(redis_url)
    pubsub = client.pubsub()
    pubsub.subscribe(f"est:{world.a.id}:events")
    assert pubsub.get_message(timeout=2)["type"] == "subscribe"

    class Collected(list):
        def drain(self):
            while True:
                message = pubsub.get_message(timeout=0.2)
                if message is None:
                    return self
                self.append(json.loads(message["data"]))

    yield Collected()
    pubsub.close()


def issue(api, queue_id, kind="STANDARD"):
    response = api.post(f"/api/queues/{queue_id}/tickets", json={"kind": kind})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def call_next(api, queue_id, counter="1"):
    return api.post(f"/api/queues/{queue_id}/call-next", json={"counter": counter})


# --- queues -----------------------------------------------------------------------------

def test_manager_creates_a_queue_and_staff_list_it(manager, world):
    response = manager.post("/api/queues", json={"name": "Radiology", "prefix": "r"})
    assert response.status_code == 201
    body = response.get_json()
    assert body["name"] == "Radiology" and body["prefix"] == "R" and body["active"] is True
    names = [q["name"] for q in manager.get("/api/queues").get_json()["queues"]]
    assert names == ["General", "Pharmacy", "Radiology"]


def test_two_queues_cannot_share_a_prefix(manager, world):
    taken = manager.post("/api/queues", json={"name": "Again", "prefix": "a"})
    assert taken.status_code == 409 and taken.get_json()["error"]["code"] == "prefix_taken"
    assert manager.patch(f"/api/queues/{world.a.other_queue_id}", json={"prefix": "A"}).status_code == 409
    assert manager.patch(f"/api/queues/{world.a.queue_id}", json={"prefix": "A"}).status_code == 200  # its own
    # Another establishment's prefixes do not matter.
    assert manager.post("/api/queues", json={"name": "Radiology", "prefix": "R"}).status_code == 201
    manager.login(world.b.manager_email, PASSWORD)
    assert manager.post("/api/queues", json={"name": "Retail", "prefix": "R"}).status_code == 201


def test_agent_cannot_create_or_configure_a_queue(agent, world):
    assert agent.post("/api/queues", json={"name": "X", "prefix": "X"}).status_code == 403
    assert agent.patch(f"/api/queues/{world.a.queue_id}", json={"active": False}).status_code == 403


@pytest.mark.parametrize("payload", [
    {"name": "X"}, {"prefix": "X"}, {"name": "", "prefix": "X"}, {"name": "X", "prefix": "ABCD"},
    {"name": "X", "prefix": "1"}, {"name": "X", "prefix": "V"}, {"name": "X", "prefix": "X", "extra": 1},
])
def test_bad_queue_input_is_a_validation_error(manager, payload):
    response = manager.post("/api/queues", json=payload)
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "validation_error"


def test_closing_a_queue_stops_issuing_but_not_calling(manager, world):
    issue(manager, world.a.queue_id)
    response = manager.patch(f"/api/queues/{world.a.queue_id}", json={"active": False, "name": "General (closed)"})
    assert response.status_code == 200 and response.get_json()["active"] is False
    refused = manager.post(f"/api/queues/{world.a.queue_id}/tickets", json={"kind": "STANDARD"})
    assert refused.status_code == 409 and refused.get_json()["error"]["code"] == "queue_closed"
    assert call_next(manager, world.a.queue_id).status_code == 200


def test_patch_refuses_non_boolean_active(manager, world):
    assert manager.patch(f"/api/queues/{world.a.queue_id}", json={"active": "yes"}).status_code == 400


def test_queue_detail_lists_the_waiting_tickets_in_calling_order(agent, world, app):
    from kiosk.queues.services import get_queue, issue_ticket
    from kiosk.tenancy import tenant_scope

    second = issue(agent, world.a.queue_id)
    with app.app_context(), tenant_scope(world.a.id):
        vip = issue_ticket(get_queue(world.a.queue_id), "VIP")
        vip_code = vip.code
    body = agent.get(f"/api/queues/{world.a.queue_id}").get_json()
    assert [t["code"] for t in body["waiting"]] == [vip_code, "A-001", second["code"]]
    assert [t["position"] for t in body["waiting"]] == [1, 2, 3]
    assert body["waiting_count"] == 3 and body["called"] == []
    etas = [t["eta_minutes"] for t in body["waiting"]]
    assert etas[0]["min"] <= etas[1]["min"] <= etas[2]["min"]
    assert etas[0]["max"] <= etas[1]["max"] <= etas[2]["max"]


def test_queue_detail_is_fresh_after_a_change(agent, world):
    assert agent.get(f"/api/queues/{world.a.queue_id}").get_json()["waiting_count"] == 1
    issue(agent, world.a.queue_id)
    assert agent.get(f"/api/queues/{world.a.queue_id}").get_json()["waiting_count"] == 2


def test_other_tenants_queue_and_ticket_are_not_found(agent, world):
    for method, path in [("GET", f"/api/queues/{world.b.queue_id}"),
                         ("POST", f"/api/queues/{world.b.queue_id}/call-next"),
                         ("POST", f"/api/queues/{world.b.queue_id}/tickets"),
                         ("GET", f"/api/tickets/{world.b.extra['ticket_id']}"),
                         ("POST", f"/api/tickets/{world.b.extra['ticket_id']}/cancel"),
                         ("GET", "/api/tickets/not-a-uuid")]:
        response = agent.request(method, path, json={"counter": "1"})
        assert response.status_code == 404, (method, path)
        assert response.get_json()["error"]["code"] == "not_found"


def test_staff_routes_need_a_token(client, world):
    assert client.get(f"/api/queues/{world.a.queue_id}").status_code == 401
    assert client.post(f"/api/queues/{world.a.queue_id}/call-next", json={"counter": "1"}).status_code == 401


# --- tickets -----------------------------------------------------------------------------

def test_staff_issue_standard_tickets_only(agent, world):
    ticket = issue(agent, world.a.queue_id)
    assert ticket["code"] == "A-002" and ticket["kind"] == "STANDARD" and ticket["status"] == "WAITING"
    assert ticket["position"] == 2 and ticket["tracking_url"].startswith("http://localhost/t/")
    refused = agent.post(f"/api/queues/{world.a.queue_id}/tickets", json={"kind": "VIP"})
    assert refused.status_code == 400 and "kind" in refused.get_json()["error"]["details"]
    # An empty body means a STANDARD ticket.
    assert agent.post(f"/api/queues/{world.a.queue_id}/tickets").status_code == 201


def test_numbers_are_per_queue(agent, world):
    assert issue(agent, world.a.other_queue_id)["code"] == "P-001"
    assert issue(agent, world.a.queue_id)["code"] == "A-002"


def test_call_next_calls_then_answers_204_when_nobody_waits(agent, world):
    response = call_next(agent, world.a.queue_id, 4)
    assert response.status_code == 200
    body = response.get_json()
    assert (body["code"], body["status"], body["counter"], body["position"]) == ("A-001", "CALLED", "4", 0)
    assert body["called_at"] is not None
    empty = call_next(agent, world.a.queue_id)
    assert empty.status_code == 204 and empty.get_data() == b""


@pytest.mark.parametrize("payload", [{}, {"counter": ""}, {"counter": True}, {"counter": "x" * 33},
                                     {"counter": ["1"]}, {"counter": "1", "queue": "x"}])
def test_call_next_needs_a_counter(agent, world, payload):
    response = agent.post(f"/api/queues/{world.a.queue_id}/call-next", json=payload)
    assert response.status_code == 400 and response.get_json()["error"]["code"] == "validation_error"


def test_full_ticket_life_and_invalid_transitions(agent, world):
    ticket_id = world.a.extra["ticket_id"]
    for action in ("recall", "serve", "no-show"):
        refused = agent.post(f"/api/tickets/{ticket_id}/{action}")
        assert refused.status_code == 409
        assert refused.get_json()["error"]["code"] == "invalid_transition"
        assert refused.get_json()["error"]["details"]["status"] == "WAITING"
    assert call_next(agent, world.a.queue_id).get_json()["ticket_id"] == ticket_id
    recalled = agent.post(f"/api/tickets/{ticket_id}/recall")
    assert recalled.status_code == 200 and recalled.get_json()["status"] == "CALLED"
    served = agent.post(f"/api/tickets/{ticket_id}/serve")
    assert served.status_code == 200 and served.get_json()["status"] == "SERVED"
    for action in ("recall", "serve", "no-show", "cancel"):
        assert agent.post(f"/api/tickets/{ticket_id}/{action}").status_code == 409
    assert agent.get(f"/api/tickets/{ticket_id}").get_json()["status"] == "SERVED"


def test_no_show_and_cancel(agent, world):
    waiting = issue(agent, world.a.queue_id)
    cancelled = agent.post(f"/api/tickets/{waiting['ticket_id']}/cancel")
    assert cancelled.status_code == 200 and cancelled.get_json()["status"] == "CANCELLED"
    called = call_next(agent, world.a.queue_id).get_json()
    no_show = agent.post(f"/api/tickets/{called['ticket_id']}/no-show")
    assert no_show.status_code == 200 and no_show.get_json()["status"] == "NO_SHOW"
    assert call_next(agent, world.a.queue_id).status_code == 204


def test_every_change_publishes_the_documented_events(agent, world, events):
    ticket = issue(agent, world.a.queue_id)
    kinds = [e["type"] for e in events.drain()]
    assert kinds == ["ticket", "queue"]
    call_next(agent, world.a.queue_id, "2")
    published = events.drain()[2:]
    assert [e["type"] for e in published] == ["ticket", "called", "queue"]
    called = published[1]["ticket"]
    assert called["code"] == "A-001" and called["counter"] == "2" and called["kind"] == "STANDARD"
    assert published[2] == {**published[2], "queue_id": world.a.queue_id, "waiting": 1}
    agent.post(f"/api/tickets/{ticket['ticket_id']}/cancel")
    last = events.drain()[5:]
    assert [e["type"] for e in last] == ["ticket", "queue"]
    assert last[0]["status"] == "CANCELLED" and last[1]["waiting"] == 0
    seqs = [e["seq"] for e in events]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)


def test_a_refused_transition_publishes_nothing(agent, world, events):
    agent.post(f"/api/tickets/{world.a.extra['ticket_id']}/serve")
    assert events.drain() == []


# --- settings and theme ------------------------------------------------------------------

def test_calling_settings_read_by_staff_changed_by_managers(api, world):
    api.login(world.a.agent_email, PASSWORD)
    assert api.get("/api/settings/calling").get_json() == {"vip_streak_max": 3, "max_standard_wait_min": 45}
    assert api.patch("/api/settings/calling", json={"vip_streak_max": 1}).status_code == 403
    api.login(world.a.manager_email, PASSWORD)
    assert api.patch("/api/settings/calling", json={"vip_streak_max": 1}).get_json() == \
        {"vip_streak_max": 1, "max_standard_wait_min": 45}
    assert api.put("/api/settings/calling", json={"vip_streak_max": 2}).status_code == 400  # PUT needs both
    assert api.put("/api/settings/calling", json={"vip_streak_max": 2, "max_standard_wait_min": 30}).get_json() \
        == {"vip_streak_max": 2, "max_standard_wait_min": 30}
    for bad in ({"vip_streak_max": -1}, {"vip_streak_max": "2"}, {"max_standard_wait_min": 0},
                {"max_standard_wait_min": 2.5}):
        assert api.patch("/api/settings/calling", json=bad).status_code == 400, bad


def test_settings_apply_to_the_calling_order(manager, world, app):
    from kiosk.queues.services import get_queue, issue_ticket
    from kiosk.tenancy import tenant_scope

    with app.app_context(), tenant_scope(world.a.id):
        issue_ticket(get_queue(world.a.queue_id), "VIP")
    assert manager.get(f"/api/queues/{world.a.queue_id}").get_json()["waiting"][0]["kind"] == "VIP"
    manager.patch("/api/settings/calling", json={"vip_streak_max": 0})
    assert manager.get(f"/api/queues/{world.a.queue_id}").get_json()["waiting"][0]["kind"] == "STANDARD"


def test_theme_defaults_then_a_manager_sets_it(manager, world, events):
    theme = manager.get("/api/theme").get_json()
    assert theme["primary"] == "#0b3d91" and theme["sound"] == "chime" and theme["text"]["primary"] == "#ffffff"
    new = {"primary": "#1D4ED8", "accent": "#fc0", "vip": "#6b21a8", "logo_url": "https://example.org/logo.png",
           "sound": "soft"}
    response = manager.put("/api/theme", json=new)
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert (body["primary"], body["accent"], body["vip"], body["sound"]) == ("#1d4ed8", "#ffcc00", "#6b21a8", "soft")
    assert body["version"] != theme["version"]
    assert manager.get("/api/theme").get_json() == body
    published = [e for e in events.drain() if e["type"] == "theme"]
    assert published and published[0]["theme"]["primary"] == "#1d4ed8"


@pytest.mark.parametrize(("field", "value"), [
    ("primary", "blue"), ("primary", "#12345"), ("accent", "#ggg000"),
    ("primary", "#ffdd00"),  # white text on yellow: unreadable
    ("vip", "#ff6b6b"),      # white text on light red: 2.8:1
    ("accent", "#333333"),   # dark text on dark grey
    ("logo_url", "http://example.org/logo.png"), ("logo_url", "javascript:alert(1)"),
    ("sound", "trumpet"),
])
def test_theme_validation(manager, field, value):
    theme = {"primary": "#0b3d91", "accent": "#ffb400", "vip": "#c8102e", "logo_url": None, "sound": "chime"}
    response = manager.put("/api/theme", json={**theme, field: value})
    assert response.status_code == 400
    assert field in response.get_json()["error"]["details"]


def test_low_contrast_message_gives_the_ratio(manager):
    response = manager.put("/api/theme", json={"primary": "#ffdd00", "accent": "#ffb400", "vip": "#c8102e"})
    message = response.get_json()["error"]["details"]["primary"][0]
    assert "1.3" in message and "4.5" in message


def test_agents_read_but_cannot_change_the_theme(agent):
    assert agent.get("/api/theme").status_code == 200
    assert agent.put("/api/theme", json={"primary": "#000000", "accent": "#ffffff", "vip": "#000000"}).status_code \
        == 403
