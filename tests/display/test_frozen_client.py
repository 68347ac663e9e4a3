"""A TV whose reader freezes (SIGSTOP) while its TCP stack still acknowledges: the
server must shut its socket down and let go of it, its buffers and its flusher
within the ping timeout, instead of waiting in ``sendall`` for ever."""
from __future__ import annotations

import gc
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time

import psutil
import pytest

from kiosk.display.hub import Client, hub
from tests.display.conftest import publish

pytestmark = pytest.mark.slow

# Long enough to fill the kernel's buffers (several MB on loopback) before the timeout.
PING_SECONDS = 3.0
PONG_TIMEOUT_SECONDS = 3.0
# A TV that answers pings until it is frozen; a tiny receive window so the
# server's send buffer fills fast once it stops reading.
CLIENT = r"""
import json, socket, sys, websocket
ws = websocket.WebSocket()
ws.connect(sys.argv[1], sockopt=[(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)])
first = json.loads(ws.recv())
print("ready", ws.sock.getsockname()[1], first["type"], flush=True)
while True:
    message = json.loads(ws.recv())
    if message.get("type") == "ping":
        ws.send(json.dumps({"type": "pong", "t": message["t"]}))
"""


def _clients_of(display_id: str) -> list:
    gc.collect()
    return [o for o in gc.get_objects() if isinstance(o, Client) and o.display_id == display_id]


def _server_sockets_to(port: int) -> list:
    return [c for c in psutil.Process().net_connections(kind="tcp") if c.raddr and c.raddr.port == port]


def _flushers() -> list:
    return [t for t in threading.enumerate() if t.name == "display-flush" and t.is_alive()]


def _wait(condition, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


def test_a_frozen_display_is_closed_and_freed_within_the_ping_timeout(app, world, live_server, monkeypatch):
    monkeypatch.setitem(app.config, "DISPLAY_PING_SECONDS", PING_SECONDS)
    monkeypatch.setitem(app.config, "DISPLAY_PONG_TIMEOUT_SECONDS", PONG_TIMEOUT_SECONDS)
    url = f"ws://{live_server}/ws/display/{world.a.display_token}"
    tv = subprocess.Popen([sys.executable, "-c", CLIENT, url], stdout=subprocess.PIPE, text=True)
    try:
        ready = tv.stdout.readline().split()
        assert ready[0] == "ready" and ready[2] == "snapshot", ready
        port = int(ready[1])
        assert _wait(lambda: len(hub.clients(world.a.id)) == 1, 5)
        screen = hub.clients(world.a.id)[0]
        # Alive and answering: it survives a few ping rounds.
        time.sleep(1.5 * PING_SECONDS)
        assert screen.alive and _server_sockets_to(port)

        # A small send buffer on the server's side too, so a few events fill the pipe
        # (loopback buffers otherwise grow to megabytes).
        screen.sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
        os.kill(tv.pid, signal.SIGSTOP)
        # Events keep coming: the kernel buffers fill and a flusher ends up blocked in sendall.
        # Small events, stopping as soon as a flusher starts: its backlog stays far below
        # MAX_BACKLOG_BYTES, so only the ping timeout can end this connection.
        padding = "x" * 16_000
        for seq in range(2_000):
            publish(app, world.a.id, {"type": "queue", "queue_id": world.a.queue_id, "waiting": seq,
                                      "padding": padding})
            # One event at a time: the hub keeps up, so the backlog is one event when the flusher starts.
            if _wait(lambda: screen._flushing, 0.02):  # noqa: SLF001 - what the test is about
                break

        assert screen._flushing and screen.alive, "the socket never filled up"
        frozen_at = time.monotonic()
        assert screen._backlog_bytes < 64 * 1024  # far from MAX_BACKLOG_BYTES: not a "slow consumer" drop

        limit = PING_SECONDS + PONG_TIMEOUT_SECONDS + 2.0  # the ping timeout, plus scheduling slack
        assert _wait(lambda: not screen.alive, limit), "a frozen screen was kept"
        assert _wait(lambda: not _server_sockets_to(port), 3), _server_sockets_to(port)
        assert _wait(lambda: not _flushers(), 3), "a flusher is still blocked in sendall"
        assert time.monotonic() - frozen_at < limit + 6
        assert hub.clients(world.a.id) == []
        del screen
        assert _wait(lambda: not _clients_of(world.a.display_id), 3), "the screen's state was not freed"
    finally:
        os.kill(tv.pid, signal.SIGCONT)
        tv.kill()
        tv.wait(10)


def _metric(address: str, name: str) -> float:
    import urllib.request

    text = urllib.request.urlopen(f"http://{address}/metrics", timeout=5).read().decode()
    return sum(float(line.split()[-1]) for line in text.splitlines() if line.startswith(name + " ")
               or line.startswith(name + "{"))


def _worker_sockets_to(server, port: int) -> list:
    found = []
    for pid in server.worker_pids():
        found += [c for c in psutil.Process(pid).net_connections(kind="tcp") if c.raddr and c.raddr.port == port]
    return found


def test_under_gunicorn_a_frozen_display_is_closed_within_the_ping_timeout(app, world, gunicorn_server):
    """The production worker (gevent): the frozen screen's socket leaves the worker."""
    server = gunicorn_server(DISPLAY_PING_SECONDS=PING_SECONDS, DISPLAY_PONG_TIMEOUT_SECONDS=PONG_TIMEOUT_SECONDS,
                             METRICS_ALLOWED_NETWORKS="127.0.0.1/32")
    url = f"ws://{server.address}/ws/display/{world.a.display_token}"
    tv = subprocess.Popen([sys.executable, "-c", CLIENT, url], stdout=subprocess.PIPE, text=True)
    try:
        ready = tv.stdout.readline().split()
        assert ready[0] == "ready", ready
        port = int(ready[1])
        time.sleep(3 * PING_SECONDS)
        assert _worker_sockets_to(server, port) and _metric(server.address, "kiosk_display_connections") == 1
        os.kill(tv.pid, signal.SIGSTOP)
        limit = PING_SECONDS + PONG_TIMEOUT_SECONDS + 3.0
        assert _wait(lambda: not _worker_sockets_to(server, port), limit), _worker_sockets_to(server, port)
        assert _metric(server.address, "kiosk_display_connections") == 0
    finally:
        os.kill(tv.pid, signal.SIGCONT)
        tv.kill()
        tv.wait(10)
