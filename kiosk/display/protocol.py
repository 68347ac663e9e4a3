"""The display WebSocket, server side (contract: ARCHITECTURE.md section 5).

- server -> snapshot first, then events with increasing ``seq``;
- server -> ``{"type": "ping", "t"}`` every ``DISPLAY_PING_SECONDS`` (15 s);
  client -> ``{"type": "pong", "t"}``; a client silent for a ping interval
  plus ``DISPLAY_PONG_TIMEOUT_SECONDS`` is dropped;
- client -> ``{"type": "resync"}`` (it saw a gap in ``seq``) -> a fresh
  snapshot, then the events after it.

Pongs (and connecting) refresh ``last_heartbeat``, throttled to one write
a minute per process; a revoked display is dropped at that point at the
latest (normally at once, through the event bus).

However a connection ends (silent, revoked, closed by the screen), its socket
is shut down before the handler returns: a frozen TV whose TCP stack still
acknowledges would otherwise keep the socket, its buffers and any flusher
blocked in ``sendall`` (and the close frame's own send) for as long as it likes.
"""
from __future__ import annotations

import json
import logging
import time

from flask import Flask

from kiosk.display import services
from kiosk.display.hub import Client, hub, text_frame
from kiosk.extensions import db

log = logging.getLogger(__name__)

MAX_CLIENT_MESSAGE_BYTES = 4096


def snapshot_for_push(establishment_id: str) -> tuple[str, int]:
    """The snapshot builder the hub uses; gives the connection back at once."""
    try:
        return services.snapshot_json(establishment_id)
    finally:
        db.session.remove()


hub.snapshot_builder = snapshot_for_push


def _send_snapshot(client: Client, ref: services.DisplayRef) -> None:
    client.hold()
    try:
        text, seq = services.snapshot_json(ref.establishment_id)
    finally:
        # A WebSocket lives for hours: never sit on a pooled connection.
        db.session.remove()
    client.release(text_frame(text.encode()), seq)


def _alive(ref: services.DisplayRef) -> bool:
    try:
        return services.record_heartbeat(ref.id, ref.establishment_id)
    finally:
        db.session.remove()


def serve_display(ws, ref: services.DisplayRef, app: Flask) -> None:
    """Run one screen's connection until it closes, goes silent or is revoked."""
    ws.max_message_size = MAX_CLIENT_MESSAGE_BYTES  # a TV only sends pongs and resyncs
    interval = float(app.config.get("DISPLAY_PING_SECONDS", 15))
    grace = float(app.config.get("DISPLAY_PONG_TIMEOUT_SECONDS", 10))
    client = Client(ws, str(ref.establishment_id), str(ref.id))
    hub.attach(client, app)
    reason = "closed"
    try:
        _send_snapshot(client, ref)
        if not _alive(ref):
            reason = "revoked"
            return
        last_heard = time.monotonic()
        next_ping = last_heard + interval
        while client.alive:
            message = ws.receive(timeout=max(0.0, next_ping - time.monotonic()))
            now = time.monotonic()
            if message is not None:
                last_heard = now
                if not _handle(message, client, ref):
                    reason = "revoked"
                    return
            if now >= next_ping:
                if now - last_heard > interval + grace:
                    reason = "silent"
                    return
                ping = {"type": "ping", "t": int(time.time() * 1000)}
                client.send(text_frame(json.dumps(ping).encode()))
                next_ping = now + interval
    finally:
        hub.detach(client)
        client.kill(reason)


def _handle(message, client: Client, ref: services.DisplayRef) -> bool:
    """Act on one client message; False ends the connection."""
    try:
        kind = json.loads(message).get("type")
    except (ValueError, AttributeError):
        return True  # garbage from a client is ignored, not fatal
    if kind == "pong":
        return _alive(ref)
    if kind == "resync":
        _send_snapshot(client, ref)
    return True
