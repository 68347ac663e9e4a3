"""Queue fixtures: a live server for the browser tests, and ticket helpers."""
from __future__ import annotations

import threading

import pytest
from werkzeug.serving import make_server

from kiosk.extensions import db
from kiosk.queues import services
from kiosk.queues import presentation
from kiosk.establishments import services as establishment_services
from kiosk.queues.models import Ticket
from kiosk.tenancy import tenant_scope


@pytest.fixture(scope="module")
def browser():
    """Debian's chromium (never a downloaded one), one per test module."""
    from playwright.sync_api import sync_playwright

    from tests.queues.browser import CHROMIUM_ARGS

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="session")
def queues_live_server(app):
    """The session app behind a threaded Werkzeug server; yields its base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(5)


@pytest.fixture
def public_base(app, queues_live_server):
    """Tracking URLs (and QR codes) point at the live server during the test."""
    previous = app.config["PUBLIC_BASE_URL"]
    app.config["PUBLIC_BASE_URL"] = queues_live_server
    yield queues_live_server
    app.config["PUBLIC_BASE_URL"] = previous


@pytest.fixture
def tickets(app, world):
    """Act on establishment A's tickets like staff and kiosks do."""

    class Tickets:
        def token(self, ticket_id: str) -> str:
            with app.app_context(), tenant_scope(world.a.id):
                return db.session.get(Ticket, ticket_id).tracking_token

        def issue(self, kind: str = "STANDARD", paid: bool = False) -> tuple[str, str]:
            """A new ticket in A's main queue: (ticket_id, tracking token)."""
            import uuid

            from kiosk.payments.models import Transaction

            with app.app_context(), tenant_scope(world.a.id):
                transaction_id = None
                if paid:
                    transaction_id = uuid.uuid4()
                    db.session.add(Transaction(transaction_id=transaction_id, device_id=world.a.device_id,
                                               amount=500, currency="XOF", status="CONFIRMED",
                                               payload_hash="0" * 64))
                    db.session.flush()
                ticket = services.issue_ticket(services.get_queue(world.a.queue_id), kind,
                                               transaction_id=transaction_id)
                return str(ticket.id), ticket.tracking_token

        def call_next(self, counter: str = "1") -> dict:
            with app.app_context(), tenant_scope(world.a.id):
                ticket = services.call_next(services.get_queue(world.a.queue_id), counter)
                return presentation.describe_ticket(ticket)

        def act(self, ticket_id: str, action: str) -> None:
            with app.app_context(), tenant_scope(world.a.id):
                services.transition(ticket_id, action)

        def theme(self, **values) -> dict:
            base = {"primary": "#0b3d91", "accent": "#ffb400", "vip": "#c8102e", "logo_url": None,
                    "sound": "chime"}
            with app.app_context(), tenant_scope(world.a.id):
                return establishment_services.update_theme({**base, **values})

    return Tickets()
