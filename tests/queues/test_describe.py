"""describe_ticket: the one shape every API shows a ticket in."""
from __future__ import annotations

from kiosk.queues import services
from kiosk.queues import presentation
from kiosk.tenancy import tenant_scope

KEYS = {"ticket_id", "code", "kind", "status", "queue_id", "position", "counter", "tracking_url",
        "created_at", "called_at", "served_at", "eta_minutes"}


def test_waiting_ticket_is_described_with_position_eta_and_tracking_url(app, world):
    with app.app_context(), tenant_scope(world.a.id):
        queue = services.get_queue(world.a.queue_id)
        ticket = services.issue_ticket(queue, "VIP")
        body = presentation.describe_ticket(ticket)
    assert set(body) == KEYS
    assert body["code"] == "VA-001" and body["kind"] == "VIP" and body["status"] == "WAITING"
    # VIP goes before the factory's waiting STANDARD ticket.
    assert body["position"] == 1
    assert 0 <= body["eta_minutes"]["min"] < body["eta_minutes"]["max"]
    assert body["tracking_url"] == f"http://localhost/t/{ticket.tracking_token}"
    assert body["called_at"] is None and body["served_at"] is None


def test_called_and_finished_tickets_have_no_pending_eta(app, world):
    with app.app_context(), tenant_scope(world.a.id):
        called = services.call_next(services.get_queue(world.a.queue_id), "3")
        body = presentation.describe_ticket(called)
        assert (body["status"], body["counter"], body["position"]) == ("CALLED", "3", 0)
        assert body["eta_minutes"] == {"min": 0, "max": 0}
        served = services.transition(called.id, "serve")
        body = presentation.describe_ticket(served)
    assert body["status"] == "SERVED" and body["position"] is None and body["eta_minutes"] is None
    assert body["served_at"] is not None


def test_tracking_url_falls_back_to_the_request_host(app, world):
    with app.app_context(), tenant_scope(world.a.id):
        app.config["PUBLIC_BASE_URL"] = ""
        try:
            with app.test_request_context("/", base_url="https://queue.example.org"):
                assert presentation.tracking_url("abc") == "https://queue.example.org/t/abc"
        finally:
            app.config["PUBLIC_BASE_URL"] = "http://localhost"
