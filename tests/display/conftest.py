"""Display fixtures: a live server (in-process Werkzeug, or gunicorn, the
display process, or serve.py, the web process, in a subprocess that a test
may kill and restart), and a way to call a ticket
that does exactly what the queue service does after commit (update the row,
publish "ticket" and "called"), so these tests do not depend on the queue
routes.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
import uuid

import pytest
import sqlalchemy as sa
import websocket
from werkzeug.serving import make_server

from tests.conftest import DEVICE_KEY
from tests.fault_services import free_port

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture(scope="session")
def live_server(app):
    """The session app behind a threaded Werkzeug server (the embedded dev server)."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"127.0.0.1:{server.server_port}"
    server.shutdown()


class GunicornServer:
    """``gunicorn -c gunicorn.conf.py`` (gevent, one worker: the display process) on a fixed port."""

    name = "gunicorn"
    command = (".venv/bin/gunicorn", "-c", "gunicorn.conf.py", "tests.display.server_app:app")

    def __init__(self, database_url: str, redis_url: str | None, **settings):
        self.port = free_port()
        self.database_url = database_url
        self.redis_url = redis_url
        self.settings = settings
        self.process: subprocess.Popen | None = None
        self.log_path = os.path.join(ROOT, "test-artifacts", f"{self.name}-{self.port}.log")

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> "GunicornServer":
        env = {**os.environ, "DATABASE_URL": self.database_url, "SECRET_KEY": "test-secret-key-" + "x" * 32,
               "DEVICE_SECRET_KEYS": DEVICE_KEY, "KIOSK_ENV": "test", "WEB_CONCURRENCY": "1",
               "BIND": self.address, "RATELIMIT_ENABLED": "0",
               "KIOSK_TEST_SETTINGS": json.dumps(self.settings)}
        env.pop("REDIS_URL", None)
        if self.redis_url:
            env["REDIS_URL"] = self.redis_url
        os.makedirs(os.path.dirname(self.log_path), exist_ok=True)
        log = open(self.log_path, "ab")
        self.process = subprocess.Popen(
            [os.path.join(ROOT, self.command[0]), *self.command[1:]],
            cwd=ROOT, env=env, stdout=log, stderr=log, start_new_session=True)
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                urllib.request.urlopen(f"http://{self.address}/health", timeout=1)
                return self
            except Exception:  # noqa: BLE001
                if self.process.poll() is not None:
                    raise RuntimeError(f"{self.name} exited; see {self.log_path}")
                time.sleep(0.1)
        raise RuntimeError(f"{self.name} did not start; see {self.log_path}")

    def kill(self) -> None:
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)

    def pause(self) -> None:
        """Freeze the server: its sockets stay open but silent, like a cut link."""
        os.killpg(self.process.pid, signal.SIGSTOP)

    def resume(self) -> None:
        os.killpg(self.process.pid, signal.SIGCONT)

    def worker_pids(self) -> list[int]:
        out = subprocess.run(["pgrep", "-P", str(self.process.pid)], capture_output=True, text=True).stdout
        return [int(p) for p in out.split()]


class WebServer(GunicornServer):
    """``serve.py`` (granian, one worker: the web process) on a fixed port."""

    name = "web"
    command = (".venv/bin/python", "serve.py", "tests.display.server_app:app")


def _servers(kind, database_url, redis_url):
    servers = []

    def start(redis=redis_url, **settings) -> GunicornServer:
        server = kind(database_url, redis, **settings).start()
        servers.append(server)
        return server

    return start, servers


@pytest.fixture
def gunicorn_server(database_url, redis_url):
    start, servers = _servers(GunicornServer, database_url, redis_url)
    yield start
    for server in servers:
        server.kill()


@pytest.fixture
def web_server(database_url, redis_url):
    start, servers = _servers(WebServer, database_url, redis_url)
    yield start
    for server in servers:
        server.kill()


def connect(address: str, token: str, timeout: float = 5) -> websocket.WebSocket:
    return websocket.create_connection(f"ws://{address}/ws/display/{token}", timeout=timeout)


def receive(ws: websocket.WebSocket, skip=("ping",), timeout: float = 5) -> dict:
    """The next message whose type is not in ``skip``."""
    ws.settimeout(timeout)
    while True:
        message = json.loads(ws.recv())
        if message.get("type") not in skip:
            return message


def call_ticket(app, establishment_id: str, ticket_id: str, counter: str) -> dict:
    """Call a ticket as the queue service does: commit, then publish ticket + called."""
    from kiosk.base import utcnow
    from kiosk.events import TicketCalled, TicketChanged, emit
    from kiosk.extensions import db
    from kiosk.queues.models import Ticket
    from kiosk.tenancy import tenant_scope

    with app.app_context(), tenant_scope(establishment_id):
        ticket = db.session.execute(sa.select(Ticket).where(Ticket.id == uuid.UUID(ticket_id))).scalar_one()
        ticket.status, ticket.counter, ticket.called_at = "CALLED", counter, utcnow()
        ticket.call_count += 1
        brief = {"ticket_id": str(ticket.id), "code": ticket.code, "kind": ticket.kind, "counter": counter,
                 "queue_id": str(ticket.queue_id)}
        emit(TicketChanged(establishment_id=establishment_id, status="CALLED", **brief))
        emit(TicketCalled(establishment_id=establishment_id, **brief))
        db.session.commit()
        return brief


def issue(app, establishment_id: str, queue_id: str, kind: str = "STANDARD") -> str:
    from kiosk.events import TicketChanged, emit
    from kiosk.extensions import db
    from kiosk.queues.models import Queue
    from kiosk.queues.services import issue_ticket
    from kiosk.tenancy import tenant_scope

    with app.app_context(), tenant_scope(establishment_id):
        queue = db.session.execute(sa.select(Queue).where(Queue.id == uuid.UUID(queue_id))).scalar_one()
        ticket = issue_ticket(queue, kind, commit=False)
        db.session.flush()
        emit(TicketChanged(establishment_id=establishment_id, ticket_id=str(ticket.id), queue_id=queue_id,
                           code=ticket.code, kind=kind, status="WAITING", counter=None))
        db.session.commit()
        return str(ticket.id)


def publish(app, establishment_id: str, payload: dict) -> None:
    from kiosk.display.bus import publish as publish_event

    with app.app_context():
        publish_event(establishment_id, payload)
